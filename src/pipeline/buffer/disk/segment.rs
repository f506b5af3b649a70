//! The on-disk format of a disk buffer: numbered segment files, each a magic header followed
//! by entries. An entry is one batch (or the part of one routed to this output):
//!
//! ```text
//! u32 LE  payload length
//! u32 LE  CRC-32 (IEEE) of the payload
//! payload:
//!   u8      format version (1)
//!   u32 LE  record count
//!   u64 LE  when it was written (Unix nanoseconds)
//!   u16 LE  input name length, then the input name (UTF-8)
//!   ...     the records as an OTLP ExportLogsServiceRequest (protobuf)
//! ```
//!
//! OTLP keeps every field of the record, and any OTLP tool can decode a payload. The checksum
//! catches torn writes and bit rot; the length is checked against the file before anything is
//! allocated, so a corrupt length cannot ask for gigabytes.

use crate::record::LogRecord;
use bytes::Bytes;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// First bytes of every segment file.
pub const MAGIC: &[u8; 8] = b"LFBUF01\n";
/// Bytes before an entry's payload.
pub const ENTRY_HEADER: usize = 8;
/// Largest payload accepted when reading; a larger length means corruption.
pub const MAX_PAYLOAD: usize = 256 << 20;
const VERSION: u8 = 1;
/// Payload bytes before the input name.
const FIXED: usize = 1 + 4 + 8 + 2;

/// File name of segment `id`.
pub fn file_name(id: u64) -> String {
    format!("{id:020}.seg")
}

/// The id of a segment file name, if it is one.
pub fn parse_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".seg")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The segments in `dir`, oldest first.
pub fn list(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(id) = entry.file_name().to_str().and_then(parse_name) {
            found.push((id, entry.path()));
        }
    }
    found.sort_unstable_by_key(|(id, _)| *id);
    Ok(found)
}

/// Appends one entry for `records` from input `input` to `buf`.
pub fn encode_entry<'a>(
    input: &str,
    records: impl ExactSizeIterator<Item = &'a LogRecord>,
    written_unix_nanos: u64,
    buf: &mut Vec<u8>,
) {
    let start = buf.len();
    buf.extend_from_slice(&[0; ENTRY_HEADER]);
    buf.push(VERSION);
    buf.extend_from_slice(&(records.len() as u32).to_le_bytes());
    buf.extend_from_slice(&written_unix_nanos.to_le_bytes());
    let name = &input.as_bytes()[..input.len().min(u16::MAX as usize)];
    buf.extend_from_slice(&(name.len() as u16).to_le_bytes());
    buf.extend_from_slice(name);
    crate::record::otlp::encode_protobuf(records, buf);
    let payload = &buf[start + ENTRY_HEADER..];
    let len = payload.len() as u32;
    let crc = crc32fast::hash(payload);
    buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// What an entry's payload says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryMeta {
    pub records: u32,
    pub written_unix_nanos: u64,
    pub input: String,
    /// Where the OTLP bytes start within the payload.
    pub body_at: usize,
}

/// Why bytes are not a valid entry.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Corruption {
    #[error("not a logferry buffer segment (bad magic bytes)")]
    BadMagic,
    #[error("entry header cut short ({0} bytes left in the file)")]
    TornHeader(usize),
    #[error("entry length {len} is larger than the {left} bytes left in the file")]
    TornPayload { len: usize, left: usize },
    #[error("entry length {0} is impossible")]
    BadLength(usize),
    #[error("checksum mismatch (stored {stored:08x}, computed {computed:08x})")]
    Checksum { stored: u32, computed: u32 },
    #[error("unknown entry format version {0}")]
    Version(u8),
    #[error("entry header fields are inconsistent")]
    BadFields,
    #[error("records do not decode: {0}")]
    Records(String),
}

/// Checks a payload's own fields (the checksum has been verified).
pub fn parse_payload(payload: &[u8]) -> Result<EntryMeta, Corruption> {
    if payload.len() < FIXED {
        return Err(Corruption::BadFields);
    }
    if payload[0] != VERSION {
        return Err(Corruption::Version(payload[0]));
    }
    let records = u32::from_le_bytes(payload[1..5].try_into().expect("4 bytes"));
    let written = u64::from_le_bytes(payload[5..13].try_into().expect("8 bytes"));
    let name_len = u16::from_le_bytes(payload[13..15].try_into().expect("2 bytes")) as usize;
    let name = payload
        .get(FIXED..FIXED + name_len)
        .ok_or(Corruption::BadFields)?;
    let input = std::str::from_utf8(name).map_err(|_| Corruption::BadFields)?;
    Ok(EntryMeta {
        records,
        written_unix_nanos: written,
        input: input.to_owned(),
        body_at: FIXED + name_len,
    })
}

/// Decodes the records of a verified payload (held in `payload`, which they share).
pub fn decode_records(payload: &Bytes, meta: &EntryMeta) -> Result<Vec<LogRecord>, Corruption> {
    let body = payload.slice(meta.body_at..);
    let records = crate::record::otlp::decode_records(&body)
        .map_err(|e| Corruption::Records(e.to_string()))?;
    if records.len() != meta.records as usize {
        return Err(Corruption::Records(format!(
            "{} records decoded, {} expected",
            records.len(),
            meta.records
        )));
    }
    Ok(records)
}

