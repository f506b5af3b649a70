//! `memory_limit`: one budget of estimated record bytes shared by every output's memory
//! buffer (and every disk buffer's read-ahead). When it is spent, buffers stop taking
//! batches, so each input's own back-pressure applies (reads pause, HTTP 429, gRPC
//! `RESOURCE_EXHAUSTED`, Beats ACKs withheld, tailing pauses, UDP drops counted). Request
//! bodies that HTTP inputs have read draw on it too, until their records are handed to the
//! pipeline.

use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// The process-wide memory budget.
#[derive(Debug)]
pub struct MemoryBudget {
    limit: usize,
    used: Mutex<Used>,
    /// Wakes producers of every buffer when room is given back anywhere.
    pub(crate) freed: Notify,
}

#[derive(Debug, Default)]
struct Used {
    /// Everything held: buffers and request bodies.
    total: usize,
    /// What buffers hold.
    buffers: usize,
}

impl MemoryBudget {
    /// A budget of `limit` estimated bytes.
    pub fn new(limit: usize) -> Self {
        MemoryBudget {
            limit,
            used: Mutex::new(Used::default()),
            freed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Used> {
        self.used.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What `records` records of `bytes` estimated bytes cost against the budget: their
    /// encoded-size estimate plus the record structs themselves, which the estimate leaves
    /// out.
    pub fn charge(records: usize, bytes: usize) -> usize {
        bytes + records * std::mem::size_of::<crate::record::LogRecord>()
    }

    /// Takes `bytes` for a buffer if they fit. Anything fits while buffers hold nothing, so
    /// neither one batch larger than the limit nor request bodies being decoded can wedge
    /// the pipeline.
    pub(crate) fn try_take(&self, bytes: usize) -> bool {
        let mut used = self.lock();
        if used.buffers == 0 || used.total + bytes <= self.limit {
            used.total += bytes;
            used.buffers += bytes;
            true
        } else {
            false
        }
    }

    /// Gives back `bytes` a buffer took.
    pub(crate) fn give_back(&self, bytes: usize) {
        {
            let mut used = self.lock();
            used.total = used.total.saturating_sub(bytes);
            used.buffers = used.buffers.saturating_sub(bytes);
        }
        self.freed.notify_waiters();
    }

    /// True when less than a tenth of the limit is left.
    pub fn is_spent(&self) -> bool {
        self.used() + self.limit / 10 >= self.limit
    }

    /// Estimated bytes held now.
    pub fn used(&self) -> usize {
        self.lock().total
    }

    /// The limit.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Takes `bytes` for as long as the returned guard lives, if they fit (or nothing else
    /// is held).
    pub fn hold(self: &Arc<Self>, bytes: usize) -> Option<Held> {
        let mut held = Held {
            budget: Some(Arc::clone(self)),
            bytes: 0,
        };
        held.grow(bytes).then_some(held)
    }
}

/// Bytes taken from a budget (or from none), given back when dropped.
#[derive(Debug, Default)]
pub struct Held {
    budget: Option<Arc<MemoryBudget>>,
    bytes: usize,
}

impl Held {
    /// Takes `bytes` more if they fit, or if this hold is all that is held (one request
    /// larger than the limit still goes through on an idle process).
    pub fn grow(&mut self, bytes: usize) -> bool {
        let Some(budget) = &self.budget else {
            return true;
        };
        let mut used = budget.lock();
        if used.total + bytes <= budget.limit || used.total == self.bytes {
            used.total += bytes;
            self.bytes += bytes;
            true
        } else {
            false
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(budget) = &self.budget {
            {
                let mut used = budget.lock();
                used.total = used.total.saturating_sub(self.bytes);
            }
            budget.freed.notify_waiters();
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
        assert!(held.grow(300));
        assert_eq!(budget.used(), 900);
        // Alone, a request may grow past the limit; with another holder it may not.
        assert!(held.grow(500));
        let other = budget.hold(10);
        assert!(other.is_none());
        drop(held);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn held_bodies_do_not_wedge_empty_buffers() {
        let budget = Arc::new(MemoryBudget::new(1000));
        let held = budget.hold(990).expect("fits");
        // Buffers hold nothing: a batch is taken even though bodies fill the budget.
        assert!(budget.try_take(500));
        // Buffers hold something now: the limit applies to everything.
        assert!(!budget.try_take(10));
        assert!(budget.is_spent());
        drop(held);
        assert!(budget.try_take(10));
        budget.give_back(510);
        assert_eq!(budget.used(), 0);
    }
}
