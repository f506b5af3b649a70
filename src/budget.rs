//! `memory_limit`: one budget of estimated record bytes shared by every output's memory
//! buffer (and every disk buffer's read-ahead). When it is spent, buffers stop taking
//! batches, so each input's own back-pressure applies (reads pause, HTTP 429, gRPC
//! `RESOURCE_EXHAUSTED`, Beats ACKs withheld, tailing pauses, UDP drops counted). Request
//! bodies that HTTP inputs are reading and decoding draw on it too, until their records are
//! handed to the pipeline.

use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// The process-wide memory budget.
#[derive(Debug)]
pub struct MemoryBudget {
    limit: usize,
    used: Mutex<usize>,
    /// Wakes producers of every buffer when room is given back anywhere.
    pub(crate) freed: Notify,
}

impl MemoryBudget {
    /// A budget of `limit` estimated bytes.
    pub fn new(limit: usize) -> Self {
        MemoryBudget {
            limit,
            used: Mutex::new(0),
            freed: Notify::new(),
        }
    }

    /// What `records` records of `bytes` estimated bytes cost against the budget: their
    /// encoded-size estimate plus the record structs themselves, which the estimate leaves
    /// out.
    pub fn charge(records: usize, bytes: usize) -> usize {
        bytes + records * std::mem::size_of::<crate::record::LogRecord>()
    }

    /// Takes `bytes` if they fit (anything fits while nothing is held, so one batch larger
    /// than the limit cannot wedge the process).
    pub(crate) fn try_take(&self, bytes: usize) -> bool {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        if *used == 0 || *used + bytes <= self.limit {
            *used += bytes;
            true
        } else {
            false
        }
    }

    /// Gives `bytes` back.
    pub(crate) fn give_back(&self, bytes: usize) {
        {
            let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
            *used = used.saturating_sub(bytes);
        }
        self.freed.notify_waiters();
    }

    /// True when less than a tenth of the limit is left.
    pub fn is_spent(&self) -> bool {
        self.used() + self.limit / 10 >= self.limit
    }

    /// Estimated bytes held now.
    pub fn used(&self) -> usize {
        *self.used.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The limit.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Takes `bytes` for as long as the returned guard lives, if they fit.
    pub fn hold(self: &Arc<Self>, bytes: usize) -> Option<Held> {
        self.try_take(bytes).then(|| Held {
            budget: Some(Arc::clone(self)),
            bytes,
        })
    }
}

/// Bytes taken from a budget (or from none), given back when dropped.
#[derive(Debug, Default)]
pub struct Held {
    budget: Option<Arc<MemoryBudget>>,
    bytes: usize,
}

impl Held {
    /// Adds `other`'s bytes to this hold.
    pub fn join(&mut self, mut other: Held) {
        if self.budget.is_none() {
            self.budget = other.budget.take();
        } else if other.budget.take().is_none() {
            return;
        }
        self.bytes += std::mem::take(&mut other.bytes);
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(budget) = &self.budget {
            budget.give_back(self.bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hold_gives_its_bytes_back_when_dropped() {
        let budget = Arc::new(MemoryBudget::new(1000));
        let mut held = budget.hold(600).expect("fits");
        assert!(budget.hold(600).is_none(), "over the limit");
        held.join(budget.hold(300).expect("fits"));
        assert_eq!(budget.used(), 900);
        held.join(Held::default());
        drop(held);
        assert_eq!(budget.used(), 0);
    }
}
