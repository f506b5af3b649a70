//! Applying a config's topology to a running pipeline: at start (everything is new) and at
//! reload, where only what changed is replaced and nothing in flight is lost.
//!
//! A reload: every router pauses (its input is held back, not stopped); replaced and
//! removed inputs are told to stop; replaced and removed outputs are released by every
//! router, so their buffers close and they drain what they hold (at most the deadline, then
//! what is left is abandoned, as at shutdown — or stays in its disk buffer); new outputs
//! start (a replaced disk buffer is reopened by its successor, which replays it); routers
//! get their new targets and resume; new inputs start once the input they replace has
//! returned (it may hold the same port). Unchanged inputs keep their listeners and
//! connections; unchanged outputs keep their buffers and requests in flight.

use super::buffer::disk::Opened;
use super::buffer::{self, Buffer, DiskBuffer, MemoryBuffer};
use super::dead_letter::DeadLetters;
use super::router::{self, Command, Target};
use super::{BufferKind, InputSpec, OutputSpec, Pipeline, StartError, disk_buffer_dir, driver};
use crate::batch::BatchSender;
use crate::input::InputContext;
use crate::ledger::{InputId, OutputId};
use crate::metrics::{InputMetrics, OutputMetrics};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Batches an input may have waiting for its router. Small on purpose: the output buffers
/// are where records wait; this only smooths hand-over.
const INPUT_QUEUE_BATCHES: usize = 4;

/// Longest a reload waits for a replaced input to return before starting its successor.
const INPUT_STOP_WAIT: Duration = Duration::from_secs(10);

/// A running input and its router.
pub(super) struct InputSlot {
    pub name: String,
    pub id: InputId,
    pub metrics: Arc<InputMetrics>,
    stop: CancellationToken,
    exited: watch::Receiver<bool>,
    control: mpsc::UnboundedSender<Command>,
    targets: Vec<Target>,
}

/// A running output: its buffer, its driver and (disk) buffer tasks.
pub(super) struct OutputSlot {
    pub name: String,
    pub id: OutputId,
    pub metrics: Arc<OutputMetrics>,
    /// What the driver drains (the buffer, or a disk buffer's read-ahead).
    pub drain: Arc<MemoryBuffer>,
    sink: Buffer,
    takes: Vec<String>,
    hard_stop: CancellationToken,
    done: watch::Receiver<bool>,
    /// A disk buffer's directory.
    disk_dir: Option<std::path::PathBuf>,
}

/// What an output needs before its tasks start: its metrics, its stop token and, with a
/// disk buffer, the buffer opened (every segment checked: slow, so a reload does it off the
/// runtime's threads).
pub(super) struct Parts {
    metrics: Arc<OutputMetrics>,
    hard_stop: CancellationToken,
    opened: Option<Opened>,
}

/// Makes an output's [`Parts`] (the returned function does the opening).
fn output_parts(
    spec: &OutputSpec,
    hard_stop: CancellationToken,
) -> impl FnOnce() -> Result<Parts, StartError> + Send + 'static {
    let metrics = Arc::new(OutputMetrics {
        name: spec.name.clone(),
        adjusted: Arc::clone(&spec.built.adjustments),
        ..OutputMetrics::default()
    });
    let name = spec.name.clone();
    let dir = disk_buffer_dir(&spec.data_dir, &spec.name);
    let settings = (spec.buffer.kind == BufferKind::Disk).then(|| spec.buffer.clone());
    move || {
        let opened = match settings {
            Some(settings) => Some(
                DiskBuffer::open(
                    &dir,
                    Arc::from(name.as_str()),
                    settings,
                    Arc::clone(&metrics),
                    hard_stop.clone(),
                )
                .map_err(|source| StartError {
                    output: name,
                    source,
                })?,
            ),
            None => None,
        };
        Ok(Parts {
            metrics,
            hard_stop,
            opened,
        })
    }
}

/// Which components a reload keeps running: those whose config is unchanged.
#[derive(Debug, Default)]
pub struct Keep {
    pub inputs: HashSet<String>,
    pub outputs: HashSet<String>,
}

