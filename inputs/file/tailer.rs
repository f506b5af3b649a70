//! One open file: reads what was appended, cuts it into lines (records), and remembers which
//! offsets are in flight so the delivered position advances only over acknowledged lines.

use super::checkpoint::Checkpoint;
use super::cri::{Joiner, Message};
use super::identity::{FileKey, Fingerprint};
use super::multiline::{Grouper, Piece, Rule};
use crate::ack::{AckReceiver, Delivery};
use crate::record::{AnyValue, LogRecord, Resource, Str};
use bytes::BytesMut;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a tailer needs from the input's config.
#[derive(Clone)]
pub(crate) struct Limits {
    pub max_line_bytes: usize,
    pub fingerprint_bytes: u64,
    pub unterminated_line_timeout: Duration,
    pub record_uid: bool,
    pub multiline: Option<Rule>,
    /// Lines are Kubernetes container logs (CRI format).
    pub cri: bool,
}

/// A sent batch: where it ends in the file, its acknowledgement, the epoch it was read in
/// and how many lines it holds.
pub(crate) struct Flight {
    end: u64,
    ack: AckReceiver,
    epoch: u32,
    lines: usize,
}

pub(crate) struct Tailer {
    /// The path it was found by.
    pub path: PathBuf,
    pub key: FileKey,
    file: File,
    /// For a gzip-compressed file (read once): its decompressed stream. Offsets and the
    /// fingerprint are then in decompressed bytes.
    gzip: Option<Box<flate2::read::MultiGzDecoder<File>>>,
    fingerprint: Fingerprint,
    uid_seed: Option<u64>,
    /// With `format = "cri"`: joins partial container-log lines.
    cri: Option<Joiner>,
    resource: Arc<Resource>,
    /// Offset of the next byte to read from the file.
    read_offset: u64,
    /// Bytes read but not yet cut into lines (an incomplete last line).
    pending: BytesMut,
    /// Offset just past the last record emitted (lines held by an open multiline group
    /// are not emitted yet).
    emitted: u64,
    grouper: Option<Grouper>,
    /// Everything before this offset was delivered (or refused for good).
    pub committed: u64,
    /// Sent batches, oldest first.
    in_flight: VecDeque<Flight>,
    /// Pieces of over-long lines emitted since the input last took the count.
    pub truncated_pieces: u64,
    /// Bumped when the file is truncated: older acknowledgements no longer move the position.
    epoch: u32,
    last_growth: Instant,
    /// A batch was abandoned at the shutdown deadline (not refused by a destination): the
    /// position must not move past it, so it stops moving for this run.
    abandoned: bool,
    /// Since when the path no longer leads to this file (renamed or deleted).
    pub detached_since: Option<Instant>,
    /// Read to its end once and closed (compressed files, rotated copies, files left over
    /// from before a restart); never waited on for growth.
    pub read_once: bool,
}

impl Tailer {
    /// A tailer for `file` (found at `path`), reading from `offset`.
    pub fn new(
        path: PathBuf,
        mut file: File,
        key: FileKey,
        offset: u64,
        limits: &Limits,
    ) -> std::io::Result<Tailer> {
        let fingerprint = Fingerprint::read(&mut file, limits.fingerprint_bytes)?;
        file.seek(SeekFrom::Start(offset))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut attributes = vec![
            (
                Str::from_static("log.file.path"),
                AnyValue::from(path.display().to_string()),
            ),
            (Str::from_static("log.file.name"), AnyValue::from(name)),
        ];
        if limits.cri {
            attributes.extend(super::cri::kubernetes_resource(&path));
        }
        let resource = Arc::new(Resource {
            attributes,
            ..Resource::default()
        });
        Ok(Tailer {
            path,
            key,
            file,
            gzip: None,
            fingerprint,
            uid_seed: None,
            resource,
            read_offset: offset,
            pending: BytesMut::new(),
            emitted: offset,
            grouper: limits
                .multiline
                .clone()
                .map(|rule| Grouper::new(rule, limits.max_line_bytes)),
            cri: limits.cri.then(|| Joiner::new(limits.max_line_bytes)),
            committed: offset,
            in_flight: VecDeque::new(),
            truncated_pieces: 0,
            epoch: 0,
            last_growth: Instant::now(),
            abandoned: false,
            detached_since: None,
            read_once: false,
        })
    }

