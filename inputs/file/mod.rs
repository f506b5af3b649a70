//! `type = "file"`: tails files matched by glob patterns, one record per line.
//!
//! - **Identity**: device + inode, plus a fingerprint of the first `fingerprint_bytes` bytes,
//!   so a renamed file keeps its position and a new file on a reused inode does not inherit
//!   one.
//! - **Rotation**: a file renamed or deleted away from its path is read to its end through
//!   the open descriptor (until quiet for `rotate_wait`) while the new file at the path is
//!   read from its start; a file that shrinks (copytruncate, `> file`) is read again from 0.
//! - **Checkpoints**: `DATA_DIR/file-checkpoints-NAME.json`, written atomically every
//!   `checkpoint_interval` and at shutdown, holds for each file the offset up to which every
//!   line was acknowledged by every output. After a restart (clean or `kill -9`) reading
//!   resumes there: nothing is lost, and only lines sent but not yet acknowledged are read
//!   twice.
//! - **Records**: the line (without `\n` / `\r\n`, invalid UTF-8 replaced visibly) as body;
//!   resource `log.file.path` and `log.file.name`; `log.truncated` on the pieces of a line
//!   longer than `max_line_bytes`; optionally `log.record.uid`.
//! - **Multiline**: `multiline = { start = "^\\d{4}-" }` (or `continuation = "^\\s"`) joins
//!   the lines of a stack trace into one record; positions advance only past whole groups.
//! - **Container logs**: `format = "cri"` reads Kubernetes' `/var/log/pods` and
//!   `/var/log/containers` files: the runtime's time and stream (`log.iostream`) parsed, a
//!   message split into partial (`P`) lines joined, and the pod's namespace, name, uid and
//!   container taken from the path onto the resource (`cri.rs`).
//! - **Wake-ups**: inotify events on the patterns' directories trigger a read (and, for
//!   created, removed or renamed files, a discovery) at once; polling every
//!   `poll_interval` remains the source of truth for filesystems that send no events.
//! - Reading blocks on a full pipeline (back-pressure), so a stalled output stops the tailer
//!   and memory stays bounded.

mod checkpoint;
mod config;
mod cri;
mod discovery;
mod identity;
mod multiline;
mod tailer;
mod watch;

pub use config::{FileInputConfig, Format, ReadFrom};
pub use multiline::MultilineConfig;

use crate::ack::AckToken;
use crate::batch::Batch;
use crate::input::{Input, InputBuildContext, InputConfig, InputContext, InputError};
use crate::record::now_unix_nano;
use checkpoint::{Checkpoint, Store};
use identity::FileKey;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tailer::{Limits, Tailer};

/// Most bytes read from one file before the others get a turn.
const READ_BUDGET: usize = 1 << 20;
/// Most lines in one batch.
const BATCH_LINES: usize = 512;
/// Most lines of one file sent and not yet acknowledged: keeps the memory they hold bounded
/// however fast the file can be read, while leaving room for a full output request (2000
/// records by default) so no output waits out its `max_age` for lines that cannot come.
const MAX_IN_FLIGHT: usize = 3072;
/// How long the position of a file that disappeared is remembered.
pub(crate) const FORGET_AFTER: Duration = Duration::from_secs(60);
/// Longest a stopping input waits for its last batches to be acknowledged.
const ACK_WAIT_AT_SHUTDOWN: Duration = Duration::from_secs(5);

impl InputConfig for FileInputConfig {
    type Input = FileInput;

    fn build(&self, cx: &InputBuildContext) -> Result<FileInput, String> {
        self.check()?;
        Ok(FileInput {
            config: self.clone(),
            store: Store::new(&cx.data_dir, &cx.name),
        })
    }
}

/// A running file tailer.
pub struct FileInput {
    config: FileInputConfig,
    store: Store,
}

impl Input for FileInput {
    async fn run(self, cx: InputContext) -> Result<(), InputError> {
        let saved = self.store.load().map_err(InputError)?;
        let handle = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || Tail::new(self, saved, cx, handle).run())
            .await
            .map_err(|e| InputError(format!("file tailer stopped: {e}")))?
    }
}

