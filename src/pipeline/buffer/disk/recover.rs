//! Opening a disk buffer: the lock, the delivered position, every segment checked entry by
//! entry, corrupt stretches set aside, undelivered records counted for replay, and a fresh
//! segment to write.

use super::segment::{self, Corruption, MAGIC};
use super::{
    ACKED_FILE, DiskBuffer, LOCK_FILE, OpenError, Opened, Pos, State, Writer, segment_limit,
};
use crate::metrics::OutputMetrics;
use crate::pipeline::buffer::BufferSettings;
use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub(super) fn read_acked(dir: &Path) -> Option<Pos> {
    let text = std::fs::read_to_string(dir.join(ACKED_FILE)).ok()?;
    let mut parts = text.split_whitespace().map(str::parse::<u64>);
    match (parts.next(), parts.next()) {
        (Some(Ok(seg)), Some(Ok(offset))) => Some(Pos { seg, offset }),
        _ => None,
    }
}

pub(super) fn write_acked(dir: &Path, pos: Pos) -> io::Result<()> {
    let tmp = dir.join(format!("{ACKED_FILE}.tmp"));
    std::fs::write(&tmp, format!("{} {}\n", pos.seg, pos.offset))?;
    std::fs::rename(&tmp, dir.join(ACKED_FILE))
}

pub(super) fn create_segment(dir: &Path, id: u64) -> io::Result<File> {
    let path = dir.join(segment::file_name(id));
    let file = File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    if let Err(e) = file.write_all_at(MAGIC, 0) {
        drop(file);
        let _ = std::fs::remove_file(&path);
        return Err(e);
    }
    Ok(file)
}

/// Copies a segment's bytes from `at` on to a `.corrupt` file beside it (best effort).
fn set_aside(path: &Path, at: u64) -> Option<PathBuf> {
    let data = std::fs::read(path).ok()?;
    let aside = PathBuf::from(format!("{}.{at}.corrupt", path.display()));
    std::fs::write(&aside, data.get(at as usize..)?).ok()?;
    Some(aside)
}

/// Creates `dir` if needed and takes its lock file: one process (and one output) per buffer.
fn take_lock(dir: &Path) -> Result<File, OpenError> {
    let fail = |what, source| OpenError::Io {
        dir: dir.to_owned(),
        what,
        source,
    };
    std::fs::create_dir_all(dir).map_err(|e| fail("create the directory", e))?;
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(LOCK_FILE))
        .map_err(|e| fail("open its lock file", e))?;
    // A few tries: `logferry buffer inspect|verify` holds a shared lock for an instant.
    for _ in 0..LOCK_TRIES {
        match lock.try_lock() {
            Ok(()) => return Ok(lock),
            Err(std::fs::TryLockError::WouldBlock) => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(fail("lock its lock file", e)),
        }
    }
    Err(OpenError::Locked(dir.into()))
}

/// Tries at taking a buffer's lock, 20 ms apart.
const LOCK_TRIES: usize = 10;

impl DiskBuffer {
    /// Checks that a buffer could be opened in `dir` now (directory and lock), changing
    /// nothing that matters: a reload asks before it replaces anything.
    pub(crate) fn probe(dir: &Path) -> Result<(), OpenError> {
        take_lock(dir).map(drop)
    }

    /// Opens (or creates) the buffer in `dir`: checks every segment, sets corrupt stretches
    /// aside, and starts a fresh segment for writing.
    pub(crate) fn open(
        dir: &Path,
        name: Arc<str>,
        settings: BufferSettings,
        metrics: Arc<OutputMetrics>,
        hard_stop: CancellationToken,
    ) -> Result<Opened, OpenError> {
        let fail = |what, source| OpenError::Io {
            dir: dir.to_owned(),
            what,
            source,
        };
        let lock = take_lock(dir)?;
        let acked = read_acked(dir).unwrap_or_default();
        let mut segments = BTreeMap::new();
        let mut replay: Vec<(String, u64)> = Vec::new();
        let mut unacked = 0;
        for (id, path) in segment::list(dir).map_err(|e| fail("list the directory", e))? {
            if id < acked.seg {
                // Delivered; its deletion was cut short.
                let _ = std::fs::remove_file(&path);
                continue;
            }
            let scan = segment::scan(&path).map_err(|e| fail("read a segment", e))?;
            if let Some((at, why)) = &scan.corruption {
                metrics.buffer_corrupt.add(1);
                let aside = set_aside(&path, *at);
                tracing::warn!(output = %name, segment = %path.display(), offset = at, error = %why, set_aside = ?aside, lost_bytes = scan.file_len - at, "disk buffer: corrupt or torn data found and set aside; the entries before it are kept");
                if matches!(why, Corruption::BadMagic) {
                    let _ = std::fs::remove_file(&path);
                    continue;
                }
                File::options()
                    .write(true)
                    .open(&path)
                    .and_then(|f| f.set_len(scan.good_len))
                    .map_err(|e| fail("cut a corrupt segment short", e))?;
            }
            for (start, _, meta) in &scan.entries {
                if (Pos {
                    seg: id,
                    offset: *start,
                }) >= acked
                {
                    unacked += 1;
                    match replay.iter_mut().find(|(n, _)| *n == meta.input) {
                        Some((_, n)) => *n += u64::from(meta.records),
                        None => replay.push((meta.input.clone(), u64::from(meta.records))),
                    }
                }
            }
            segments.insert(id, scan.good_len);
        }
        let start = match segments.first_key_value() {
            Some((&first, _)) if first == acked.seg => Pos {
                seg: first,
                offset: acked.offset.max(MAGIC.len() as u64),
            },
            Some((&first, _)) => Pos {
                seg: first,
                offset: MAGIC.len() as u64,
            },
            None => Pos::default(),
        };
        // Above the recorded position too: a stale `acked` naming a later segment than any
        // left must not make the next start delete new segments as delivered.
        let id = segments
            .last_key_value()
            .map_or(0, |(id, _)| *id)
            .max(acked.seg)
            + 1;
        let file = create_segment(dir, id).map_err(|e| fail("create a segment", e))?;
        segments.insert(id, MAGIC.len() as u64);
        let written = Pos {
            seg: id,
            offset: MAGIC.len() as u64,
        };
        let start = if segments.len() == 1 { written } else { start };
        let disk_bytes = segments.values().sum();
        metrics.buffer_disk_bytes.add(disk_bytes as i64);
        let writer = Writer {
            dir: dir.to_owned(),
            file,
            id,
            len: MAGIC.len() as u64,
            segment_limit: segment_limit(settings.max_bytes.0),
            fsync: settings.fsync,
            interval: settings.fsync_interval.0,
            last_sync: Instant::now(),
            dirty: false,
        };
        let buffer = Arc::new(DiskBuffer {
            name,
            dir: dir.to_owned(),
            settings,
            metrics,
            writer: Mutex::new(writer),
            state: Mutex::new(State {
                written,
                acked: start,
                segments,
                disk_bytes,
                producers: 0,
                closed: false,
                last_error_log: None,
                unacked,
            }),
            space: Notify::new(),
            data: Notify::new(),
            hard_stop,
            closed: CancellationToken::new(),
            _lock: lock,
        });
        Ok(Opened {
            buffer,
            replay,
            start,
        })
    }
}
