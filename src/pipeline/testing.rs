//! Fakes for testing the engine and plugins alone (the Collector's `consumertest` idea): a
//! [`ChannelInput`] fed batch by batch from a test, and a [`ScriptedOutput`] that captures
//! what it is sent and answers from a script, optionally stalling until released.

use crate::batch::{Batch, Records};
use crate::input::{Input, InputContext, InputError};
use crate::output::{Outcome, Output, Rejection};
use crate::record::LogRecord;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{Semaphore, mpsc};

/// An input that sends whatever batches the test puts into its channel, and returns when
/// the test drops the channel's sender (or at shutdown).
pub struct ChannelInput(pub mpsc::Receiver<Batch>);

impl ChannelInput {
    /// The input and the sender a test feeds it with.
    pub fn new() -> (mpsc::Sender<Batch>, ChannelInput) {
        let (tx, rx) = mpsc::channel(1);
        (tx, ChannelInput(rx))
    }
}

impl Input for ChannelInput {
    async fn run(mut self, cx: InputContext) -> Result<(), InputError> {
        loop {
            let batch = tokio::select! {
                _ = cx.shutdown.cancelled() => return Ok(()),
                batch = self.0.recv() => batch,
            };
            match batch {
                Some(batch) => {
                    let _ = cx.sender.send(batch).await;
                }
                None => return Ok(()),
            }
        }
    }
}

/// Shared view of a [`ScriptedOutput`] for assertions and control.
#[derive(Clone)]
pub struct OutputProbe {
    /// Records of every request, per attempt, in order.
    pub attempts: Arc<Mutex<Vec<Vec<LogRecord>>>>,
    /// Answers to give, in order; `Delivered` once empty.
    pub script: Arc<Mutex<VecDeque<Outcome>>>,
    /// When set, each send waits for a permit (tests release them to unstall).
    pub gate: Option<Arc<Semaphore>>,
    /// Requests the driver handed back through [`Output::reuse`].
    pub reused: Arc<AtomicUsize>,
}

impl OutputProbe {
    /// Records delivered so far: the records of attempts answered `Delivered`.
    pub fn attempt_count(&self) -> usize {
        self.attempts.lock().unwrap().len()
    }

    /// Every record sent in any attempt, flattened.
    pub fn all_sent(&self) -> Vec<LogRecord> {
        self.attempts
            .lock()
            .unwrap()
            .iter()
            .flatten()
            .cloned()
            .collect()
    }
}

/// An output that captures requests and answers from a script.
pub struct ScriptedOutput {
    probe: OutputProbe,
}

impl ScriptedOutput {
    /// An output answering `script` in order, then `Delivered`; with `stalled`, every send
    /// waits for a permit on the probe's gate.
    pub fn new(script: Vec<Outcome>, stalled: bool) -> (ScriptedOutput, OutputProbe) {
        let probe = OutputProbe {
            attempts: Arc::default(),
            script: Arc::new(Mutex::new(script.into())),
            gate: stalled.then(|| Arc::new(Semaphore::new(0))),
            reused: Arc::default(),
        };
        (
            ScriptedOutput {
                probe: probe.clone(),
            },
            probe,
        )
    }
}

impl Output for ScriptedOutput {
    type Request = Vec<LogRecord>;

    fn encode(&mut self, records: &Records<'_>) -> Result<Vec<LogRecord>, Rejection> {
        Ok(records.iter().cloned().collect())
    }

    fn request_bytes(request: &Vec<LogRecord>) -> usize {
        request.len()
    }

    async fn send(&mut self, request: &Vec<LogRecord>) -> Outcome {
        if let Some(gate) = &self.probe.gate {
            gate.acquire().await.expect("gate open").forget();
        }
        self.probe.attempts.lock().unwrap().push(request.clone());
        self.probe
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Outcome::Delivered)
    }

    fn reuse(&mut self, _: Vec<LogRecord>) {
        self.probe.reused.fetch_add(1, Ordering::Relaxed);
    }
}

/// An output that accepts everything and keeps nothing (benchmarks).
pub struct NullOutput;

impl Output for NullOutput {
    type Request = usize;

    fn encode(&mut self, records: &Records<'_>) -> Result<usize, Rejection> {
        Ok(records.len())
    }

    fn request_bytes(_: &usize) -> usize {
        0
    }

    async fn send(&mut self, _: &usize) -> Outcome {
        Outcome::Delivered
    }
}