    /// A tailer for a gzip-compressed file, read once from decompressed offset `offset`;
    /// `fingerprint` is that of its decompressed start.
    pub fn gzip(
        path: PathBuf,
        file: File,
        key: FileKey,
        fingerprint: Fingerprint,
        offset: u64,
        limits: &Limits,
    ) -> std::io::Result<Tailer> {
        let reader = file.try_clone()?;
        let mut t = Tailer::new(path, file, key, 0, limits)?;
        let mut gz = Box::new(flate2::read::MultiGzDecoder::new(reader));
        std::io::copy(&mut gz.by_ref().take(offset), &mut std::io::sink())?;
        t.gzip = Some(gz);
        t.read_once = true;
        t.fingerprint = fingerprint;
        (t.read_offset, t.emitted, t.committed) = (offset, offset, offset);
        Ok(t)
    }

    /// True for a gzip-compressed file.
    pub fn is_gzip(&self) -> bool {
        self.gzip.is_some()
    }

    /// Offset just past the last record emitted.
    pub fn emitted_offset(&self) -> u64 {
        self.emitted
    }

    /// Offset where `pending` begins.
    fn pending_start(&self) -> u64 {
        self.read_offset - self.pending.len() as u64
    }

    /// A line (or piece of one) goes to the multiline grouper, or straight out.
    fn emit(&mut self, piece: Piece, observed: u64, limits: &Limits, out: &mut Vec<LogRecord>) {
        if let Some(joiner) = &mut self.cri {
            if let Some(message) = joiner.push(piece) {
                // Not past a message of the other stream that is still open.
                self.emitted = joiner.safe_offset(message.piece.end);
                out.push(self.cri_record(message, observed, limits));
            }
            return;
        }
        let done = match &mut self.grouper {
            Some(g) => g.push(piece),
            None => Some(piece),
        };
        if let Some(done) = done {
            self.emitted = done.end;
            out.push(self.record(done, observed, limits));
        }
    }

    /// Emits the open multiline group, if any.
    fn flush_group(
        &mut self,
        stale_only: bool,
        observed: u64,
        limits: &Limits,
        out: &mut Vec<LogRecord>,
    ) {
        // A partial container-log message whose last line never came goes out as it is,
        // once it has waited as long as an unterminated line would.
        let timeout = if stale_only {
            limits.unterminated_line_timeout
        } else {
            Duration::ZERO
        };
        while let Some(joiner) = &mut self.cri
            && let Some(message) = joiner.flush_stale(timeout)
        {
            self.emitted = joiner.safe_offset(message.piece.end);
            out.push(self.cri_record(message, observed, limits));
        }
        let done = match &mut self.grouper {
            Some(g) if stale_only => g.flush_if_stale(),
            Some(g) => g.flush(),
            None => None,
        };
        if let Some(done) = done {
            self.emitted = done.end;
            out.push(self.record(done, observed, limits));
        }
    }

    /// Reads what is new (at most `budget` bytes) and appends complete lines to `out`, at
    /// most `max_records` of them (the rest wait in `pending`), so that every batch ends
    /// exactly at [`Tailer::emitted_offset`]. Returns the bytes read.
    /// `scratch` is the input's shared read buffer.
    pub fn read(
        &mut self,
        limits: &Limits,
        budget: usize,
        observed: u64,
        scratch: &mut [u8],
        max_records: usize,
        out: &mut Vec<LogRecord>,
    ) -> std::io::Result<usize> {
        let mut total = 0;
        self.split_lines(limits, observed, max_records, out);
        while total < budget && out.len() < max_records {
            let n = match &mut self.gzip {
                Some(gz) => gz.read(scratch)?,
                None => self.file.read(scratch)?,
            };
            if n == 0 {
                break;
            }
            self.pending.extend_from_slice(&scratch[..n]);
            total += n;
            self.read_offset += n as u64;
            self.split_lines(limits, observed, max_records, out);
        }
        if total > 0 {
            self.last_growth = Instant::now();
            if self.fingerprint.len < limits.fingerprint_bytes && self.gzip.is_none() {
                self.fingerprint = Fingerprint::read(&mut self.file, limits.fingerprint_bytes)?;
            }
        } else if out.is_empty() {
            if !self.pending.is_empty()
                && self.last_growth.elapsed() >= limits.unterminated_line_timeout
            {
                // A last line without its newline, quiet long enough: emit it as it is.
                let start = self.pending_start();
                let bytes = self.pending.split().freeze();
                let piece = Piece {
                    end: start + bytes.len() as u64,
                    bytes,
                    start,
                    truncated: false,
                };
                self.emit(piece, observed, limits, out);
            }
            self.flush_group(true, observed, limits, out);
        }
        Ok(total)
    }