/// The tailing loop's state; it runs on a blocking thread (file reads block).
struct Tail {
    config: FileInputConfig,
    store: Store,
    limits: Limits,
    cx: InputContext,
    handle: tokio::runtime::Handle,
    tailers: Vec<Tailer>,
    /// Positions of files not open now (closed after rotation, or from the last run).
    known: HashMap<FileKey, Checkpoint>,
    include: Vec<String>,
    exclude: Vec<glob::Pattern>,
    first_scan: bool,
    dirty: bool,
    /// Since when each remembered file has been missing from discovery.
    unseen_since: HashMap<FileKey, Instant>,
    /// Positions of files whose inode a new file took, kept for content matching.
    retired: Vec<(Checkpoint, Instant)>,
    wake: Arc<watch::Wake>,
}

impl Tail {
    fn new(
        input: FileInput,
        saved: Vec<Checkpoint>,
        cx: InputContext,
        handle: tokio::runtime::Handle,
    ) -> Tail {
        let c = &input.config;
        let limits = Limits {
            max_line_bytes: c.max_line_bytes.0 as usize,
            fingerprint_bytes: c.fingerprint_bytes.0,
            unterminated_line_timeout: c.unterminated_line_timeout.0,
            record_uid: c.record_uid,
            // Compiled (and checked) in `build` already.
            multiline: c.multiline.as_ref().and_then(|m| m.compile().ok()),
            cri: c.format == config::Format::Cri,
        };
        let exclude = c
            .exclude
            .iter()
            .filter_map(|p| glob::Pattern::new(p).ok())
            .collect();
        Tail {
            include: c.include.clone(),
            exclude,
            limits,
            known: saved.into_iter().map(|c| (c.key(), c)).collect(),
            config: input.config,
            store: input.store,
            cx,
            handle,
            tailers: Vec::new(),
            first_scan: true,
            dirty: false,
            unseen_since: HashMap::new(),
            retired: Vec::new(),
            wake: Arc::default(),
        }
    }