/// Why a reload did not apply.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// Found before anything changed: the running topology is as it was.
    #[error("{0}; nothing was changed")]
    Refused(StartError),
    /// Found while applying: what could start runs, what failed does not.
    #[error("{0}")]
    Failed(StartError),
}

/// What a reload did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReloadReport {
    pub inputs_started: Vec<String>,
    pub inputs_stopped: Vec<String>,
    pub outputs_started: Vec<String>,
    pub outputs_stopped: Vec<String>,
}

impl InputSlot {
    /// Lets a paused router route again.
    pub(super) fn resume(&self) {
        let _ = self.control.send(Command::Resume);
    }
}

async fn tell(slot: &InputSlot, make: impl FnOnce(oneshot::Sender<()>) -> Command) {
    let (tx, rx) = oneshot::channel();
    if slot.control.send(make(tx)).is_ok() {
        // A router whose input has ended answers no more: nothing to wait for then.
        let _ = rx.await;
    }
}

/// [`tell`], waiting at most `limit` for the answer (the command stays queued).
async fn tell_within(
    slot: &InputSlot,
    make: impl FnOnce(oneshot::Sender<()>) -> Command,
    limit: Duration,
) {
    if tokio::time::timeout(limit, tell(slot, make)).await.is_err() {
        tracing::warn!(input = %slot.name, "reload: the input's router is busy (its outputs are full); its change applies when it is free");
    }
}

async fn wait_true(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|done| *done).await;
}

impl Pipeline {
    /// Starts everything in `inputs` and `outputs` on an empty pipeline.
    pub(super) fn build(
        &mut self,
        inputs: Vec<InputSpec>,
        outputs: Vec<OutputSpec>,
    ) -> Result<(), StartError> {
        let names: Vec<String> = inputs.iter().map(|i| i.name.clone()).collect();
        let ids: HashMap<String, InputId> = names
            .iter()
            .map(|n| (n.clone(), self.ledger.add_input(n)))
            .collect();
        for spec in outputs {
            let parts = output_parts(&spec, self.hard_stop.child_token())()?;
            let slot = self.start_output(spec, parts, &names, &ids, false);
            self.outputs.push(slot);
        }
        for spec in inputs {
            let id = ids[&spec.name];
            let slot = self.start_input(spec, id, None);
            self.inputs.push(slot);
        }
        Ok(())
    }

