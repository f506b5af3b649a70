//! The reading side of a disk buffer: entries in order from the delivered position on,
//! decoded into batches for the read-ahead the output's driver drains.

use super::segment::{self, Corruption, EntryMeta, MAGIC};
use super::{DiskBuffer, Feeds, Pending, Pos};
use crate::ack::AckToken;
use crate::batch::{Batch, Slice};
use crate::pipeline::buffer::{MemoryBuffer, Push};
use crate::record::LogRecord;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Most bytes the reader takes from disk per step.
const READ_CHUNK: usize = 1 << 20;
/// How long the reader waits after a failed read before trying the same place again.
const READ_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// One thing the reader found.
enum Found {
    Entry {
        end: Pos,
        meta: EntryMeta,
        records: Vec<LogRecord>,
    },
    /// A corrupt entry met while reading (the rest of its segment is skipped).
    Corrupt { at: Pos, end: Pos, why: Corruption },
    /// Reading failed (too many open files, an I/O error): nothing is skipped; the reader
    /// tries the same place again after a pause.
    Failed(io::Error),
}

/// Why an entry could not be read.
enum EntryError {
    Corrupt(Corruption),
    Io(io::Error),
}

impl From<Corruption> for EntryError {
    fn from(c: Corruption) -> Self {
        EntryError::Corrupt(c)
    }
}

/// What the reader may read: the written end and the segments.
struct View {
    written: Pos,
    segments: BTreeMap<u64, u64>,
}

pub(super) struct Reader {
    pub(super) dir: PathBuf,
    pub(super) pos: Pos,
    pub(super) file: Option<File>,
}

impl Reader {
    /// Reads entries from `pos` on, up to about `READ_CHUNK` bytes.
    fn read(&mut self, view: &View) -> Vec<Found> {
        let mut found = Vec::new();
        let mut taken = 0;
        while taken < READ_CHUNK && self.pos < view.written {
            let seg_end = if self.pos.seg == view.written.seg {
                view.written.offset
            } else {
                view.segments.get(&self.pos.seg).copied().unwrap_or(0)
            };
            if self.pos.offset >= seg_end {
                match view.segments.range(self.pos.seg + 1..).next() {
                    Some((&id, _)) => {
                        self.pos = Pos {
                            seg: id,
                            offset: MAGIC.len() as u64,
                        };
                        self.file = None;
                        continue;
                    }
                    None => break,
                }
            }
            let at = self.pos;
            let skip = Pos {
                seg: at.seg,
                offset: seg_end,
            };
            match self.entry(seg_end) {
                Ok((end, meta, records)) => {
                    taken += (end - at.offset) as usize;
                    self.pos.offset = end;
                    found.push(Found::Entry {
                        end: self.pos,
                        meta,
                        records,
                    });
                }
                Err(EntryError::Corrupt(why)) => {
                    self.pos = skip;
                    found.push(Found::Corrupt { at, end: skip, why });
                }
                Err(EntryError::Io(e)) => {
                    self.file = None;
                    found.push(Found::Failed(e));
                    break;
                }
            }
        }
        found
    }

    fn entry(&mut self, seg_end: u64) -> Result<(u64, EntryMeta, Vec<LogRecord>), EntryError> {
        let io_error = EntryError::Io;
        if self.file.is_none() {
            let path = self.dir.join(segment::file_name(self.pos.seg));
            self.file = Some(File::open(path).map_err(io_error)?);
        }
        let file = self.file.as_ref().expect("opened above");
        let left = (seg_end - self.pos.offset) as usize;
        let mut header = [0u8; segment::ENTRY_HEADER];
        if left < header.len() {
            return Err(Corruption::TornHeader(left).into());
        }
        file.read_exact_at(&mut header, self.pos.offset)
            .map_err(io_error)?;
        let len = u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) as usize;
        if len > segment::MAX_PAYLOAD || len > left - header.len() {
            return Err(Corruption::TornPayload {
                len,
                left: left - header.len(),
            }
            .into());
        }
        let mut data = vec![0u8; header.len() + len];
        file.read_exact_at(&mut data, self.pos.offset)
            .map_err(io_error)?;
        let data = Bytes::from(data);
        let (range, meta) = segment::next_entry(&data, 0)?;
        let records = segment::decode_records(&data.slice(range.clone()), &meta)?;
        Ok((self.pos.offset + range.end as u64, meta, records))
    }
}

pub(super) async fn read(
    buffer: Arc<DiskBuffer>,
    mut reader: Reader,
    read_ahead: Arc<MemoryBuffer>,
    feeds: Feeds,
    acks: mpsc::UnboundedSender<Pending>,
) {
    'outer: loop {
        let data = buffer.data.notified();
        tokio::pin!(data);
        let view = {
            let state = buffer.lock();
            if reader.pos < state.written {
                Some(View {
                    written: state.written,
                    segments: state.segments.clone(),
                })
            } else if state.closed {
                break;
            } else {
                data.as_mut().enable();
                None
            }
        };
        let Some(view) = view else {
            tokio::select! {
                _ = &mut data => continue,
                _ = buffer.hard_stop.cancelled() => break,
            }
        };
        let (back, found) = tokio::task::spawn_blocking(move || {
            let found = reader.read(&view);
            (reader, found)
        })
        .await
        .expect("reading entries does not panic");
        reader = back;
        for item in found {
            let slice = match item {
                Found::Entry { end, meta, records } => {
                    let (input, input_name) = feeds.find(&meta.input);
                    let (token, verdict) = AckToken::new(records.len());
                    let bytes = records.iter().map(LogRecord::estimated_bytes).sum();
                    let mut batch = Batch::new(records);
                    batch.input = input;
                    batch.input_name = input_name;
                    batch.bytes = bytes;
                    let slice = Slice::whole(Arc::new(batch), Some(token));
                    let _ = acks.send(Pending { end, verdict });
                    slice
                }
                Found::Corrupt { at, end, why } => {
                    buffer.metrics.buffer_corrupt.add(1);
                    tracing::error!(output = %buffer.name, segment = at.seg, offset = at.offset, error = %why, "disk buffer: corrupt entry while reading; skipping the rest of its segment");
                    let (token, verdict) = AckToken::new(0);
                    token.delivered();
                    let _ = acks.send(Pending { end, verdict });
                    continue;
                }
                Found::Failed(e) => {
                    tracing::error!(output = %buffer.name, dir = %reader.dir.display(), error = %e, "disk buffer: cannot read; trying again in a second");
                    tokio::select! {
                        _ = tokio::time::sleep(READ_RETRY) => continue 'outer,
                        _ = buffer.hard_stop.cancelled() => break 'outer,
                    }
                }
            };
            match read_ahead.push(slice).await {
                Push::Accepted => {}
                // Stopped at the deadline: the entry stays on disk for the next start.
                Push::Full(_) | Push::Stopped(_) => break 'outer,
            }
        }
    }
    read_ahead.producer_done();
}