    fn split_lines(
        &mut self,
        limits: &Limits,
        observed: u64,
        max: usize,
        out: &mut Vec<LogRecord>,
    ) {
        while out.len() < max {
            let start = self.pending_start();
            let piece = match memchr::memchr(b'\n', &self.pending) {
                Some(i) if i <= limits.max_line_bytes => {
                    let mut line = self.pending.split_to(i + 1).freeze();
                    line.truncate(i - usize::from(i > 0 && line[i - 1] == b'\r'));
                    Piece {
                        bytes: line,
                        start,
                        end: start + i as u64 + 1,
                        truncated: false,
                    }
                }
                _ if self.pending.len() > limits.max_line_bytes => {
                    let n = limits.max_line_bytes;
                    let bytes = self.pending.split_to(n).freeze();
                    Piece {
                        bytes,
                        start,
                        end: start + n as u64,
                        truncated: true,
                    }
                }
                _ => return,
            };
            self.emit(piece, observed, limits, out);
        }
    }

    /// What `log.record.uid` is derived from: the hash of the file's first line (at most
    /// `fingerprint_bytes`), which never changes once written — unlike the fingerprint of a
    /// file still shorter than `fingerprint_bytes` — so a line read again after a crash gets
    /// the same uid. Read once, when the first record needs it.
    fn uid_seed(&mut self, limits: &Limits) -> u64 {
        use std::os::unix::fs::FileExt;
        if let Some(seed) = self.uid_seed {
            return seed;
        }
        let seed = if self.gzip.is_some() {
            self.fingerprint.hash
        } else {
            let mut head = vec![0u8; limits.fingerprint_bytes as usize];
            let n = self.file.read_at(&mut head, 0).unwrap_or(0);
            let first = memchr::memchr(b'\n', &head[..n]).map_or(n, |i| i + 1);
            Fingerprint::of(&head[..first]).hash
        };
        self.uid_seed = Some(seed);
        seed
    }

    fn cri_record(&mut self, message: Message, observed: u64, limits: &Limits) -> LogRecord {
        let mut record = self.record(message.piece, observed, limits);
        match message.error {
            None => {
                record.time_unix_nano = message.time;
                record.attributes.push((
                    Str::from_static("log.iostream"),
                    AnyValue::from(message.stream),
                ));
            }
            Some(error) => record
                .attributes
                .push((Str::from_static("log.parse_error"), AnyValue::from(error))),
        }
        record
    }

    fn record(&mut self, piece: Piece, observed: u64, limits: &Limits) -> LogRecord {
        let Piece {
            bytes: line,
            start: offset,
            truncated,
            ..
        } = piece;
        let mut record = LogRecord::new(AnyValue::String(Str::from_utf8_lossy(line)), observed);
        record.resource = Arc::clone(&self.resource);
        if truncated {
            self.truncated_pieces += 1;
            record
                .attributes
                .push((Str::from_static("log.truncated"), AnyValue::Bool(true)));
        }
        if limits.record_uid {
            let uid = format!("{:016x}-{:x}-{offset}", self.uid_seed(limits), self.key.ino);
            record
                .attributes
                .push((Str::from_static("log.record.uid"), AnyValue::from(uid)));
        }
        record
    }

    /// Remembers a sent batch of `lines` that ends at the current emitted offset.
    pub fn sent(&mut self, ack: AckReceiver, lines: usize) {
        let end = self.emitted_offset();
        let epoch = self.epoch;
        self.in_flight.push_back(Flight {
            end,
            ack,
            epoch,
            lines,
        });
    }

    /// Lines sent and not yet acknowledged.
    pub fn in_flight(&self) -> usize {
        self.in_flight.iter().map(|f| f.lines).sum()
    }

    /// Waits up to `limit` for the oldest batch's acknowledgement (back-pressure on lines
    /// in flight); true if it came.
    pub fn wait_oldest(&mut self, handle: &tokio::runtime::Handle, limit: Duration) -> bool {
        let Some(flight) = self.in_flight.front_mut() else {
            return true;
        };
        let Some(verdict) = handle.block_on(flight.ack.wait_for(limit)) else {
            return false;
        };
        let (end, epoch) = (flight.end, flight.epoch);
        self.in_flight.pop_front();
        self.settle(end, epoch, &verdict);
        true
    }

    /// Advances `committed` over acknowledged batches, in order; true if it moved.
    pub fn poll_acks(&mut self) -> bool {
        let mut moved = false;
        while let Some(flight) = self.in_flight.front_mut() {
            let Some(verdict) = flight.ack.try_get() else {
                break;
            };
            let (end, epoch) = (flight.end, flight.epoch);
            self.in_flight.pop_front();
            moved |= self.settle(end, epoch, &verdict);
        }
        moved
    }

    /// Nothing read and not emitted (no partial last line or open group waiting).
    pub fn at_rest(&self) -> bool {
        self.pending.is_empty()
            && self
                .grouper
                .as_ref()
                .is_none_or(|g| g.open_start().is_none())
            && self.cri.as_ref().is_none_or(|j| !j.is_open())
    }

