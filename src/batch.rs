//! Records travel in batches, never one by one: channel, lock and allocation costs are paid
//! per batch. An input fills a [`Batch`] and hands it to its [`BatchSender`], which applies
//! back-pressure and does the counting. Outputs see the records of a request as
//! [`Records`]: slices of shared batches, so fan-out and request cutting copy no records.

use crate::ack::AckToken;
use crate::budget::MemoryBudget;
use crate::ledger::{InputId, Ledger};
use crate::record::LogRecord;
use crate::recycle::Recycler;
use std::ops::Range;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// A group of records from one input, with an optional acknowledgement.
#[derive(Debug)]
pub struct Batch {
    pub records: Vec<LogRecord>,
    /// Resolved once every output the batch was routed to has settled it.
    pub ack: Option<AckToken>,
    pub(crate) input: InputId,
    pub(crate) input_name: Arc<str>,
    pub(crate) bytes: usize,
    pub(crate) received_at: Instant,
    /// Where the records are freed once the batch is spent (see `recycle`).
    pub(crate) home: Option<Arc<Recycler>>,
}

impl Drop for Batch {
    fn drop(&mut self) {
        if let Some(home) = self.home.take()
            && !self.records.is_empty()
        {
            // Declined: freed here, as any batch would be.
            drop(home.give(std::mem::take(&mut self.records), self.bytes));
        }
    }
}

impl Batch {
    /// A batch of records without an acknowledgement.
    pub fn new(records: Vec<LogRecord>) -> Self {
        Batch {
            records,
            ack: None,
            input: 0,
            input_name: Arc::from(""),
            bytes: 0,
            received_at: Instant::now(),
            home: None,
        }
    }

    /// Attaches an acknowledgement token (see [`AckToken::new`]).
    pub fn with_ack(mut self, ack: AckToken) -> Self {
        self.ack = Some(ack);
        self
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when there are no records.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Name of the input that produced the batch.
    pub fn input_name(&self) -> &str {
        &self.input_name
    }
}

/// Why a batch could not be handed to the pipeline.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The pipeline is shutting down; the records were counted as dropped.
    #[error("the pipeline is shutting down")]
    Closed,
    /// `try_send` found the input's queue full; the records were counted as dropped.
    #[error("the input queue is full")]
    Full,
}

/// What [`BatchSender::offer`] did with a batch.
#[derive(Debug)]
pub enum Offer {
    Sent,
    /// No room now: the batch, not yet counted.
    Full(Batch),
    /// The pipeline is shutting down; the records were counted as dropped.
    Closed,
}

/// An input's handle into the pipeline. Clone it for a connection or task that sends on its
/// own: each clone frees its own spent batches when it sends (see `recycle`), so a clone
/// costs a small allocation and a registration.
pub struct BatchSender {
    tx: mpsc::Sender<Batch>,
    input: InputId,
    name: Arc<str>,
    ledger: Arc<Ledger>,
    budget: Option<Arc<MemoryBudget>>,
    home: Arc<Recycler>,
}

impl Clone for BatchSender {
    fn clone(&self) -> Self {
        BatchSender {
            tx: self.tx.clone(),
            input: self.input,
            name: Arc::clone(&self.name),
            ledger: Arc::clone(&self.ledger),
            budget: self.budget.clone(),
            home: Recycler::new(),
        }
    }
}

impl BatchSender {
    pub(crate) fn new(
        tx: mpsc::Sender<Batch>,
        input: InputId,
        name: Arc<str>,
        ledger: Arc<Ledger>,
        budget: Option<Arc<MemoryBudget>>,
    ) -> Self {
        BatchSender {
            tx,
            input,
            name,
            ledger,
            budget,
            home: Recycler::new(),
        }
    }

    /// True when the process-wide `memory_limit` is what keeps the pipeline full, so an
    /// input can say so in its protocol's words (gRPC `RESOURCE_EXHAUSTED`, HTTP 429).
    pub fn over_memory_limit(&self) -> bool {
        self.budget.as_ref().is_some_and(|b| b.is_spent())
    }

