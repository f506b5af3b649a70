//! Spent batches go home: when every output has finished with a batch, its records are
//! handed back to the input handle that sent it and freed there, on the next send.
//!
//! Why: records are allocated on the input's thread and were freed on the output's. mimalloc
//! (like most allocators) keeps memory freed by another thread on the page owner's side until
//! the owner collects it, so the owner kept taking fresh pages meanwhile. Freed where they
//! were made, their memory is reused at once.

use crate::record::LogRecord;
use std::sync::Mutex;

/// Spent batches waiting at most; beyond this (an input that went quiet, or one slower to
/// send than its outputs are to finish) they are freed where they are, as before.
const MAX_WAITING: usize = 4;

/// The records of spent batches, waiting to be freed by their input.
#[derive(Debug, Default)]
pub(crate) struct Recycler {
    spent: Mutex<Vec<Vec<LogRecord>>>,
}

impl Recycler {
    /// Takes a spent batch's records, or hands them back when enough are waiting.
    pub(crate) fn give(&self, records: Vec<LogRecord>) -> Option<Vec<LogRecord>> {
        let mut spent = self.spent.lock().unwrap_or_else(|e| e.into_inner());
        if spent.len() >= MAX_WAITING {
            return Some(records);
        }
        spent.push(records);
        None
    }

    /// Frees what is waiting, on the caller's thread.
    pub(crate) fn free_spent(&self) {
        let spent = {
            let mut spent = self.spent.lock().unwrap_or_else(|e| e.into_inner());
            if spent.is_empty() {
                return;
            }
            std::mem::take(&mut *spent)
        };
        drop(spent);
    }

    #[cfg(test)]
    pub(crate) fn waiting(&self) -> usize {
        self.spent.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_a_few_spent_batches_then_declines() {
        let recycler = Recycler::default();
        for _ in 0..MAX_WAITING {
            assert!(recycler.give(vec![LogRecord::default()]).is_none());
        }
        let declined = recycler.give(vec![LogRecord::default(); 3]);
        assert_eq!(declined.map(|r| r.len()), Some(3));
        assert_eq!(recycler.waiting(), MAX_WAITING);
        recycler.free_spent();
        assert_eq!(recycler.waiting(), 0);
    }
}
