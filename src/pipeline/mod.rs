//! The engine: bounded channels from inputs, a router per input fanning batches out to the
//! outputs that take it, and per output a buffer and a driver (batching, retries, acks).
//!
//! Shutdown: inputs are cancelled; when the last sender of an input is gone its router
//! finishes; when every router feeding an output has finished, that output's buffer closes
//! and its driver flushes what is left and returns. Past the deadline, drivers stop
//! retrying and count what is left as dropped (reason `shutdown`).

pub mod batcher;
pub mod buffer;
pub mod dead_letter;
pub mod driver;
mod lanes;
pub mod retry;
mod router;
pub mod testing;
#[cfg(test)]
mod tests;

pub use batcher::BatchSettings;
pub use buffer::{BufferKind, BufferSettings, Fsync, MemoryBudget, WhenFull};
pub use dead_letter::DeadLetterSettings;
pub use driver::{BuiltOutput, DriverSettings};
pub use retry::RetrySettings;

use crate::batch::BatchSender;
use crate::input::{BuiltInput, InputContext};
use crate::ledger::{InputId, Ledger, Snapshot};
use crate::metrics::{InputMetrics, OutputMetrics};
use buffer::{Buffer, DiskBuffer, MemoryBuffer};
use dead_letter::DeadLetters;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Batches an input may have waiting for its router. Small on purpose: the output buffers
/// are where records wait; this only smooths hand-over.
const INPUT_QUEUE_BATCHES: usize = 4;

/// After the shutdown deadline, how long inputs may take to answer their senders.
const INPUT_GRACE: Duration = Duration::from_secs(2);

/// An input to start.
pub struct InputSpec {
    pub name: String,
    pub built: BuiltInput,
}

/// An output to start.
pub struct OutputSpec {
    pub name: String,
    pub built: BuiltOutput,
    /// Indexes into the input list of the inputs this output takes.
    pub takes: Vec<InputId>,
    pub buffer: BufferSettings,
    pub driver: DriverSettings,
    /// Where a disk buffer lives: `{data_dir}/buffers/{name}`.
    pub data_dir: PathBuf,
}

/// Why a topology could not start.
#[derive(Debug, thiserror::Error)]
#[error("output \"{output}\": {source}")]
pub struct StartError {
    pub output: String,
    #[source]
    pub source: buffer::disk::OpenError,
}

/// The directory of an output's disk buffer.
pub fn disk_buffer_dir(data_dir: &std::path::Path, output: &str) -> PathBuf {
    data_dir.join("buffers").join(output)
}

/// A running topology.
pub struct Pipeline {
    input_names: Vec<String>,
    ledger: Arc<Ledger>,
    input_metrics: Vec<Arc<InputMetrics>>,
    output_metrics: Vec<Arc<OutputMetrics>>,
    budget: Option<Arc<MemoryBudget>>,
    /// What each output's driver drains (a memory buffer, or a disk buffer's read-ahead).
    buffers: Vec<Arc<MemoryBuffer>>,
    inputs: JoinSet<(String, Result<(), crate::input::InputError>)>,
    routers: JoinSet<()>,
    drivers: JoinSet<()>,
    shutdown: CancellationToken,
    hard_stop: CancellationToken,
    failed_inputs: Vec<String>,
}

impl Pipeline {
    /// Starts every component on the current tokio runtime. Fails only when a disk buffer
    /// cannot be opened; nothing has started then.
    pub fn start(inputs: Vec<InputSpec>, outputs: Vec<OutputSpec>) -> Result<Pipeline, StartError> {
        Self::start_limited(inputs, outputs, None)
    }