    /// Applies one batch's verdict; true if the position moved. Refused for good counts as
    /// done (the engine counted and logged those records; reading them again would not
    /// change the answer); abandoned at shutdown does not, nor does anything after it.
    fn settle(&mut self, end: u64, epoch: u32, verdict: &Delivery) -> bool {
        if matches!(verdict, Delivery::Abandoned { .. }) {
            self.abandoned = true;
        }
        if epoch != self.epoch || self.abandoned {
            return false;
        }
        self.committed = end;
        true
    }

    pub fn idle(&self) -> bool {
        self.in_flight.is_empty()
    }

    /// True when the file was truncated (copytruncate, `> file`): it is shorter than what was
    /// read, or — when it has already grown past that again — it no longer starts with the
    /// bytes it started with. (Checked only when there is something new to read: one small
    /// positioned read.)
    pub fn truncated(&self) -> std::io::Result<bool> {
        use std::os::unix::fs::FileExt;
        if self.gzip.is_some() {
            return Ok(false); // compressed files are read once, never appended to
        }
        let len = self.file.metadata()?.len();
        // Files only grow: shorter than what was read, or than the bytes fingerprinted.
        if len < self.read_offset || len < self.fingerprint.len {
            return Ok(true);
        }
        if len == self.read_offset || self.fingerprint.len == 0 {
            return Ok(false);
        }
        let mut head = vec![0u8; self.fingerprint.len as usize];
        self.file.read_exact_at(&mut head, 0)?;
        Ok(Fingerprint::of(&head) != self.fingerprint)
    }

    /// After a copytruncate: the copy the rotation made beside the file (`NAME.1`,
    /// `NAME-20261129`, either possibly `.gz`), recognized by this file's fingerprint. It
    /// holds the tail written between the last read and the truncation.
    pub fn find_copy(&self) -> Option<PathBuf> {
        let dir = self.path.parent()?;
        let name = self.path.file_name()?.to_str()?.to_owned();
        let mut candidates: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(dir)
            .ok()?
            .filter_map(Result::ok)
            .filter(|e| {
                let n = e.file_name();
                let n = n.to_string_lossy();
                n.len() > name.len()
                    && n.starts_with(&name)
                    && matches!(n.as_bytes()[name.len()], b'.' | b'-' | b'_')
            })
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .collect();
        candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
        candidates.into_iter().map(|(_, p)| p).find(|path| {
            let Ok(file) = File::open(path) else {
                return false;
            };
            let head = if path.extension().is_some_and(|e| e == "gz") {
                Fingerprint::of_gzip(&file, self.fingerprint.len)
            } else {
                let mut file = file;
                Fingerprint::read(&mut file, self.fingerprint.len)
            };
            head.is_ok_and(|f| f == self.fingerprint)
        })
    }

    /// Gives up the batches in flight and the delivered position, for the tailer of the
    /// rotated copy to carry on (same bytes, same offsets).
    pub fn hand_over(&mut self) -> (u64, Vec<Flight>) {
        let epoch = self.epoch;
        let flights = self
            .in_flight
            .drain(..)
            .filter(|f| f.epoch == epoch)
            .collect();
        (self.committed, flights)
    }

    /// Takes over what [`Tailer::hand_over`] gave up; this tailer reads the copy from
    /// `emitted` on, and its position is `committed` until those batches are acknowledged.
    pub fn adopt(&mut self, committed: u64, flights: Vec<Flight>) {
        self.committed = committed;
        let epoch = self.epoch;
        self.in_flight
            .extend(flights.into_iter().map(|f| Flight { epoch, ..f }));
    }

    /// Starts over at the beginning of a truncated file.
    pub fn restart(&mut self, limits: &Limits) -> std::io::Result<()> {
        self.epoch += 1;
        self.file.seek(SeekFrom::Start(0))?;
        self.read_offset = 0;
        self.committed = 0;
        self.emitted = 0;
        self.uid_seed = None;
        self.pending.clear();
        if let Some(g) = &mut self.grouper {
            g.clear();
        }
        if let Some(j) = &mut self.cri {
            j.clear();
        }
        self.fingerprint = Fingerprint::read(&mut self.file, limits.fingerprint_bytes)?;
        Ok(())
    }

    /// Quiet for `wait` (no new bytes).
    pub fn quiet_for(&self, wait: Duration) -> bool {
        self.last_growth.elapsed() >= wait
    }

    /// Whether `path` still leads to this file.
    pub fn attached(&self, path: &Path) -> bool {
        std::fs::metadata(path).is_ok_and(|m| FileKey::of(&m) == self.key)
    }

    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            path: self.path.clone(),
            dev: self.key.dev,
            ino: self.key.ino,
            fingerprint: self.fingerprint.hash,
            fingerprint_len: self.fingerprint.len,
            offset: self.committed,
        }
    }
}