    /// Applies a new config: components in `keep` go on running, the rest are replaced,
    /// removed or added. `deadline` bounds how long a replaced output may drain.
    pub async fn reload(
        &mut self,
        inputs: Vec<InputSpec>,
        outputs: Vec<OutputSpec>,
        keep: &Keep,
        deadline: Duration,
    ) -> Result<ReloadReport, ReloadError> {
        let mut report = ReloadReport::default();
        let names: Vec<String> = inputs.iter().map(|i| i.name.clone()).collect();

        // 0. Refuse before changing anything if a new disk buffer cannot be had (a
        //    replaced one on the same directory is released by its predecessor first).
        let (kept_outputs, retired): (Vec<OutputSlot>, Vec<OutputSlot>) =
            std::mem::take(&mut self.outputs)
                .into_iter()
                .partition(|o| {
                    keep.outputs.contains(&o.name) && outputs.iter().any(|n| n.name == o.name)
                });
        for spec in &outputs {
            if keep.outputs.contains(&spec.name) || spec.buffer.kind != BufferKind::Disk {
                continue;
            }
            let dir = disk_buffer_dir(&spec.data_dir, &spec.name);
            if retired.iter().any(|o| o.disk_dir.as_ref() == Some(&dir)) {
                continue;
            }
            if let Err(source) = DiskBuffer::probe(&dir) {
                self.outputs = kept_outputs.into_iter().chain(retired).collect();
                return Err(ReloadError::Refused(StartError {
                    output: spec.name.clone(),
                    source,
                }));
            }
        }

        // 1. Routers linked to a replaced or removed output stop routing (their inputs are
        //    held back); a router stuck pushing into a full buffer is not waited for beyond
        //    the deadline: its commands queue and apply once the push ends.
        // Kept while their routers live: a router may still hold (paused) batches.
        self.stopping
            .retain(|s| !*s.exited.borrow() || !s.control.is_closed());
        let mut routers: Vec<InputSlot> = std::mem::take(&mut self.inputs);
        let stopping_before = std::mem::take(&mut self.stopping);
        let links_retired = |slot: &InputSlot| {
            slot.targets
                .iter()
                .any(|t| retired.iter().any(|o| o.id == t.output))
        };
        for slot in routers.iter().chain(&stopping_before) {
            if links_retired(slot) {
                tell_within(slot, Command::Pause, deadline).await;
            }
        }
        // 2. Replaced and removed inputs stop reading; their queues still get routed.
        for slot in &routers {
            if !(keep.inputs.contains(&slot.name) && names.contains(&slot.name)) {
                slot.stop.cancel();
                report.inputs_stopped.push(slot.name.clone());
            }
        }
        let current = routers.len();
        routers.extend(stopping_before);
        // 3. Replaced and removed outputs are released by every router and drain.
        for slot in &mut routers {
            if !links_retired(slot) {
                continue;
            }
            let left: Vec<Target> = slot
                .targets
                .iter()
                .filter(|t| !retired.iter().any(|o| o.id == t.output))
                .cloned()
                .collect();
            for gone in slot
                .targets
                .iter()
                .filter(|t| !left.iter().any(|l| l.same(t)))
            {
                self.ledger.disconnect(slot.id, gone.output);
            }
            tell_within(slot, |done| Command::Set(left.clone(), done), deadline).await;
            slot.targets = left;
        }
        for output in &retired {
            output.drain.flush_now();
            report.outputs_stopped.push(output.name.clone());
        }
        let drained = futures_all(retired.iter().map(|o| wait_true(o.done.clone())));
        if tokio::time::timeout(deadline, drained).await.is_err() {
            tracing::warn!(
                ?deadline,
                "reload: replaced outputs did not drain in time; abandoning what they hold"
            );
            for output in &retired {
                output.hard_stop.cancel();
            }
            futures_all(retired.iter().map(|o| wait_true(o.done.clone()))).await;
        }
        // What a released disk buffer still holds stays counted as buffered: whichever
        // output opens that directory next (a successor, or after a failed reload the
        // predecessor again) inherits it rather than counting it again as replayed.
        self.released_disks
            .extend(retired.iter().filter_map(|o| o.disk_dir.clone()));
        drop(retired);

        // 4. The outputs of the new config: kept ones as they are, the others started.
        let mut ids: HashMap<String, InputId> =
            routers.iter().map(|s| (s.name.clone(), s.id)).collect();
        for name in &names {
            if !ids.contains_key(name) {
                ids.insert(name.clone(), self.ledger.add_input(name));
            }
        }
        let mut kept_outputs: HashMap<String, OutputSlot> = kept_outputs
            .into_iter()
            .map(|o| (o.name.clone(), o))
            .collect();
        let mut started_error = None;
        for spec in outputs {
            if let Some(slot) = kept_outputs.remove(&spec.name) {
                self.outputs.push(slot);
                continue;
            }
            let name = spec.name.clone();
            let dir = disk_buffer_dir(&spec.data_dir, &spec.name);
            let inherits =
                spec.buffer.kind == BufferKind::Disk && self.released_disks.contains(&dir);
            let open = output_parts(&spec, self.hard_stop.child_token());
            let parts = match tokio::task::spawn_blocking(open).await {
                Ok(parts) => parts,
                Err(e) => match e.try_into_panic() {
                    Ok(panic) => std::panic::resume_unwind(panic),
                    Err(_) => Err(StartError {
                        output: name.clone(),
                        source: buffer::disk::OpenError::Io {
                            dir: dir.clone(),
                            what: "open it (logferry is stopping)",
                            source: std::io::Error::other("cancelled"),
                        },
                    }),
                },
            };
            match parts {
                Ok(parts) => {
                    if inherits {
                        self.released_disks.remove(&dir);
                    }
                    let slot = self.start_output(spec, parts, &names, &ids, inherits);
                    report.outputs_started.push(name);
                    self.outputs.push(slot);
                }
                Err(e) => {
                    tracing::error!(error = %e, "reload: an output could not start");
                    started_error.get_or_insert(e);
                }
            }
        }

        // 5. Every router routes to its outputs in the new config, and resumes.
        for slot in &mut routers {
            if slot.control.is_closed() {
                // Its input has ended and its router with it: nothing to link.
                continue;
            }
            let targets = if names.contains(&slot.name) {
                self.targets_of(&slot.name, slot.id)
            } else {
                slot.targets.clone()
            };
            for t in &targets {
                if !slot.targets.iter().any(|old| old.same(t)) {
                    t.buffer.add_producer();
                }
            }
            for old in &slot.targets {
                if !targets.iter().any(|t| t.output == old.output) {
                    self.ledger.disconnect(slot.id, old.output);
                }
            }
            tell_within(slot, |done| Command::Set(targets.clone(), done), deadline).await;
            // After a failure the caller goes back to the previous config: routers stay
            // paused (records wait, none go to the wrong outputs or to none) until then.
            if started_error.is_none() {
                slot.resume();
            }
            slot.targets = targets;
        }

        // 6. New and replaced inputs start, once the input they replace has returned (not
        //    after a failure: their routers stay tracked for the way back).
        let failed = started_error.is_some();
        let orphans = routers.split_off(current);
        self.stopping.extend(
            orphans
                .into_iter()
                .filter(|s| failed || !*s.exited.borrow()),
        );
        let mut previous: HashMap<String, InputSlot> =
            routers.into_iter().map(|s| (s.name.clone(), s)).collect();
        for spec in inputs {
            // An input stopped by an earlier reload counts on in its successor.
            let mut metrics = self
                .stopping
                .iter()
                .find(|s| s.name == spec.name)
                .map(|s| Arc::clone(&s.metrics));
            if let Some(old) = previous.remove(&spec.name) {
                if !old.stop.is_cancelled() {
                    // Unchanged: it never stopped.
                    self.inputs.push(old);
                    continue;
                }
                let exited = wait_true(old.exited.clone());
                if tokio::time::timeout(INPUT_STOP_WAIT, exited).await.is_err() {
                    tracing::warn!(input = %spec.name, "reload: the replaced input has not returned; starting its successor anyway");
                }
                metrics = Some(Arc::clone(&old.metrics));
                if failed {
                    self.stopping.push(old);
                    continue;
                }
            } else if failed {
                continue;
            }
            report.inputs_started.push(spec.name.clone());
            let id = ids[&spec.name];
            let slot = self.start_input(spec, id, metrics);
            self.inputs.push(slot);
        }
        // Stopped inputs' routers finish their queues on their own; until their inputs have
        // returned they stay linked, and later reloads retarget them too.
        self.stopping.extend(
            previous
                .into_values()
                .filter(|s| failed || !*s.exited.borrow()),
        );
        match started_error {
            Some(e) => Err(ReloadError::Failed(e)),
            None => Ok(report),
        }
    }