    /// [`Pipeline::start`] with every memory buffer drawing on one `memory_limit` budget.
    pub fn start_limited(
        inputs: Vec<InputSpec>,
        outputs: Vec<OutputSpec>,
        budget: Option<Arc<MemoryBudget>>,
    ) -> Result<Pipeline, StartError> {
        let input_names: Vec<String> = inputs.iter().map(|i| i.name.clone()).collect();
        let output_names: Vec<String> = outputs.iter().map(|o| o.name.clone()).collect();
        let takes: Vec<Vec<InputId>> = outputs.iter().map(|o| o.takes.clone()).collect();
        let ledger = Arc::new(Ledger::new(&input_names, &output_names, &takes));
        let shutdown = CancellationToken::new();
        let hard_stop = CancellationToken::new();

        // Disk buffers first: a buffer that cannot be opened stops the start before any
        // task runs.
        let mut opened = Vec::new();
        let mut output_metrics = Vec::new();
        for spec in &outputs {
            let metrics = Arc::new(OutputMetrics {
                name: spec.name.clone(),
                adjusted: Arc::clone(&spec.built.adjustments),
                ..OutputMetrics::default()
            });
            let disk = match spec.buffer.kind {
                BufferKind::Memory => None,
                BufferKind::Disk => Some(
                    DiskBuffer::open(
                        &disk_buffer_dir(&spec.data_dir, &spec.name),
                        Arc::from(spec.name.as_str()),
                        spec.buffer.clone(),
                        Arc::clone(&metrics),
                        hard_stop.clone(),
                    )
                    .map_err(|source| StartError {
                        output: spec.name.clone(),
                        source,
                    })?,
                ),
            };
            opened.push(disk);
            output_metrics.push(metrics);
        }

        let mut buffers = Vec::new();
        let mut sinks = Vec::new();
        let mut drivers = JoinSet::new();
        for (id, (spec, disk)) in outputs.into_iter().zip(opened).enumerate() {
            let metrics = Arc::clone(&output_metrics[id]);
            let durable = disk.is_some();
            let (buffer, sink) = match disk {
                None => {
                    let buffer = Arc::new(MemoryBuffer::new(
                        spec.buffer,
                        Arc::clone(&metrics),
                        budget.clone(),
                    ));
                    (Arc::clone(&buffer), Buffer::Memory(buffer))
                }
                Some(opened) => {
                    let feeds = buffer::disk::Feeds {
                        inputs: spec
                            .takes
                            .iter()
                            .map(|&i| (i, Arc::from(input_names[i].as_str())))
                            .collect(),
                    };
                    for (input, records) in &opened.replay {
                        let (i, _) = feeds.find(input);
                        let route = ledger.route(i, id).expect("fed inputs are routed");
                        ledger.replayed(route, *records);
                    }
                    let replayed: u64 = opened.replay.iter().map(|(_, n)| n).sum();
                    if replayed > 0 {
                        tracing::info!(output = %spec.name, records = replayed, "disk buffer: replaying undelivered records from an earlier run");
                    }
                    let read_ahead = Arc::new(MemoryBuffer::new(
                        spec.buffer.read_ahead(),
                        Arc::clone(&metrics),
                        budget.clone(),
                    ));
                    let disk =
                        buffer::disk::start(opened, Arc::clone(&read_ahead), feeds, &mut drivers);
                    (read_ahead, Buffer::Disk(disk))
                }
            };
            let cx = driver::DriverContext {
                name: Arc::from(spec.name.as_str()),
                buffer: Arc::clone(&buffer),
                ledger: Arc::clone(&ledger),
                routes: (0..input_names.len())
                    .map(|i| ledger.route(i, id))
                    .collect(),
                metrics: Arc::clone(&metrics),
                hard_stop: hard_stop.clone(),
                dead_letters: spec.driver.dead_letter.as_ref().map(DeadLetters::new),
                durable,
                settings: spec.driver,
            };
            drivers.spawn(spec.built.start(cx));
            buffers.push(buffer);
            sinks.push(sink);
        }

        let mut input_metrics = Vec::new();
        let mut routers = JoinSet::new();
        let mut running = JoinSet::new();
        for (id, spec) in inputs.into_iter().enumerate() {
            let (tx, rx) = mpsc::channel(INPUT_QUEUE_BATCHES);
            let targets = (0..buffers.len())
                .filter_map(|o| {
                    ledger.route(id, o).map(|route| router::Target {
                        buffer: sinks[o].clone(),
                        route,
                    })
                })
                .collect();
            routers.spawn(router::run(rx, targets, Arc::clone(&ledger)));
            let metrics = Arc::new(InputMetrics {
                name: spec.name.clone(),
                ..InputMetrics::default()
            });
            let name: Arc<str> = Arc::from(spec.name.as_str());
            let cx = InputContext {
                name: Arc::clone(&name),
                sender: BatchSender::new(tx, id, name, Arc::clone(&ledger), budget.clone()),
                shutdown: shutdown.child_token(),
                metrics: Arc::clone(&metrics),
            };
            let fut = spec.built.start(cx);
            let input_name = spec.name;
            running.spawn(async move { (input_name, fut.await) });
            input_metrics.push(metrics);
        }

        Ok(Pipeline {
            input_names,
            ledger,
            input_metrics,
            output_metrics,
            budget,
            buffers,
            inputs: running,
            routers,
            drivers,
            shutdown,
            hard_stop,
            failed_inputs: Vec::new(),
        })
    }

