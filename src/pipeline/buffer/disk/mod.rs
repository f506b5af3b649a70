//! A disk buffer: an output's records kept in an append-only, segmented log under
//! `{data_dir}/buffers/{output}` so that they survive a destination outage, a restart or a
//! `kill -9`.
//!
//! - A router's batch is encoded as one checksummed entry ([`segment`]) and appended; once
//!   the write is done (and synced, with `fsync = "always"`) the batch is acknowledged to
//!   its input: the record is safe once it is in the buffer.
//! - A reader task reads entries back in order into a small memory read-ahead, which the
//!   output's driver drains as usual. Each entry carries an internal acknowledgement; an
//!   acker task advances the delivered position over entries in order, persists it (file
//!   `acked`) and deletes segments once everything in them is delivered.
//! - At start, segments are checked entry by entry; a torn or corrupt stretch is copied
//!   aside (`*.corrupt`), cut off and counted, and every entry before it is kept. What was
//!   not delivered is replayed.
//! - Full (`max_bytes` of segment files): the producer waits (back-pressure) or, with
//!   `when_full = "drop_newest"`, the batch is dropped and counted. A failed write (a full
//!   disk) is cut back so nothing half-written stays, logged, counted, and retried every
//!   second; the input is held back meanwhile.
//!
//! Delivery is at least once: after a crash, entries delivered but not yet recorded in
//! `acked` are sent again.

mod reader;
mod recover;
mod report;
pub mod segment;
#[cfg(test)]
mod tests;

pub use report::{Report, SegmentReport, inspect};

use super::{BufferSettings, MemoryBuffer, Push, WhenFull};
use crate::ack::{AckReceiver, Delivery};
use crate::batch::Slice;
use crate::ledger::InputId;
use crate::metrics::OutputMetrics;
use recover::{create_segment, write_acked};
use segment::MAGIC;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Smallest `max_bytes` a disk buffer accepts.
pub const MIN_MAX_BYTES: u64 = 1 << 20;
/// The file holding the delivered position.
pub const ACKED_FILE: &str = "acked";
pub(super) const LOCK_FILE: &str = "lock";
/// How often a failed write is tried again.
const WRITE_RETRY: Duration = Duration::from_secs(1);
/// Least time between two log lines about failed writes.
const ERROR_LOG_EVERY: Duration = Duration::from_secs(10);

/// When a disk buffer forces written entries to stable storage.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Fsync {
    /// After every entry, before its input is acknowledged: survives power loss.
    Always,
    /// Every `fsync_interval` (and at segment ends): survives a crash of logferry; a power
    /// loss may take the last interval.
    #[default]
    Interval,
}

/// Why a disk buffer could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("disk buffer {dir}: cannot {what}: {source}")]
    Io {
        dir: PathBuf,
        what: &'static str,
        #[source]
        source: io::Error,
    },
    #[error(
        "disk buffer {0} is in use (its lock file is held: by another logferry process, or by an output of this one still draining); give each process its own data_dir"
    )]
    Locked(PathBuf),
}

/// A place in the buffer: a segment and a byte offset in it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub seg: u64,
    pub offset: u64,
}

#[derive(Debug)]
pub(super) struct State {
    /// End of the entries written so far.
    written: Pos,
    /// Everything before this is delivered.
    acked: Pos,
    /// Segment id → bytes.
    segments: BTreeMap<u64, u64>,
    disk_bytes: u64,
    producers: usize,
    closed: bool,
    last_error_log: Option<Instant>,
    /// Entries written and not yet delivered.
    unacked: u64,
}

pub(super) struct Writer {
    dir: PathBuf,
    file: File,
    id: u64,
    len: u64,
    segment_limit: u64,
    fsync: Fsync,
    interval: Duration,
    last_sync: Instant,
    dirty: bool,
}

/// A disk buffer; see the module docs.
pub(crate) struct DiskBuffer {
    name: Arc<str>,
    dir: PathBuf,
    settings: BufferSettings,
    metrics: Arc<OutputMetrics>,
    writer: Mutex<Writer>,
    state: Mutex<State>,
    space: Notify,
    data: Notify,
    hard_stop: CancellationToken,
    /// Cancelled once every producer has finished.
    closed: CancellationToken,
    _lock: File,
}

impl std::fmt::Debug for DiskBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskBuffer")
            .field("dir", &self.dir)
            .finish()
    }
}

/// A disk buffer just opened: what it held from an earlier run, and where reading starts.
pub(crate) struct Opened {
    pub buffer: Arc<DiskBuffer>,
    /// Undelivered records found, by the name of the input they came from.
    pub replay: Vec<(String, u64)>,
    start: Pos,
}