/// Takes the next entry from `data` at `at`: its payload range and metadata.
pub fn next_entry(
    data: &[u8],
    at: usize,
) -> Result<(std::ops::Range<usize>, EntryMeta), Corruption> {
    let left = data.len() - at;
    if left < ENTRY_HEADER {
        return Err(Corruption::TornHeader(left));
    }
    let len = u32::from_le_bytes(data[at..at + 4].try_into().expect("4 bytes")) as usize;
    let stored = u32::from_le_bytes(data[at + 4..at + 8].try_into().expect("4 bytes"));
    if !(FIXED..=MAX_PAYLOAD).contains(&len) {
        return Err(Corruption::BadLength(len));
    }
    if len > left - ENTRY_HEADER {
        return Err(Corruption::TornPayload {
            len,
            left: left - ENTRY_HEADER,
        });
    }
    let range = at + ENTRY_HEADER..at + ENTRY_HEADER + len;
    let computed = crc32fast::hash(&data[range.clone()]);
    if computed != stored {
        return Err(Corruption::Checksum { stored, computed });
    }
    let meta = parse_payload(&data[range.clone()])?;
    Ok((range, meta))
}

/// One segment, checked entry by entry.
#[derive(Debug, Default)]
pub struct Scan {
    /// (start offset, end offset, metadata) of every good entry, in order.
    pub entries: Vec<(u64, u64, EntryMeta)>,
    /// Where the good entries end.
    pub good_len: u64,
    /// The file's length.
    pub file_len: u64,
    /// The first problem found, and where; everything from there on is unusable.
    pub corruption: Option<(u64, Corruption)>,
}

/// Reads a whole segment and checks every entry, including that its records decode.
pub fn scan(path: &Path) -> io::Result<Scan> {
    let mut data = Vec::new();
    File::open(path)?.read_to_end(&mut data)?;
    let data = Bytes::from(data);
    let mut scan = Scan {
        file_len: data.len() as u64,
        ..Scan::default()
    };
    if data.len() < MAGIC.len() || &data[..MAGIC.len()] != MAGIC {
        scan.corruption = Some((0, Corruption::BadMagic));
        return Ok(scan);
    }
    let mut at = MAGIC.len();
    scan.good_len = at as u64;
    while at < data.len() {
        let checked = next_entry(&data, at).and_then(|(range, meta)| {
            decode_records(&data.slice(range.clone()), &meta)?;
            Ok((range, meta))
        });
        match checked {
            Ok((range, meta)) => {
                scan.entries.push((at as u64, range.end as u64, meta));
                at = range.end;
                scan.good_len = at as u64;
            }
            Err(corruption) => {
                scan.corruption = Some((at as u64, corruption));
                break;
            }
        }
    }
    Ok(scan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{AnyValue, LogRecord};

    fn records(n: usize) -> Vec<LogRecord> {
        (0..n)
            .map(|i| LogRecord::new(AnyValue::from(format!("line {i}")), 1_000 + i as u64))
            .collect()
    }

    fn segment(entries: &[(&str, usize)]) -> Vec<u8> {
        let mut buf = MAGIC.to_vec();
        for (input, n) in entries {
            encode_entry(input, records(*n).iter(), 42, &mut buf);
        }
        buf
    }

    #[test]
    fn entries_round_trip_with_their_records() {
        let data = Bytes::from(segment(&[("syslog", 3), ("otlp", 2)]));
        let (range, meta) = next_entry(&data, MAGIC.len()).unwrap();
        assert_eq!((meta.records, meta.input.as_str()), (3, "syslog"));
        assert_eq!(meta.written_unix_nanos, 42);
        let got = decode_records(&data.slice(range.clone()), &meta).unwrap();
        assert_eq!(got, records(3));
        let (range2, meta2) = next_entry(&data, range.end).unwrap();
        assert_eq!((meta2.records, meta2.input.as_str()), (2, "otlp"));
        assert_eq!(range2.end, data.len());
    }

    #[test]
    fn scan_stops_at_a_torn_tail_and_keeps_what_is_before() {
        let dir = tempfile::tempdir().unwrap();
        let full = segment(&[("a", 5), ("a", 5), ("a", 5)]);
        let good = Bytes::from(full.clone());
        let (first, _) = next_entry(&good, MAGIC.len()).unwrap();
        let (second, _) = next_entry(&good, first.end).unwrap();
        for cut in [second.end + 3, second.end + 8, full.len() - 1] {
            let path = dir.path().join(file_name(1));
            std::fs::write(&path, &full[..cut]).unwrap();
            let scan = scan(&path).unwrap();
            assert_eq!(scan.entries.len(), 2, "cut at {cut}");
            assert_eq!(scan.good_len, second.end as u64);
            assert!(scan.corruption.is_some());
        }
    }

    #[test]
    fn every_flipped_bit_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let full = segment(&[("a", 2)]);
        let path = dir.path().join(file_name(1));
        for byte in MAGIC.len()..full.len() {
            for bit in [0x01u8, 0x80] {
                let mut bad = full.clone();
                bad[byte] ^= bit;
                std::fs::write(&path, &bad).unwrap();
                let scan = scan(&path).unwrap();
                assert!(
                    scan.entries.is_empty(),
                    "byte {byte} bit {bit:#x} not caught"
                );
                assert_eq!(scan.corruption.as_ref().map(|c| c.0), Some(8));
            }
        }
    }

    #[test]
    fn an_impossible_length_is_refused_before_any_allocation() {
        let mut data = MAGIC.to_vec();
        data.extend_from_slice(&u32::MAX.to_le_bytes());
        data.extend_from_slice(&[0; 4]);
        assert_eq!(
            next_entry(&data, MAGIC.len()).unwrap_err(),
            Corruption::BadLength(u32::MAX as usize)
        );
    }

    #[test]
    fn names_sort_as_numbers() {
        assert_eq!(parse_name(&file_name(7)), Some(7));
        assert_eq!(parse_name("7.seg"), None);
        assert!(file_name(9) < file_name(10));
    }
}
