//! Spent batches go home: when every output has finished with a batch, its records are
//! handed back to the `BatchSender` that sent it and freed by the next send through it
//! (inputs that share one sender across connections share its recycler too).
//!
//! Why: records are allocated on the input's thread and were freed on the output's. mimalloc
//! (like most allocators) keeps memory freed by another thread on the page owner's side until
//! the owner collects it, so the owner kept taking fresh pages meanwhile. Freed where they
//! were made, their memory is reused at once.
//!
//! An input that goes quiet does not send again soon: a sweeper thread frees what has waited
//! 1–1.5 s wherever it is, so a burst's records are not kept for good. What waits is bounded
//! per sender and for the whole process (it is no longer counted by `memory_limit`).

use crate::budget::MemoryBudget;
use crate::record::LogRecord;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

/// Records waiting at most, and their estimated bytes. One output request settles many input
/// batches at once (a file request of 2000 records is 8 syslog batches), so this holds a
/// couple of requests' worth of small records; beyond it (an input slower to send than its
/// outputs are to finish, or big records: a Beats connection held 4096 ECS records, 8 MB)
/// records are freed where they are, as before.
const MAX_WAITING: usize = 4096;
const MAX_WAITING_BYTES: usize = 2 << 20;
/// What all senders together may keep waiting, in `MemoryBudget::charge` units (record
/// structs included): a thousand quiet connections must not hold a burst each.
const MAX_WAITING_TOTAL: usize = 16 << 20;

/// The charge of everything waiting, process-wide.
static WAITING_TOTAL: AtomicUsize = AtomicUsize::new(0);

/// The records of spent batches, waiting to be freed by their input.
#[derive(Debug, Default)]
pub(crate) struct Recycler {
    spent: Mutex<Spent>,
}

#[derive(Debug, Default)]
struct Spent {
    batches: Vec<Vec<LogRecord>>,
    records: usize,
    bytes: usize,
    /// Its share of `WAITING_TOTAL`, given back when it is freed.
    charge: usize,
    /// When the oldest waiting batch came back.
    since: Option<Instant>,
}

impl Drop for Spent {
    fn drop(&mut self) {
        WAITING_TOTAL.fetch_sub(self.charge, Ordering::Relaxed);
    }
}

/// How long spent records may wait for their input before the sweeper (which looks every
/// half of this) frees them.
const STALE: Duration = Duration::from_secs(1);

/// Every recycler, for the sweeper.
static ALL: Mutex<Vec<Weak<Recycler>>> = Mutex::new(Vec::new());

impl Recycler {
    /// A recycler the sweeper watches.
    pub(crate) fn new() -> Arc<Recycler> {
        static SWEEPER: OnceLock<bool> = OnceLock::new();
        let swept = *SWEEPER.get_or_init(|| {
            std::thread::Builder::new()
                .name("logferry-sweep".into())
                .spawn(|| {
                    loop {
                        std::thread::sleep(STALE / 2);
                        sweep(Instant::now());
                    }
                })
                .is_ok()
        });
        let recycler = Arc::new(Recycler::default());
        // Without a sweeper (no thread could be had), quiet inputs keep their last records
        // until they send or close, within the bounds: not worth failing for, and nothing
        // to register.
        if swept {
            let mut all = lock(&ALL);
            // Pruned here too (amortised), not only by the sweeper.
            if all.len() >= 1024 && all.len().is_power_of_two() {
                all.retain(|r| r.strong_count() > 0);
            }
            all.push(Arc::downgrade(&recycler));
        }
        recycler
    }

    /// Takes a spent batch's records (of `bytes` estimated bytes), or hands them back when
    /// enough are waiting.
    pub(crate) fn give(&self, records: Vec<LogRecord>, bytes: usize) -> Option<Vec<LogRecord>> {
        let charge = MemoryBudget::charge(records.len(), bytes);
        let mut spent = lock(&self.spent);
        if spent.records + records.len() > MAX_WAITING
            || spent.bytes + bytes > MAX_WAITING_BYTES
            || WAITING_TOTAL.load(Ordering::Relaxed) + charge > MAX_WAITING_TOTAL
        {
            return Some(records);
        }
        WAITING_TOTAL.fetch_add(charge, Ordering::Relaxed);
        spent.charge += charge;
        spent.records += records.len();
        spent.bytes += bytes;
        spent.batches.push(records);
        spent.since.get_or_insert_with(Instant::now);
        None
    }

    /// Frees what is waiting, on the caller's thread.
    pub(crate) fn free_spent(&self) {
        self.free_if(|_| true);
    }

    /// Frees what is waiting if the oldest batch came back `STALE` or more before `now`.
    fn free_stale(&self, now: Instant) {
        self.free_if(|since| now.duration_since(since) >= STALE);
    }

    /// Frees what is waiting if `stale` says so of when the oldest batch came back.
    fn free_if(&self, stale: impl FnOnce(Instant) -> bool) {
        let spent = {
            let mut spent = lock(&self.spent);
            match spent.since {
                Some(since) if stale(since) => std::mem::take(&mut *spent),
                _ => return,
            }
        };
        // Outside the lock: the giving side must not wait for the freeing.
        drop(spent);
    }

    #[cfg(test)]
    pub(crate) fn waiting(&self) -> usize {
        self.spent.lock().unwrap().batches.len()
    }
}

/// Frees what has waited since before `now - STALE`, and forgets recyclers that are gone.
fn sweep(now: Instant) {
    let live: Vec<Arc<Recycler>> = {
        let mut all = lock(&ALL);
        all.retain(|r| r.strong_count() > 0);
        all.iter().filter_map(Weak::upgrade).collect()
    };
    for recycler in live {
        recycler.free_stale(now);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_spent_records_up_to_a_bound_then_declines() {
        let recycler = Recycler::default();
        let quarter = MAX_WAITING / 4;
        for _ in 0..4 {
            assert!(
                recycler
                    .give(vec![LogRecord::default(); quarter], 0)
                    .is_none()
            );
        }
        let declined = recycler.give(vec![LogRecord::default(); 3], 0);
        assert_eq!(declined.map(|r| r.len()), Some(3));
        assert_eq!(recycler.waiting(), 4);
        recycler.free_spent();
        // And by estimated bytes.
        assert!(
            recycler
                .give(vec![LogRecord::default()], MAX_WAITING_BYTES)
                .is_none()
        );
        assert!(recycler.give(vec![LogRecord::default()], 1).is_some());
        assert_eq!(recycler.waiting(), 1);
        recycler.free_spent();
        assert_eq!(recycler.waiting(), 0);
    }

    #[test]
    fn the_sweeper_frees_what_a_quiet_input_left_waiting() {
        let recycler = Recycler::new();
        assert!(recycler.give(vec![LogRecord::default(); 2], 100).is_none());
        // Not yet stale: kept for the input.
        sweep(Instant::now());
        assert_eq!(recycler.waiting(), 1);
        // (This recycler alone: a sweep a second ahead would free other tests' too.)
        recycler.free_stale(Instant::now() + STALE);
        assert_eq!(recycler.waiting(), 0);
        // Gone recyclers are forgotten.
        let weak = Arc::downgrade(&recycler);
        drop(recycler);
        sweep(Instant::now());
        assert!(!lock(&ALL).iter().any(|r| r.ptr_eq(&weak)));
    }
}