/// The inputs feeding an output, for giving replayed entries back to an input.
pub(crate) struct Feeds {
    /// (input id, input name) of every input routed to the output.
    pub inputs: Vec<(InputId, Arc<str>)>,
}

impl Feeds {
    pub(crate) fn find(&self, name: &str) -> (InputId, Arc<str>) {
        // An entry from an input that is no longer configured is charged to the first
        // input the output still takes, so the ledger keeps balancing.
        let found = self.inputs.iter().find(|(_, n)| &**n == name);
        let (id, n) = found
            .or(self.inputs.first())
            .expect("an output takes an input");
        (*id, Arc::clone(n))
    }
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

pub(super) fn segment_limit(max_bytes: u64) -> u64 {
    (max_bytes / 8).clamp(256 << 10, 64 << 20)
}

impl DiskBuffer {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_writer(&self) -> MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn add_producer(&self) {
        self.lock().producers += 1;
    }

    pub(crate) fn producer_done(&self) {
        let mut state = self.lock();
        state.producers -= 1;
        if state.producers == 0 {
            state.closed = true;
            drop(state);
            self.closed.cancel();
            self.data.notify_one();
        }
    }

    /// Appends a slice durably, then acknowledges it to its input.
    pub(crate) async fn push(self: &Arc<Self>, mut slice: Slice) -> Push {
        // Encoding is the costly part: off the runtime's threads.
        let (back, entry) = tokio::task::spawn_blocking(move || {
            let mut entry = Vec::with_capacity(slice.bytes() / 2 + 64);
            segment::encode_entry(
                slice.batch.input_name(),
                slice.records().iter(),
                now_nanos(),
                &mut entry,
            );
            (slice, entry)
        })
        .await
        .expect("encoding an entry does not panic");
        slice = back;
        let entry = Arc::new(entry);
        loop {
            let space = self.space.notified();
            tokio::pin!(space);
            {
                let state = self.lock();
                let empty = state.unacked == 0;
                if empty || state.disk_bytes + entry.len() as u64 <= self.settings.max_bytes.0 {
                    break;
                }
                if self.settings.when_full == WhenFull::DropNewest {
                    return Push::Full(slice);
                }
                space.as_mut().enable();
            }
            tokio::select! {
                _ = &mut space => {}
                _ = self.hard_stop.cancelled() => return Push::Stopped(slice),
            }
        }
        loop {
            let this = Arc::clone(self);
            let bytes = Arc::clone(&entry);
            let written = tokio::task::spawn_blocking(move || this.append(&bytes))
                .await
                .expect("appending an entry does not panic");
            match written {
                Ok(()) => break,
                Err(e) => {
                    self.metrics.buffer_write_errors.add(1);
                    let log = {
                        let mut state = self.lock();
                        let due = state
                            .last_error_log
                            .is_none_or(|at| at.elapsed() >= ERROR_LOG_EVERY);
                        if due {
                            state.last_error_log = Some(Instant::now());
                        }
                        due
                    };
                    if log {
                        tracing::error!(output = %self.name, dir = %self.dir.display(), error = %e, "disk buffer: cannot write; holding the input back and trying again every second");
                    }
                    if self.settings.when_full == WhenFull::DropNewest {
                        return Push::Full(slice);
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(WRITE_RETRY) => {}
                        _ = self.hard_stop.cancelled() => return Push::Stopped(slice),
                    }
                }
            }
        }
        if let Some(ack) = slice.ack.take() {
            ack.delivered();
        }
        Push::Accepted
    }

    /// Writes one entry (rotating segments as they fill) and publishes it to the reader.
    fn append(&self, entry: &[u8]) -> io::Result<()> {
        let mut w = self.lock_writer();
        let mut rotated = None;
        if w.len > MAGIC.len() as u64 && w.len + entry.len() as u64 > w.segment_limit {
            if w.dirty {
                w.file.sync_data()?;
                w.dirty = false;
            }
            let id = w.id + 1;
            w.file = create_segment(&w.dir, id)?;
            w.id = id;
            w.len = MAGIC.len() as u64;
            rotated = Some(id);
        }
        if let Some(id) = rotated {
            let mut state = self.lock();
            state.segments.insert(id, MAGIC.len() as u64);
            state.disk_bytes += MAGIC.len() as u64;
            state.written = Pos {
                seg: id,
                offset: MAGIC.len() as u64,
            };
            self.metrics.buffer_disk_bytes.add(MAGIC.len() as i64);
        }
        let at = w.len;
        if let Err(e) = w.file.write_all_at(entry, at) {
            // Nothing half-written may stay: the reader and the next start must see whole
            // entries only.
            let _ = w.file.set_len(at);
            return Err(e);
        }
        let sync = match w.fsync {
            Fsync::Always => true,
            Fsync::Interval => w.last_sync.elapsed() >= w.interval,
        };
        if sync {
            if let Err(e) = w.file.sync_data() {
                let _ = w.file.set_len(at);
                return Err(e);
            }
            w.last_sync = Instant::now();
            w.dirty = false;
        } else {
            w.dirty = true;
        }
        w.len = at + entry.len() as u64;
        let end = Pos {
            seg: w.id,
            offset: w.len,
        };
        {
            let mut state = self.lock();
            state.written = end;
            *state.segments.entry(end.seg).or_default() = end.offset;
            state.disk_bytes += entry.len() as u64;
            state.unacked += 1;
        }
        drop(w);
        self.metrics.buffer_disk_bytes.add(entry.len() as i64);
        self.data.notify_one();
        Ok(())
    }

