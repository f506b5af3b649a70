//! `logferry buffer inspect|verify`: what a disk buffer holds, read without changing it and
//! without starting anything.

use super::recover::read_acked;
use super::segment::{self, Corruption};
use super::{ACKED_FILE, LOCK_FILE, Pos};
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

/// One segment file, checked.
#[derive(Debug)]
pub struct SegmentReport {
    pub id: u64,
    pub path: PathBuf,
    pub bytes: u64,
    pub entries: usize,
    pub records: u64,
    /// Records after the delivered position.
    pub undelivered: u64,
    /// The first corrupt byte and what is wrong there.
    pub corruption: Option<(u64, Corruption)>,
    /// The segment a running logferry is appending to: an entry cut short at its end is
    /// one being written, not corruption.
    pub writing: bool,
}

impl SegmentReport {
    /// Corruption, leaving out the end of the segment being written.
    fn corrupt(&self) -> Option<&(u64, Corruption)> {
        self.corruption.as_ref().filter(|(_, why)| {
            !(self.writing
                && matches!(
                    why,
                    Corruption::TornHeader(_) | Corruption::TornPayload { .. }
                ))
        })
    }
}

/// A disk buffer directory, checked.
#[derive(Debug)]
pub struct Report {
    pub dir: PathBuf,
    /// The delivered position (`None`: nothing delivered yet, or no `acked` file).
    pub acked: Option<Pos>,
    pub segments: Vec<SegmentReport>,
    /// Corrupt stretches set aside at earlier starts.
    pub set_aside: Vec<PathBuf>,
    /// A running logferry holds the buffer: the figures are a snapshot.
    pub in_use: bool,
}

impl Report {
    /// True when no segment has corruption.
    pub fn is_clean(&self) -> bool {
        self.segments.iter().all(|s| s.corrupt().is_none())
    }

    /// Records not yet delivered.
    pub fn undelivered(&self) -> u64 {
        self.segments.iter().map(|s| s.undelivered).sum()
    }

    /// A human-readable table.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "disk buffer {}", self.dir.display());
        if self.in_use {
            let _ = writeln!(
                out,
                "in use by a running logferry: figures are a snapshot; its last segment is being written"
            );
        }
        match self.acked {
            Some(p) => {
                let _ = writeln!(out, "delivered up to segment {} byte {}", p.seg, p.offset);
            }
            None => {
                let _ = writeln!(
                    out,
                    "delivered position: none recorded ({ACKED_FILE} missing)"
                );
            }
        }
        let _ = writeln!(
            out,
            "{:>20}  {:>12}  {:>8}  {:>10}  {:>11}  status",
            "segment", "bytes", "entries", "records", "undelivered"
        );
        for s in &self.segments {
            let status = match (s.corrupt(), &s.corruption) {
                (Some((at, why)), _) => format!("CORRUPT at byte {at}: {why}"),
                (None, Some((at, _))) => format!("ok (being written from byte {at})"),
                (None, None) => "ok".to_string(),
            };
            let _ = writeln!(
                out,
                "{:>20}  {:>12}  {:>8}  {:>10}  {:>11}  {status}",
                s.id, s.bytes, s.entries, s.records, s.undelivered
            );
        }
        let _ = writeln!(
            out,
            "total: {} segments, {} bytes, {} records, {} undelivered, {} corrupt",
            self.segments.len(),
            self.segments.iter().map(|s| s.bytes).sum::<u64>(),
            self.segments.iter().map(|s| s.records).sum::<u64>(),
            self.undelivered(),
            self.segments
                .iter()
                .filter(|s| s.corrupt().is_some())
                .count()
        );
        for path in &self.set_aside {
            let _ = writeln!(out, "set aside earlier: {}", path.display());
        }
        out
    }
}

/// Checks every segment in `dir`, reading only.
pub fn inspect(dir: &Path) -> io::Result<Report> {
    if !dir.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{} is not a directory", dir.display()),
        ));
    }
    // Checked before and after reading: a logferry that starts or stops meanwhile still
    // counts as running.
    let in_use_before = held_by_another(dir);
    let acked = read_acked(dir);
    let from = acked.unwrap_or_default();
    let mut segments = Vec::new();
    for (id, path) in segment::list(dir)? {
        let scan = match segment::scan(&path) {
            Ok(scan) => scan,
            // Deleted by a running logferry once delivered, between listing and reading.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let records = scan.entries.iter().map(|e| u64::from(e.2.records)).sum();
        let undelivered = scan
            .entries
            .iter()
            .filter(|(start, _, _)| {
                (Pos {
                    seg: id,
                    offset: *start,
                }) >= from
            })
            .map(|e| u64::from(e.2.records))
            .sum();
        segments.push(SegmentReport {
            id,
            path,
            bytes: scan.file_len,
            entries: scan.entries.len(),
            records,
            undelivered,
            corruption: scan.corruption,
            writing: false,
        });
    }
    let in_use = in_use_before || held_by_another(dir);
    if in_use && let Some(last) = segments.last_mut() {
        last.writing = true;
    }
    let mut set_aside: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "corrupt"))
        .collect();
    set_aside.sort();
    Ok(Report {
        dir: dir.to_owned(),
        acked,
        segments,
        set_aside,
        in_use,
    })
}

/// True when a process holds the buffer's lock (a shared lock cannot be had). The shared
/// lock is held for an instant; a logferry taking the lock meanwhile waits it out
/// (`take_lock` retries).
fn held_by_another(dir: &Path) -> bool {
    let Ok(lock) = std::fs::File::open(dir.join(LOCK_FILE)) else {
        return false;
    };
    matches!(
        lock.try_lock_shared(),
        Err(std::fs::TryLockError::WouldBlock)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A segment of two entries whose second is cut short, as the segment a running
    /// logferry appends to can be when read.
    fn torn_buffer(dir: &Path) {
        let record = crate::record::LogRecord::default();
        let mut data = segment::MAGIC.to_vec();
        segment::encode_entry("in", std::iter::once(&record), 1, &mut data);
        let whole = data.len();
        segment::encode_entry("in", std::iter::once(&record), 2, &mut data);
        data.truncate(whole + 5);
        std::fs::write(dir.join(segment::file_name(1)), data).unwrap();
        std::fs::write(dir.join(LOCK_FILE), b"").unwrap();
    }

    #[test]
    fn a_torn_tail_is_corruption_unless_a_running_logferry_is_writing_it() {
        let dir = tempfile::tempdir().unwrap();
        torn_buffer(dir.path());
        let report = inspect(dir.path()).unwrap();
        assert!(!report.in_use);
        assert!(!report.is_clean(), "{}", report.render());

        let lock = std::fs::File::options()
            .write(true)
            .open(dir.path().join(LOCK_FILE))
            .unwrap();
        lock.try_lock().unwrap();
        let report = inspect(dir.path()).unwrap();
        let text = report.render();
        assert!(report.in_use && report.is_clean(), "{text}");
        assert!(text.contains("being written from byte"), "{text}");
        assert_eq!(report.segments[0].entries, 1);
    }
}