    /// The targets input `name` has among the current outputs, routes connected.
    fn targets_of(&self, name: &str, id: InputId) -> Vec<Target> {
        self.outputs
            .iter()
            .filter(|o| o.takes.iter().any(|t| t == name))
            .map(|o| Target {
                output: o.id,
                buffer: o.sink.clone(),
                route: self.ledger.connect(id, o.id),
            })
            .collect()
    }

    /// Starts an output from its [`Parts`]. `inherits`: a successor on its predecessor's
    /// disk buffer, whose undelivered records are already counted.
    fn start_output(
        &mut self,
        spec: OutputSpec,
        parts: Parts,
        input_names: &[String],
        ids: &HashMap<String, InputId>,
        inherits: bool,
    ) -> OutputSlot {
        let id = self.ledger.add_output(&spec.name);
        let takes: Vec<String> = spec.takes.iter().map(|&i| input_names[i].clone()).collect();
        let taken: Vec<InputId> = takes.iter().map(|n| ids[n]).collect();
        for &input in &taken {
            self.ledger.connect(input, id);
        }
        let Parts {
            metrics,
            hard_stop,
            opened,
        } = parts;
        let mut tasks = JoinSet::new();
        let (drain, sink) = match opened {
            None => {
                let buffer = Arc::new(MemoryBuffer::new(
                    spec.buffer.clone(),
                    Arc::clone(&metrics),
                    self.budget.clone(),
                ));
                (Arc::clone(&buffer), Buffer::Memory(buffer))
            }
            Some(opened) => {
                let feeds = buffer::disk::Feeds {
                    inputs: taken
                        .iter()
                        .zip(&takes)
                        .map(|(&i, n)| (i, Arc::from(n.as_str())))
                        .collect(),
                };
                if !inherits {
                    for (input, records) in &opened.replay {
                        let (i, _) = feeds.find(input);
                        let route = self.ledger.connect(i, id);
                        self.ledger.replayed(route, *records);
                    }
                }
                let replayed: u64 = opened.replay.iter().map(|(_, n)| n).sum();
                if replayed > 0 {
                    tracing::info!(output = %spec.name, records = replayed, "disk buffer: replaying undelivered records from an earlier run");
                }
                let read_ahead = Arc::new(MemoryBuffer::new(
                    spec.buffer.read_ahead(),
                    Arc::clone(&metrics),
                    self.budget.clone(),
                ));
                let disk = buffer::disk::start(opened, Arc::clone(&read_ahead), feeds, &mut tasks);
                (read_ahead, Buffer::Disk(disk))
            }
        };
        let inputs_known = self.ledger.input_count();
        let cx = driver::DriverContext {
            name: Arc::from(spec.name.as_str()),
            buffer: Arc::clone(&drain),
            ledger: Arc::clone(&self.ledger),
            routes: (0..inputs_known)
                .map(|i| self.ledger.route(i, id))
                .collect(),
            metrics: Arc::clone(&metrics),
            hard_stop: hard_stop.clone(),
            dead_letters: spec.driver.dead_letter.as_ref().map(DeadLetters::new),
            durable: spec.buffer.kind == BufferKind::Disk,
            settings: spec.driver,
        };
        tasks.spawn(spec.built.start(cx));
        let (done_tx, done) = watch::channel(false);
        self.drivers.spawn(async move {
            while tasks.join_next().await.is_some() {}
            let _ = done_tx.send(true);
        });
        let disk_dir = (spec.buffer.kind == BufferKind::Disk)
            .then(|| disk_buffer_dir(&spec.data_dir, &spec.name));
        OutputSlot {
            disk_dir,
            name: spec.name,
            id,
            metrics,
            drain,
            sink,
            takes,
            hard_stop,
            done,
        }
    }