    /// Syncs written entries if some are not yet on stable storage.
    fn sync(&self) {
        let mut w = self.lock_writer();
        if w.dirty {
            match w.file.sync_data() {
                Ok(()) => w.dirty = false,
                Err(e) => {
                    tracing::warn!(output = %self.name, error = %e, "disk buffer: sync failed")
                }
            }
            w.last_sync = Instant::now();
        }
    }

    /// Records entries up to `end` as delivered: persists the position and deletes the
    /// segments that hold nothing undelivered.
    fn delivered_up_to(&self, end: Pos, persist: bool) {
        let doomed: Vec<(u64, u64)> = {
            let mut state = self.lock();
            state.acked = end;
            state.unacked = state.unacked.saturating_sub(1);
            let written_seg = state.written.seg;
            let mut doomed: Vec<(u64, u64)> = state
                .segments
                .range(..end.seg)
                .map(|(id, size)| (*id, *size))
                .collect();
            if end.seg < written_seg && state.segments.get(&end.seg) == Some(&end.offset) {
                doomed.push((end.seg, end.offset));
            }
            for (id, size) in &doomed {
                state.segments.remove(id);
                state.disk_bytes -= size;
            }
            doomed
        };
        if (persist || !doomed.is_empty())
            && let Err(e) = write_acked(&self.dir, end)
        {
            tracing::warn!(output = %self.name, dir = %self.dir.display(), error = %e, "disk buffer: cannot record the delivered position; entries may be sent again after a restart");
        }
        for (id, size) in doomed {
            let _ = std::fs::remove_file(self.dir.join(segment::file_name(id)));
            self.metrics.buffer_disk_bytes.add(-(size as i64));
        }
        self.space.notify_waiters();
    }
}

/// An entry handed to the driver, waiting for its verdict.
pub(super) struct Pending {
    end: Pos,
    verdict: AckReceiver,
}

/// Starts the tasks of an opened buffer: the reader (into `read_ahead`, which the driver
/// drains), the acker and the periodic sync. They end with the buffer.
pub(crate) fn start(
    opened: Opened,
    read_ahead: Arc<MemoryBuffer>,
    feeds: Feeds,
    tasks: &mut tokio::task::JoinSet<()>,
) -> Arc<DiskBuffer> {
    let buffer = opened.buffer;
    let (tx, rx) = mpsc::unbounded_channel();
    read_ahead.add_producer();
    let reader = reader::Reader {
        dir: buffer.dir.clone(),
        pos: opened.start,
        file: None,
    };
    tasks.spawn(reader::read(
        Arc::clone(&buffer),
        reader,
        read_ahead,
        feeds,
        tx,
    ));
    tasks.spawn(ack(Arc::clone(&buffer), rx));
    tasks.spawn(sync(Arc::clone(&buffer)));
    buffer
}

async fn ack(buffer: Arc<DiskBuffer>, mut pending: mpsc::UnboundedReceiver<Pending>) {
    while let Some(Pending { end, verdict }) = pending.recv().await {
        match verdict.wait().await {
            // Not delivered because logferry is stopping: it stays for the next start, and so
            // does everything after it.
            Delivery::Abandoned { .. } => break,
            Delivery::Delivered | Delivery::Rejected { .. } => {}
        }
        buffer.delivered_up_to(end, pending.is_empty());
    }
    // What was delivered before a stop is recorded, so the next start does not send it again.
    let acked = buffer.lock().acked;
    if let Err(e) = write_acked(&buffer.dir, acked) {
        tracing::warn!(output = %buffer.name, error = %e, "disk buffer: cannot record the delivered position");
    }
}

async fn sync(buffer: Arc<DiskBuffer>) {
    let every = buffer.settings.fsync_interval.0;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = buffer.hard_stop.cancelled() => break,
            _ = buffer.closed.cancelled() => break,
        }
        let this = Arc::clone(&buffer);
        let _ = tokio::task::spawn_blocking(move || this.sync()).await;
    }
    let _ = tokio::task::spawn_blocking(move || buffer.sync()).await;
}