    fn run(mut self) -> Result<(), InputError> {
        let mut scratch = vec![0u8; 64 << 10];
        // Kept alive for the loop's lifetime; without it, polling alone finds changes.
        let _watcher = watch::watch(&self.include, Arc::clone(&self.wake));
        if _watcher.is_none() {
            tracing::info!(input = %self.cx.name, "no inotify for these paths; polling only");
        }
        let mut last_discovery: Option<Instant> = None;
        let mut last_checkpoint = Instant::now();
        while !self.cx.shutdown.is_cancelled() {
            let rediscover = self
                .wake
                .rediscover
                .swap(false, std::sync::atomic::Ordering::Relaxed);
            if rediscover
                || last_discovery.is_none_or(|t| t.elapsed() >= self.config.discovery_interval.0)
            {
                self.discover();
                last_discovery = Some(Instant::now());
            }
            let read = match self.read_all(&mut scratch) {
                Some(read) => read,
                None => break, // the pipeline closed
            };
            if last_checkpoint.elapsed() >= self.config.checkpoint_interval.0 {
                self.save_checkpoints();
                last_checkpoint = Instant::now();
            }
            if read == 0 {
                let stop = self.cx.shutdown.clone();
                let wait = self.config.poll_interval.0;
                let wake = Arc::clone(&self.wake);
                self.handle.block_on(async move {
                    tokio::select! {
                        _ = stop.cancelled() => {}
                        _ = wake.notify.notified() => {}
                        _ = tokio::time::sleep(wait) => {}
                    }
                });
            }
        }
        // Give the last batches a moment to be delivered, so the checkpoint covers them.
        let deadline = Instant::now() + ACK_WAIT_AT_SHUTDOWN;
        while self.tailers.iter().any(|t| !t.idle()) && Instant::now() < deadline {
            for t in &mut self.tailers {
                t.poll_acks();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        for t in &mut self.tailers {
            t.poll_acks();
        }
        self.dirty = true;
        self.save_checkpoints();
        Ok(())
    }

    /// One pass over the open files; `None` when the pipeline is closed.
    fn read_all(&mut self, scratch: &mut [u8]) -> Option<usize> {
        let mut total = 0;
        let mut closed = Vec::new();
        let mut failed_gzip = Vec::new();
        let mut recoveries = Vec::new();
        for i in 0..self.tailers.len() {
            let t = &mut self.tailers[i];
            self.dirty |= t.poll_acks();
            match t.truncated() {
                Ok(true) => {
                    // The tail written before the truncation lives on in the rotated copy:
                    // a tailer of its own reads it from here, in acknowledged batches, and
                    // carries the batches still in flight.
                    let copy = t.find_copy();
                    tracing::info!(input = %self.cx.name, path = %t.path.display(), copy = ?copy, "file was truncated; reading it again from the start");
                    if let Some(copy) = copy {
                        let from = t.emitted_offset();
                        let (committed, flights) = t.hand_over();
                        recoveries.push((copy, from, committed, flights));
                    }
                    if t.restart(&self.limits).is_err() {
                        closed.push(i);
                        continue;
                    }
                    self.dirty = true;
                }
                Ok(false) => {}
                Err(_) => {}
            }
            let mut read = 0;
            let mut failed = false;
            loop {
                let mut records = Vec::new();
                let n = match t.read(
                    &self.limits,
                    READ_BUDGET,
                    now_unix_nano(),
                    scratch,
                    BATCH_LINES,
                    &mut records,
                ) {
                    Ok(n) => n,
                    Err(e) => {
                        self.cx.metrics.errors.add(1);
                        tracing::warn!(input = %self.cx.name, path = %t.path.display(), error = %e, "read failed; closing the file");
                        failed = true;
                        break;
                    }
                };
                read += n;
                self.cx.metrics.bytes_received.add(n as u64);
                if records.is_empty() {
                    break;
                }
                self.cx
                    .metrics
                    .truncated
                    .add(std::mem::take(&mut t.truncated_pieces));
                while t.in_flight() >= MAX_IN_FLIGHT {
                    if self.cx.shutdown.is_cancelled() {
                        // Stopping: these lines are read again after the restart.
                        return Some(total + read);
                    }
                    if t.wait_oldest(&self.handle, Duration::from_millis(100)) {
                        self.dirty = true;
                    }
                }
                let lines_sent = records.len();
                let (token, ack) = AckToken::new(lines_sent);
                let batch = Batch::new(records).with_ack(token);
                // Waiting here is the back-pressure: nothing more is read meanwhile.
                if self.handle.block_on(self.cx.sender.send(batch)).is_err() {
                    return None;
                }
                t.sent(ack, lines_sent);
                if read >= READ_BUDGET {
                    break;
                }
            }
            total += read;
            if failed {
                if t.is_gzip() {
                    // A compressed file that could not be read through: forget it, so a
                    // later discovery tries again from its checkpoint (or the start).
                    failed_gzip.push(i);
                } else {
                    closed.push(i);
                }
                continue;
            }
            if read == 0 && t.read_once {
                // Read once: closed when everything is emitted (a last line without newline
                // after `unterminated_line_timeout`) and acknowledged.
                if t.idle() && t.at_rest() {
                    closed.push(i);
                }
            } else if read == 0 {
                if t.attached(&t.path.clone()) {
                    t.detached_since = None;
                    if t.idle() && t.at_rest() && t.quiet_for(self.config.close_idle.0) {
                        closed.push(i);
                    }
                } else if t.detached_since.is_none() {
                    t.detached_since = Some(Instant::now());
                } else if t.quiet_for(self.config.rotate_wait.0) && t.idle() && t.at_rest() {
                    // Renamed or deleted, read to its end, its last line and group emitted
                    // (after their timeouts) and acknowledged.
                    closed.push(i);
                }
            }
        }
        for (copy, from, committed, flights) in recoveries {
            self.open_once(copy, from, committed, flights);
        }
        let mut remove: Vec<(usize, bool)> = closed.into_iter().map(|i| (i, true)).collect();
        remove.extend(failed_gzip.into_iter().map(|i| (i, false)));
        remove.sort_unstable();
        for (i, keep) in remove.into_iter().rev() {
            let t = self.tailers.swap_remove(i);
            if !keep {
                self.cx.metrics.connections.add(-1);
                continue;
            }
            tracing::debug!(input = %self.cx.name, path = %t.path.display(), "closing the file (rotated, deleted or idle)");
            self.cx.metrics.connections.add(-1);
            self.known.insert(t.key, t.checkpoint());
            self.dirty = true;
        }
        Some(total)
    }

    fn save_checkpoints(&mut self) {
        if !self.dirty {
            return;
        }
        let mut all: Vec<Checkpoint> = self.known.values().cloned().collect();
        all.extend(self.tailers.iter().map(Tailer::checkpoint));
        match self.store.save(all) {
            Ok(()) => self.dirty = false,
            Err(e) => {
                self.cx.metrics.errors.add(1);
                tracing::warn!(input = %self.cx.name, path = %self.store.path().display(), error = %e, "cannot write checkpoints; will retry");
            }
        }
    }
}
