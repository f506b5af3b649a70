//! The router of one input: takes its batches off the bounded channel and hands each, by
//! `Arc`, to the buffer of every output that takes the input. No record is copied; each
//! output gets its own share of the batch's acknowledgement.

use crate::batch::{Batch, Slice};
use crate::ledger::{Ledger, RouteId, Settled};
use crate::pipeline::buffer::{Buffer, Push};
use std::sync::Arc;
use tokio::sync::mpsc;

/// One output an input feeds.
pub(crate) struct Target {
    pub buffer: Buffer,
    pub route: RouteId,
}

/// Routes until every sender of the input is gone, then releases the targets' buffers.
pub(crate) async fn run(mut rx: mpsc::Receiver<Batch>, targets: Vec<Target>, ledger: Arc<Ledger>) {
    for target in &targets {
        target.buffer.add_producer();
    }
    while let Some(mut batch) = rx.recv().await {
        let ack = batch.ack.take();
        let batch = Arc::new(batch);
        for target in &targets {
            let slice = Slice::whole(Arc::clone(&batch), ack.clone());
            let (slice, code, why) = match target.buffer.push(slice).await {
                Push::Accepted => continue,
                Push::Full(s) => (
                    s,
                    "buffer_full",
                    "output buffer full (when_full = \"drop_newest\")",
                ),
                Push::Stopped(s) => (s, "shutdown", "output stopped at the shutdown deadline"),
            };
            let n = slice.len() as u64;
            ledger.settle([(target.route, n, Settled::Dropped(code))]);
            if let Some(ack) = slice.ack {
                if code == "shutdown" {
                    ack.abandoned(n, why);
                } else {
                    ack.rejected(n, why);
                }
            }
        }
        if let Some(ack) = ack {
            // Every target holds a clone now; with no target (refused by config validation)
            // the batch must not count as delivered.
            if targets.is_empty() {
                ack.rejected(batch.len() as u64, "no output takes this input");
            } else {
                ack.handed_off();
            }
        }
    }
    for target in &targets {
        target.buffer.producer_done();
    }
}
