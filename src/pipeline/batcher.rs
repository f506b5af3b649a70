//! Cutting requests out of an output's queue by its limits: at most `max_records` records
//! and about `max_bytes` estimated bytes, sent once either is reached or the oldest record
//! has waited `max_age`. Batches larger than a request are split without copying records.

use crate::batch::Slice;
use crate::config::{ByteSize, HumanDuration};
use serde::Deserialize;
use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;

/// `[outputs.NAME.batch]`: how an output groups records into requests.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BatchSettings {
    /// Most records in one request.
    pub max_records: usize,
    /// Most estimated bytes in one request (a single larger record is still sent alone).
    pub max_bytes: ByteSize,
    /// Longest a record waits for its request to fill up.
    pub max_age: HumanDuration,
}

impl Default for BatchSettings {
    fn default() -> Self {
        BatchSettings {
            max_records: 2_000,
            max_bytes: ByteSize(1 << 20),
            max_age: HumanDuration(Duration::from_secs(1)),
        }
    }
}

/// Slices waiting in an output's queue, each stamped with when it entered.
#[derive(Debug, Default)]
pub(crate) struct Queue {
    entries: VecDeque<(Instant, Slice)>,
    records: usize,
    bytes: usize,
}

impl Queue {
    pub(crate) fn push(&mut self, slice: Slice, now: Instant) {
        self.records += slice.len();
        self.bytes += slice.bytes();
        self.entries.push_back((now, slice));
    }

    pub(crate) fn records(&self) -> usize {
        self.records
    }

    /// When the oldest entry must go out, if there is one.
    pub(crate) fn deadline(&self, settings: &BatchSettings) -> Option<Instant> {
        self.entries.front().map(|(at, _)| *at + settings.max_age.0)
    }

    /// True when a full request is waiting.
    pub(crate) fn full(&self, settings: &BatchSettings) -> bool {
        self.records >= settings.max_records || self.bytes >= settings.max_bytes.0 as usize
    }

    /// Takes the next request's slices from the front, splitting one if needed.
    pub(crate) fn cut(&mut self, settings: &BatchSettings) -> Vec<Slice> {
        let max_records = settings.max_records.max(1);
        let max_bytes = (settings.max_bytes.0 as usize).max(1);
        let (mut records, mut bytes) = (0usize, 0usize);
        let mut out = Vec::new();
        while let Some((_, slice)) = self.entries.front_mut() {
            let room_records = max_records - records;
            let room_bytes = max_bytes.saturating_sub(bytes);
            let (len, size) = (slice.len(), slice.bytes());
            if len <= room_records && size <= room_bytes {
                let (_, slice) = self.entries.pop_front().expect("front exists");
                records += len;
                bytes += size;
                out.push(slice);
                continue;
            }
            // Take the part that fits: by records, and pro rata by bytes.
            let by_bytes = (room_bytes * len).checked_div(size).unwrap_or(len);
            let mut take = room_records.min(by_bytes);
            if out.is_empty() {
                take = take.max(1); // always make progress
            }
            if take == 0 {
                break;
            }
            if take >= len {
                let (_, slice) = self.entries.pop_front().expect("front exists");
                records += len;
                bytes += size;
                out.push(slice);
            } else {
                let front = slice.split_front(take);
                records += front.len();
                bytes += front.bytes();
                out.push(front);
            }
            break;
        }
        self.records -= records;
        self.bytes = self.bytes.saturating_sub(bytes);
        if self.entries.is_empty() {
            self.bytes = 0;
        }
        out
    }

    /// Takes everything (shutdown).
    pub(crate) fn take_all(&mut self) -> Vec<Slice> {
        self.records = 0;
        self.bytes = 0;
        self.entries.drain(..).map(|(_, s)| s).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::Batch;
    use crate::record::{LogRecord, Str};
    use std::sync::Arc;

    fn slice(n: usize, bytes_each: usize) -> Slice {
        let body = Str::from("x".repeat(bytes_each.saturating_sub(64)));
        let mut batch = Batch::new(vec![LogRecord::new(body.into(), 1); n]);
        batch.bytes = batch.records.iter().map(LogRecord::estimated_bytes).sum();
        Slice::whole(Arc::new(batch), None)
    }

    fn settings(max_records: usize, max_bytes: u64) -> BatchSettings {
        BatchSettings {
            max_records,
            max_bytes: ByteSize(max_bytes),
            ..BatchSettings::default()
        }
    }

    #[test]
    fn cuts_by_max_records_splitting_batches() {
        let mut q = Queue::default();
        let now = Instant::now();
        q.push(slice(7, 100), now);
        q.push(slice(5, 100), now);
        let s = settings(5, 1 << 30);
        assert!(q.full(&s));
        let sizes: Vec<Vec<usize>> = (0..3)
            .map(|_| q.cut(&s).iter().map(Slice::len).collect())
            .collect();
        assert_eq!(sizes, vec![vec![5], vec![2, 3], vec![2]]);
        assert_eq!(q.records(), 0);
        assert!(q.cut(&s).is_empty());
    }

    #[test]
    fn cuts_by_max_bytes_and_always_makes_progress() {
        let mut q = Queue::default();
        let now = Instant::now();
        q.push(slice(10, 200), now);
        let s = settings(1000, 1000);
        assert!(q.full(&s));
        assert_eq!(q.cut(&s).iter().map(Slice::len).sum::<usize>(), 5);
        // One record bigger than max_bytes still goes out alone.
        let mut q = Queue::default();
        q.push(slice(2, 5000), now);
        assert_eq!(q.cut(&s).iter().map(Slice::len).sum::<usize>(), 1);
        assert_eq!(q.cut(&s).iter().map(Slice::len).sum::<usize>(), 1);
    }

    #[test]
    fn deadline_follows_the_oldest_entry() {
        let mut q = Queue::default();
        let s = settings(10, 1 << 20);
        assert_eq!(q.deadline(&s), None);
        let t0 = Instant::now();
        q.push(slice(1, 100), t0);
        q.push(slice(1, 100), t0 + Duration::from_millis(500));
        assert_eq!(q.deadline(&s), Some(t0 + s.max_age.0));
        assert!(!q.full(&s));
    }
}
