//! End-to-end acknowledgements: an [`AckToken`] travels with a batch and is cloned once per
//! holder (each output it is routed to, each request a batch is split across). Every holder
//! settles its clone with a verdict; when the last clone is gone the [`AckReceiver`] resolves
//! to a [`Delivery`]. A clone dropped without a verdict counts as a rejection, so nothing is
//! acknowledged by accident (the model is Vector's `finalization.rs`).

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::oneshot;

/// The final word on a batch, once every output it was routed to is done with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Every output delivered every record (or holds it durably).
    Delivered,
    /// Some outputs rejected some records for good. `records` is at most the batch size; with
    /// fan-out it counts a record once per output that rejected it, capped at the batch size.
    Rejected { records: u64, reason: String },
    /// Some records were given up undelivered because logferry is stopping (the shutdown
    /// deadline passed, or the pipeline closed): not refused by anyone, so the source should
    /// send them again — an OTLP client retries, a tailer keeps its position before them.
    Abandoned { records: u64, reason: String },
}

impl Delivery {
    /// True when nothing was rejected.
    pub fn is_delivered(&self) -> bool {
        matches!(self, Delivery::Delivered)
    }
}

struct Shared {
    total: u64,
    rejected: AtomicU64,
    abandoned: AtomicU64,
    first_reason: Mutex<Option<String>>,
    tx: Mutex<Option<oneshot::Sender<Delivery>>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        let rejected = (*self.rejected.get_mut()).min(self.total);
        let abandoned = (*self.abandoned.get_mut()).min(self.total);
        let mut reason = || {
            self.first_reason
                .get_mut()
                .map(|r| r.take())
                .ok()
                .flatten()
                .unwrap_or_default()
        };
        // Abandoned wins: what was not delivered anywhere must be sent again.
        let delivery = if abandoned > 0 {
            Delivery::Abandoned {
                records: abandoned,
                reason: reason(),
            }
        } else if rejected > 0 {
            Delivery::Rejected {
                records: rejected,
                reason: reason(),
            }
        } else {
            Delivery::Delivered
        };
        if let Some(tx) = self.tx.get_mut().ok().and_then(Option::take) {
            let _ = tx.send(delivery);
        }
    }
}

/// One holder's share of a batch's acknowledgement.
pub struct AckToken {
    shared: Arc<Shared>,
    settled: bool,
}

impl AckToken {
    /// A token for a batch of `records` records, and the receiver its input awaits.
    pub fn new(records: usize) -> (AckToken, AckReceiver) {
        let (tx, rx) = oneshot::channel();
        let shared = Arc::new(Shared {
            total: records as u64,
            rejected: AtomicU64::new(0),
            abandoned: AtomicU64::new(0),
            first_reason: Mutex::new(None),
            tx: Mutex::new(Some(tx)),
        });
        (
            AckToken {
                shared,
                settled: false,
            },
            AckReceiver(rx),
        )
    }

    /// This holder delivered its records.
    pub fn delivered(mut self) {
        self.settled = true;
    }

    /// This holder rejected `records` of its records for good.
    pub fn rejected(mut self, records: u64, reason: &str) {
        self.settled = true;
        self.record_rejection(records, reason);
    }

    /// This holder gave up `records` of its records undelivered because logferry is stopping.
    pub fn abandoned(mut self, records: u64, reason: &str) {
        self.settled = true;
        self.record_abandoned(records, reason);
    }

    fn record_abandoned(&self, records: u64, reason: &str) {
        if records == 0 {
            return;
        }
        self.shared.abandoned.fetch_add(records, Ordering::Relaxed);
        if let Ok(mut first) = self.shared.first_reason.lock() {
            // The abandonment's reason replaces a rejection's: it decides the verdict.
            if first.is_none() || self.shared.rejected.load(Ordering::Relaxed) > 0 {
                *first = Some(reason.to_owned());
            }
        }
    }

    /// Gives up this holder's share without a verdict; only for a holder that has handed
    /// clones to every party that will settle (the router, after fan-out).
    pub(crate) fn handed_off(mut self) {
        self.settled = true;
    }

    fn record_rejection(&self, records: u64, reason: &str) {
        if records == 0 {
            return;
        }
        self.shared.rejected.fetch_add(records, Ordering::Relaxed);
        if let Ok(mut first) = self.shared.first_reason.lock()
            && first.is_none()
        {
            *first = Some(reason.to_owned());
        }
    }
}

impl Clone for AckToken {
    /// A new holder's share, not yet settled.
    fn clone(&self) -> Self {
        AckToken {
            shared: Arc::clone(&self.shared),
            settled: false,
        }
    }
}

impl Drop for AckToken {
    fn drop(&mut self) {
        if !self.settled {
            // Not acknowledged by accident, and not refused either: sent again by the source.
            self.record_abandoned(self.shared.total, "dropped without a delivery verdict");
        }
    }
}

impl std::fmt::Debug for AckToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AckToken")
            .field("records", &self.shared.total)
            .field("settled", &self.settled)
            .finish()
    }
}

/// Resolves once every clone of the token has been settled or dropped.
#[derive(Debug)]
pub struct AckReceiver(oneshot::Receiver<Delivery>);

impl AckReceiver {
    /// Waits for the verdict.
    pub async fn wait(self) -> Delivery {
        self.0.await.unwrap_or(Delivery::Abandoned {
            records: 0,
            reason: "acknowledgement lost".into(),
        })
    }

    /// The verdict if it comes within `limit`; `None` otherwise (ask again later).
    pub async fn wait_for(&mut self, limit: std::time::Duration) -> Option<Delivery> {
        match tokio::time::timeout(limit, &mut self.0).await {
            Ok(Ok(delivery)) => Some(delivery),
            Ok(Err(_)) => Some(Delivery::Abandoned {
                records: 0,
                reason: "acknowledgement lost".into(),
            }),
            Err(_) => None,
        }
    }

    /// The verdict if it is already known.
    pub fn try_get(&mut self) -> Option<Delivery> {
        self.0.try_recv().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn resolves_delivered_when_every_holder_delivers() {
        let (token, rx) = AckToken::new(10);
        let (a, b) = (token.clone(), token.clone());
        token.handed_off();
        a.delivered();
        b.delivered();
        assert_eq!(rx.wait().await, Delivery::Delivered);
    }

    #[tokio::test]
    async fn waits_for_the_last_holder_and_reports_rejections() {
        let (token, mut rx) = AckToken::new(10);
        let (a, b) = (token.clone(), token.clone());
        token.handed_off();
        a.rejected(3, "bad line");
        assert_eq!(rx.try_get(), None, "one holder is still out");
        b.delivered();
        assert_eq!(
            rx.wait().await,
            Delivery::Rejected {
                records: 3,
                reason: "bad line".into()
            }
        );
    }

    #[tokio::test]
    async fn dropping_without_a_verdict_abandons_and_counts_are_capped() {
        let (token, rx) = AckToken::new(4);
        let a = token.clone();
        token.rejected(3, "first");
        drop(a);
        // Not delivered, and not refused by anyone: the source must send it again.
        assert_eq!(
            rx.wait().await,
            Delivery::Abandoned {
                records: 4,
                reason: "dropped without a delivery verdict".into()
            }
        );
    }
}