    /// Waits until every input has returned (finite sources such as stdin end by themselves)
    /// or one has failed (a listener that cannot bind, say): either way it is time to stop.
    pub async fn inputs_finished(&mut self) {
        while let Some(joined) = self.inputs.join_next().await {
            self.note_input_exit(joined);
            if !self.failed_inputs.is_empty() {
                return;
            }
        }
    }

    fn note_input_exit(
        &mut self,
        joined: Result<(String, Result<(), crate::input::InputError>), tokio::task::JoinError>,
    ) {
        match joined {
            Ok((_, Ok(()))) => {}
            Ok((name, Err(e))) => {
                tracing::error!(input = %name, error = %e, "input failed");
                self.failed_inputs.push(name);
            }
            Err(e) => {
                tracing::error!(error = %e, "input task panicked");
                self.failed_inputs.push("<panicked>".into());
            }
        }
    }

    /// Stops inputs, drains outputs within `deadline`, and reports the inputs that failed.
    pub async fn shutdown(mut self, deadline: Duration) -> Vec<String> {
        self.shutdown.cancel();
        let drain = async {
            while let Some(joined) = self.inputs.join_next().await {
                self.note_input_exit(joined);
            }
            while self.routers.join_next().await.is_some() {}
            for buffer in &self.buffers {
                buffer.flush_now();
            }
            while self.drivers.join_next().await.is_some() {}
        };
        if tokio::time::timeout(deadline, drain).await.is_err() {
            tracing::warn!(
                ?deadline,
                "shutdown deadline passed; abandoning undelivered records"
            );
            self.hard_stop.cancel();
            // Drivers settle what is left as abandoned, which resolves acknowledgements; the
            // inputs then get a moment to tell their senders so (503, no ACK, no checkpoint)
            // before they are stopped.
            while self.drivers.join_next().await.is_some() {}
            let inputs = &mut self.inputs;
            let mut exits = Vec::new();
            let grace = async {
                while let Some(joined) = inputs.join_next().await {
                    exits.push(joined);
                }
            };
            if tokio::time::timeout(INPUT_GRACE, grace).await.is_err() {
                self.inputs.abort_all();
            }
            for joined in exits {
                self.note_input_exit(joined);
            }
            while let Some(joined) = self.inputs.join_next().await {
                if !matches!(&joined, Err(e) if e.is_cancelled()) {
                    self.note_input_exit(joined);
                }
            }
            while self.routers.join_next().await.is_some() {}
        }
        self.failed_inputs
    }

    /// A consistent copy of the record ledger.
    pub fn ledger(&self) -> Snapshot {
        self.ledger.snapshot(&self.input_names)
    }

    /// A handle for the admin endpoint to read metrics while the pipeline runs.
    pub fn telemetry(&self) -> Telemetry {
        Telemetry {
            input_names: self.input_names.clone(),
            ledger: Arc::clone(&self.ledger),
            inputs: self.input_metrics.clone(),
            outputs: self.output_metrics.clone(),
            budget: self.budget.clone(),
        }
    }
}

/// Read access to a pipeline's counters.
#[derive(Clone)]
pub struct Telemetry {
    input_names: Vec<String>,
    ledger: Arc<Ledger>,
    inputs: Vec<Arc<InputMetrics>>,
    outputs: Vec<Arc<OutputMetrics>>,
    budget: Option<Arc<MemoryBudget>>,
}

impl Telemetry {
    /// A consistent copy of the record ledger.
    pub fn ledger(&self) -> Snapshot {
        self.ledger.snapshot(&self.input_names)
    }

    /// Everything in Prometheus text format.
    pub fn render_prometheus(&self) -> String {
        let inputs: Vec<&InputMetrics> = self.inputs.iter().map(Arc::as_ref).collect();
        let outputs: Vec<&OutputMetrics> = self.outputs.iter().map(Arc::as_ref).collect();
        let mut text = crate::metrics::render(&inputs, &outputs, &self.ledger());
        if let Some(budget) = &self.budget {
            crate::metrics::render_budget(&mut text, budget.used(), budget.limit());
        }
        text
    }

    /// The metrics of an output, by name.
    pub fn output(&self, name: &str) -> Option<&OutputMetrics> {
        self.outputs
            .iter()
            .find(|m| m.name == name)
            .map(Arc::as_ref)
    }
}