    /// Takes `bytes` of the memory budget for data an input holds before it becomes
    /// records (a request body being decoded); `None` when they do not fit.
    pub fn hold_memory(&self, bytes: usize) -> Option<crate::budget::Held> {
        match &self.budget {
            Some(budget) => budget.hold(bytes),
            None => Some(crate::budget::Held::default()),
        }
    }

    /// Sends a batch, waiting while the pipeline is full (back-pressure).
    pub async fn send(&self, batch: Batch) -> Result<(), SendError> {
        if batch.is_empty() {
            return Ok(());
        }
        let batch = self.stamp(batch);
        self.ledger.received(self.input, batch.len() as u64);
        self.tx
            .send(batch)
            .await
            .map_err(|mpsc::error::SendError(batch)| {
                self.drop_batch(batch, "shutdown");
                SendError::Closed
            })
    }

    /// Sends a batch if the pipeline has room now; otherwise the records are counted as
    /// dropped (for inputs that cannot push back, like UDP).
    pub fn try_send(&self, batch: Batch) -> Result<(), SendError> {
        if batch.is_empty() {
            return Ok(());
        }
        let batch = self.stamp(batch);
        self.ledger.received(self.input, batch.len() as u64);
        self.tx.try_send(batch).map_err(|e| match e {
            mpsc::error::TrySendError::Full(batch) => {
                self.drop_batch(batch, "input_queue_full");
                SendError::Full
            }
            mpsc::error::TrySendError::Closed(batch) => {
                self.drop_batch(batch, "shutdown");
                SendError::Closed
            }
        })
    }

    /// Sends a batch if the pipeline has room now, handing it back untouched (and
    /// uncounted) if not, so an input that cannot wait can hold it a little longer.
    pub fn offer(&self, batch: Batch) -> Offer {
        if batch.is_empty() {
            return Offer::Sent;
        }
        match self.tx.try_reserve() {
            Ok(permit) => {
                let batch = self.stamp(batch);
                // Counted before it can reach the router, which may settle it at once.
                self.ledger.received(self.input, batch.len() as u64);
                permit.send(batch);
                Offer::Sent
            }
            Err(mpsc::error::TrySendError::Full(())) => Offer::Full(batch),
            Err(mpsc::error::TrySendError::Closed(())) => {
                let _ = self.try_send(batch);
                Offer::Closed
            }
        }
    }

    /// Sends a batch, waiting at most `wait` for room; hands it back untouched (and
    /// uncounted) if none came, so an input can tell its sender to retry later.
    pub async fn send_within(&self, batch: Batch, wait: std::time::Duration) -> Offer {
        if batch.is_empty() {
            return Offer::Sent;
        }
        match tokio::time::timeout(wait, self.tx.reserve()).await {
            Ok(Ok(permit)) => {
                let batch = self.stamp(batch);
                self.ledger.received(self.input, batch.len() as u64);
                permit.send(batch);
                Offer::Sent
            }
            Ok(Err(_closed)) => {
                let _ = self.try_send(batch);
                Offer::Closed
            }
            Err(_elapsed) => Offer::Full(batch),
        }
    }

    fn stamp(&self, mut batch: Batch) -> Batch {
        // Once per batch sent, on the sending thread: free what came back.
        self.home.free_spent();
        batch.home = Some(Arc::clone(&self.home));
        batch.input = self.input;
        batch.input_name = Arc::clone(&self.name);
        batch.bytes = batch.records.iter().map(LogRecord::estimated_bytes).sum();
        batch
    }

    fn drop_batch(&self, mut batch: Batch, reason: &'static str) {
        // Already on the sending thread: freed here, not sent home.
        batch.home = None;
        self.ledger
            .dropped_at_input(self.input, batch.len() as u64, reason);
        if let Some(ack) = batch.ack.take() {
            let n = batch.records.len() as u64;
            if reason == "shutdown" {
                ack.abandoned(n, "the pipeline is shutting down");
            } else {
                ack.rejected(n, reason);
            }
        }
    }
}

/// A run of records of one shared batch, with its holder's share of the acknowledgement.
#[derive(Debug)]
pub struct Slice {
    pub(crate) batch: Arc<Batch>,
    pub(crate) range: Range<usize>,
    pub(crate) ack: Option<AckToken>,
}

