//! `logferry buffer inspect|verify`: what a disk buffer holds, read without changing it and
//! without starting anything.

use super::recover::read_acked;
use super::segment::{self, Corruption};
use super::{ACKED_FILE, Pos};
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
}

impl Report {
    /// True when no segment has corruption.
    pub fn is_clean(&self) -> bool {
        self.segments.iter().all(|s| s.corruption.is_none())
    }

    /// Records not yet delivered.
    pub fn undelivered(&self) -> u64 {
        self.segments.iter().map(|s| s.undelivered).sum()
    }

    /// A human-readable table.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "disk buffer {}", self.dir.display());
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
            let status = match &s.corruption {
                None => "ok".to_string(),
                Some((at, why)) => format!("CORRUPT at byte {at}: {why}"),
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
                .filter(|s| s.corruption.is_some())
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
    let acked = read_acked(dir);
    let from = acked.unwrap_or_default();
    let mut segments = Vec::new();
    for (id, path) in segment::list(dir)? {
        let scan = segment::scan(&path)?;
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
        });
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
    })
}
