//! The router of one input: takes its batches off the bounded channel and hands each, by
//! `Arc`, to the buffer of every output that takes the input. No record is copied; each
//! output gets its own share of the batch's acknowledgement.
//!
//! A reload pauses a router (the input is held back, nothing is routed), changes its
//! targets, and resumes it. Links: the pipeline registers a router as a producer of a
//! target's buffer before the router gets it; the router releases the links it drops and,
//! when its input is gone, all of them.

use crate::batch::{Batch, Slice};
use crate::ledger::{Ledger, OutputId, RouteId, Settled};
use crate::pipeline::buffer::{Buffer, Push};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// One output an input feeds.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub output: OutputId,
    pub buffer: Buffer,
    pub route: RouteId,
}

impl Target {
    /// The same output instance (a replaced output has a new buffer under the same id).
    pub(crate) fn same(&self, other: &Target) -> bool {
        self.output == other.output && self.buffer.same(&other.buffer)
    }
}

/// What the pipeline tells a running router.
#[derive(Debug)]
pub(crate) enum Command {
    /// Stop routing after the batch in hand; answer once stopped.
    Pause(oneshot::Sender<()>),
    /// Route to these targets from now on (links already registered); answer once done.
    Set(Vec<Target>, oneshot::Sender<()>),
    /// Route again.
    Resume,
}

/// Routes until every sender of the input is gone, then releases its links.
pub(crate) async fn run(
    mut rx: mpsc::Receiver<Batch>,
    mut targets: Vec<Target>,
    ledger: Arc<Ledger>,
    mut control: mpsc::UnboundedReceiver<Command>,
) {
    let mut paused = false;
    let mut controlled = true;
    loop {
        if paused {
            match control.recv().await {
                Some(command) => apply(command, &mut targets, &mut paused),
                // The pipeline is gone: nobody will resume; finish the queue.
                None => {
                    paused = false;
                    controlled = false;
                }
            }
            continue;
        }
        let batch = tokio::select! {
            biased;
            command = control.recv(), if controlled => {
                match command {
                    Some(command) => apply(command, &mut targets, &mut paused),
                    None => controlled = false,
                }
                continue;
            }
            batch = rx.recv() => batch,
        };
        let Some(batch) = batch else { break };
        route(batch, &targets, &ledger).await;
    }
    for target in &targets {
        target.buffer.producer_done();
    }
}

fn apply(command: Command, targets: &mut Vec<Target>, paused: &mut bool) {
    match command {
        Command::Pause(done) => {
            *paused = true;
            let _ = done.send(());
        }
        Command::Set(new, done) => {
            for old in targets.iter() {
                if !new.iter().any(|t| t.same(old)) {
                    old.buffer.producer_done();
                }
            }
            *targets = new;
            let _ = done.send(());
        }
        Command::Resume => *paused = false,
    }
}

async fn route(mut batch: Batch, targets: &[Target], ledger: &Ledger) {
    let ack = batch.ack.take();
    ledger.routed(
        batch.input,
        batch.len() as u64,
        targets.iter().map(|t| t.route),
    );
    let batch = Arc::new(batch);
    for target in targets {
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
        // Every target holds a clone now. No target happens only while a failed reload
        // leaves an input without its outputs and logferry stops: the sender is told to
        // send again (as at a shutdown deadline), not that the records were refused.
        if targets.is_empty() {
            ack.abandoned(
                batch.len() as u64,
                "no output takes this input (a reload failed)",
            );
        } else {
            ack.handed_off();
        }
    }
}