impl Slice {
    pub(crate) fn whole(batch: Arc<Batch>, ack: Option<AckToken>) -> Self {
        let range = 0..batch.len();
        Slice { batch, range, ack }
    }

    /// The records of this slice.
    pub fn records(&self) -> &[LogRecord] {
        &self.batch.records[self.range.clone()]
    }

    pub(crate) fn len(&self) -> usize {
        self.range.len()
    }

    /// Estimated bytes, pro rata of the batch's estimate. Computed from the range ends so
    /// that the parts of a split slice add up exactly to the whole.
    pub(crate) fn bytes(&self) -> usize {
        let total = self.batch.len().max(1);
        let upto = |i: usize| self.batch.bytes * i / total;
        upto(self.range.end) - upto(self.range.start)
    }

    /// Splits off the first `n` records as a new slice with its own acknowledgement share.
    pub(crate) fn split_front(&mut self, n: usize) -> Slice {
        debug_assert!(n < self.len());
        let at = self.range.start + n;
        let front = Slice {
            batch: Arc::clone(&self.batch),
            range: self.range.start..at,
            ack: self.ack.clone(),
        };
        self.range.start = at;
        front
    }
}

/// The records of one output request: slices of shared batches, in arrival order.
#[derive(Clone, Copy)]
pub struct Records<'a> {
    slices: &'a [Slice],
}

impl<'a> Records<'a> {
    pub(crate) fn new(slices: &'a [Slice]) -> Self {
        Records { slices }
    }

    /// Every record, in order.
    pub fn iter(&self) -> impl Iterator<Item = &'a LogRecord> + 'a {
        self.slices.iter().flat_map(Slice::records)
    }

    /// Runs of records with the name of the input each came from, in order.
    pub fn runs(&self) -> impl Iterator<Item = (&'a str, &'a [LogRecord])> + 'a {
        self.slices
            .iter()
            .map(|s| (s.batch.input_name(), s.records()))
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.slices.iter().map(Slice::len).sum()
    }

    /// True when there are no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Records held outside a pipeline, for exercising an output's `encode` in tests and
/// benchmarks: one slice per batch, each with the name of the input it pretends to come from.
pub struct OwnedRecords {
    slices: Vec<Slice>,
}

impl OwnedRecords {
    pub fn new<'a>(batches: impl IntoIterator<Item = (&'a str, Vec<LogRecord>)>) -> Self {
        let slices = batches
            .into_iter()
            .map(|(input, records)| {
                let mut batch = Batch::new(records);
                batch.input_name = Arc::from(input);
                Slice::whole(Arc::new(batch), None)
            })
            .collect();
        OwnedRecords { slices }
    }

    /// The records, as an output's `encode` sees them.
    pub fn records(&self) -> Records<'_> {
        Records::new(&self.slices)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Resource;

    #[tokio::test]
    async fn spent_batches_are_freed_by_the_sender_that_sent_them() {
        let ledger = Arc::new(Ledger::new(&["in".to_string()], &[], &[]));
        let (tx, mut rx) = mpsc::channel(4);
        let sender = BatchSender::new(tx, 0, Arc::from("in"), ledger, None);
        let resource = Arc::new(Resource::default());
        let record = LogRecord {
            resource: Arc::clone(&resource),
            ..LogRecord::default()
        };
        sender.send(Batch::new(vec![record; 3])).await.unwrap();
        let spent = Arc::new(rx.recv().await.unwrap());
        let (a, b) = (Arc::clone(&spent), spent);
        drop(a);
        assert_eq!(sender.home.waiting(), 0, "still held by another output");
        drop(b);
        // The records wait for their sender, which frees them when it sends next.
        assert_eq!(sender.home.waiting(), 1);
        assert_eq!(Arc::strong_count(&resource), 4, "the records still exist");
        sender
            .send(Batch::new(vec![LogRecord::default()]))
            .await
            .unwrap();
        assert_eq!(sender.home.waiting(), 0);
        assert_eq!(
            Arc::strong_count(&resource),
            1,
            "the spent records were freed"
        );
        // A clone (another connection) frees its own.
        let clone = sender.clone();
        assert!(!Arc::ptr_eq(&clone.home, &sender.home));
    }
}