    fn start_input(
        &mut self,
        spec: InputSpec,
        id: InputId,
        metrics: Option<Arc<InputMetrics>>,
    ) -> InputSlot {
        let targets = self.targets_of(&spec.name, id);
        for t in &targets {
            t.buffer.add_producer();
        }
        let (tx, rx) = mpsc::channel(INPUT_QUEUE_BATCHES);
        let (control, commands) = mpsc::unbounded_channel();
        self.routers.spawn(router::run(
            rx,
            targets.clone(),
            Arc::clone(&self.ledger),
            commands,
        ));
        let metrics = metrics.unwrap_or_else(|| {
            Arc::new(InputMetrics {
                name: spec.name.clone(),
                ..InputMetrics::default()
            })
        });
        let name: Arc<str> = Arc::from(spec.name.as_str());
        let stop = self.shutdown.child_token();
        let cx = InputContext {
            name: Arc::clone(&name),
            sender: BatchSender::new(tx, id, name, Arc::clone(&self.ledger), self.budget.clone()),
            shutdown: stop.clone(),
            metrics: Arc::clone(&metrics),
        };
        let fut = spec.built.start(cx);
        let (exited_tx, exited) = watch::channel(false);
        let input_name = spec.name.clone();
        self.input_tasks.spawn(async move {
            let result = fut.await;
            let _ = exited_tx.send(true);
            (input_name, result)
        });
        InputSlot {
            name: spec.name,
            id,
            metrics,
            stop,
            exited,
            control,
            targets,
        }
    }
}

/// Waits for every future (they are few: the outputs a reload replaces).
async fn futures_all(futures: impl Iterator<Item = impl std::future::Future<Output = ()>>) {
    for f in futures {
        f.await;
    }
}
