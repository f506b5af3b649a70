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
#[cfg(test)]
mod reload_tests;
pub mod retry;
mod router;
pub mod testing;
#[cfg(test)]
mod tests;
mod topology;

pub use batcher::BatchSettings;
pub use buffer::{BufferKind, BufferSettings, Fsync, MemoryBudget, WhenFull};
pub use dead_letter::DeadLetterSettings;
pub use driver::{BuiltOutput, DriverSettings};
pub use retry::RetrySettings;
pub use topology::{Keep, ReloadError, ReloadReport};

use crate::input::BuiltInput;
use crate::ledger::{InputId, Ledger, Snapshot};
use crate::metrics::{InputMetrics, OutputMetrics};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

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
    ledger: Arc<Ledger>,
    budget: Option<Arc<MemoryBudget>>,
    /// The inputs of the current config, in its order.
    inputs: Vec<topology::InputSlot>,
    /// Inputs a reload stopped that have not returned yet (waiting to answer their
    /// senders); their routers still route.
    stopping: Vec<topology::InputSlot>,
    /// The outputs of the current config, in its order.
    outputs: Vec<topology::OutputSlot>,
    /// Disk buffer directories released by replaced or removed outputs, whose undelivered
    /// records are still counted as buffered.
    released_disks: std::collections::HashSet<PathBuf>,
    input_tasks: JoinSet<(String, Result<(), crate::input::InputError>)>,
    routers: JoinSet<()>,
    /// Every output's tasks, current and retired (draining after a reload).
    drivers: JoinSet<()>,
    shutdown: CancellationToken,
    hard_stop: CancellationToken,
    failed_inputs: Vec<String>,
    reloads: Arc<ReloadCounts>,
}

/// Reloads by outcome, and whether the last one succeeded.
#[derive(Debug, Default)]
pub struct ReloadCounts {
    pub applied: crate::metrics::Counter,
    /// The new config was invalid; the running one stays.
    pub refused: crate::metrics::Counter,
    /// Valid, but a component could not start.
    pub failed: crate::metrics::Counter,
    pub last_ok: crate::metrics::Gauge,
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
        let mut pipeline = Pipeline {
            ledger: Arc::new(Ledger::new(&[], &[], &[])),
            budget,
            inputs: Vec::new(),
            stopping: Vec::new(),
            outputs: Vec::new(),
            released_disks: Default::default(),
            input_tasks: JoinSet::new(),
            routers: JoinSet::new(),
            drivers: JoinSet::new(),
            shutdown: CancellationToken::new(),
            hard_stop: CancellationToken::new(),
            failed_inputs: Vec::new(),
            reloads: Arc::new(ReloadCounts::default()),
        };
        pipeline.reloads.last_ok.set(1);
        pipeline.build(inputs, outputs)?;
        Ok(pipeline)
    }

    /// Waits until every input has returned (finite sources such as stdin end by themselves)
    /// or one has failed (a listener that cannot bind, say): either way it is time to stop.
    pub async fn inputs_finished(&mut self) {
        while let Some(joined) = self.input_tasks.join_next().await {
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
        // Routers a failed reload left paused finish their queues too.
        for slot in self.inputs.iter().chain(&self.stopping) {
            slot.resume();
        }
        let drain = async {
            while let Some(joined) = self.input_tasks.join_next().await {
                self.note_input_exit(joined);
            }
            while self.routers.join_next().await.is_some() {}
            for output in &self.outputs {
                output.drain.flush_now();
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
            let inputs = &mut self.input_tasks;
            let mut exits = Vec::new();
            let grace = async {
                while let Some(joined) = inputs.join_next().await {
                    exits.push(joined);
                }
            };
            if tokio::time::timeout(INPUT_GRACE, grace).await.is_err() {
                self.input_tasks.abort_all();
            }
            for joined in exits {
                self.note_input_exit(joined);
            }
            while let Some(joined) = self.input_tasks.join_next().await {
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
        self.ledger.snapshot()
    }

    /// A handle for the admin endpoint to read metrics while the pipeline runs.
    pub fn telemetry(&self) -> Telemetry {
        Telemetry {
            ledger: Arc::clone(&self.ledger),
            inputs: self.inputs.iter().map(|i| Arc::clone(&i.metrics)).collect(),
            outputs: self
                .outputs
                .iter()
                .map(|o| Arc::clone(&o.metrics))
                .collect(),
            budget: self.budget.clone(),
            reloads: Arc::clone(&self.reloads),
        }
    }

    /// The reload counters (the CLI counts refusals, which never reach the pipeline).
    pub fn reload_counts(&self) -> &ReloadCounts {
        &self.reloads
    }
}

/// Read access to a pipeline's counters.
#[derive(Clone)]
pub struct Telemetry {
    ledger: Arc<Ledger>,
    inputs: Vec<Arc<InputMetrics>>,
    outputs: Vec<Arc<OutputMetrics>>,
    budget: Option<Arc<MemoryBudget>>,
    reloads: Arc<ReloadCounts>,
}

impl Telemetry {
    /// A consistent copy of the record ledger.
    pub fn ledger(&self) -> Snapshot {
        self.ledger.snapshot()
    }

    /// Everything in Prometheus text format.
    pub fn render_prometheus(&self) -> String {
        let inputs: Vec<&InputMetrics> = self.inputs.iter().map(Arc::as_ref).collect();
        let outputs: Vec<&OutputMetrics> = self.outputs.iter().map(Arc::as_ref).collect();
        let mut text = crate::metrics::render(&inputs, &outputs, &self.ledger());
        if let Some(budget) = &self.budget {
            crate::metrics::render_budget(&mut text, budget.used(), budget.limit());
        }
        crate::metrics::render_reloads(&mut text, &self.reloads);
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
