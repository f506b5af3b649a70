//! A request being built (entries grouped by stream, lines in one arena) and its encoding
//! into push bodies: `logproto.PushRequest` protobuf (hand-encoded; the field numbers are
//! Loki's `push.proto`) or Loki's JSON, split so that no body exceeds `max_request_bytes`.

use std::ops::Range;

/// One log entry: a timestamp and ranges into the draft's arena.
#[derive(Clone, Debug)]
pub struct Entry {
    pub ts: u64,
    pub line: Range<usize>,
    /// Structured metadata pairs, as a range of `Draft::meta`.
    pub meta: Range<usize>,
}

/// One stream's part of a request.
#[derive(Debug)]
pub struct DraftStream {
    pub selector: String,
    pub pairs: Vec<(String, String)>,
    pub entries: Vec<Entry>,
    /// Some entry is older than one before it (sorted before encoding).
    pub unsorted: bool,
}

/// A request under construction; reused from one request to the next.
#[derive(Debug, Default)]
pub struct Draft {
    /// Every line and metadata name/value, back to back.
    pub arena: String,
    /// (name, value) ranges into `arena`.
    pub meta: Vec<(Range<usize>, Range<usize>)>,
    pub streams: Vec<DraftStream>,
}

impl Draft {
    pub fn clear(&mut self) {
        self.arena.clear();
        self.meta.clear();
        self.streams.clear();
    }

    fn text(&self, range: &Range<usize>) -> &str {
        &self.arena[range.clone()]
    }
}

/// An uncompressed push body and how many entries it holds.
pub struct RawBody {
    pub bytes: Vec<u8>,
    pub entries: usize,
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

fn field_bytes(tag: u8, bytes: &[u8], out: &mut Vec<u8>) {
    out.push(tag);
    varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

fn field_len(payload: usize) -> usize {
    1 + varint_len(payload as u64) + payload
}

/// Appends one `EntryAdapter` (as field 2 of a `StreamAdapter`) to `out`.
fn write_entry(draft: &Draft, e: &Entry, out: &mut Vec<u8>) {
    let (seconds, nanos) = ((e.ts / 1_000_000_000) as i64, (e.ts % 1_000_000_000) as i32);
    let ts_len = if seconds != 0 {
        1 + varint_len(seconds as u64)
    } else {
        0
    } + if nanos != 0 {
        1 + varint_len(nanos as u64)
    } else {
        0
    };
    let line = draft.text(&e.line).as_bytes();
    let metas = &draft.meta[e.meta.clone()];
    let pair_len = |(n, v): &(Range<usize>, Range<usize>)| field_len(n.len()) + field_len(v.len());
    let len = field_len(ts_len)
        + field_len(line.len())
        + metas.iter().map(|p| field_len(pair_len(p))).sum::<usize>();
    out.push(0x12);
    varint(len as u64, out);
    // EntryAdapter.timestamp = 1 (google.protobuf.Timestamp { seconds = 1; nanos = 2 })
    out.push(0x0a);
    varint(ts_len as u64, out);
    if seconds != 0 {
        out.push(0x08);
        varint(seconds as u64, out);
    }
    if nanos != 0 {
        out.push(0x10);
        varint(nanos as u64, out);
    }
    // EntryAdapter.line = 2
    field_bytes(0x12, line, out);
    // EntryAdapter.structuredMetadata = 3 (LabelPairAdapter { name = 1; value = 2 })
    for pair in metas {
        out.push(0x1a);
        varint(pair_len(pair) as u64, out);
        field_bytes(0x0a, draft.text(&pair.0).as_bytes(), out);
        field_bytes(0x12, draft.text(&pair.1).as_bytes(), out);
    }
}

/// Appends a `StreamAdapter` (field 1 of `PushRequest`) holding already-encoded entries.
fn write_stream(selector: &str, entries: &[u8], out: &mut Vec<u8>) {
    out.push(0x0a);
    varint((field_len(selector.len()) + entries.len()) as u64, out);
    field_bytes(0x0a, selector.as_bytes(), out);
    out.extend_from_slice(entries);
}

/// Sorts each stream's entries by time where needed (stable: equal times keep their order).
pub fn sort_streams(draft: &mut Draft) {
    for stream in &mut draft.streams {
        if stream.unsorted {
            stream.entries.sort_by_key(|e| e.ts);
        }
    }
}

/// Encodes the draft as protobuf bodies of at most about `cap` bytes each.
pub fn encode_protobuf(draft: &Draft, cap: usize) -> Vec<RawBody> {
    let mut bodies = Vec::new();
    let mut body = RawBody {
        bytes: Vec::with_capacity(cap.min(draft.arena.len() + 1024)),
        entries: 0,
    };
    let mut chunk = Vec::new();
    let mut entry = Vec::new();
    for stream in &draft.streams {
        let head = field_len(stream.selector.len()) + 6;
        let mut in_chunk = 0;
        for e in &stream.entries {
            entry.clear();
            write_entry(draft, e, &mut entry);
            if body.bytes.len() + head + chunk.len() + entry.len() > cap
                && (body.entries + in_chunk) > 0
            {
                if in_chunk > 0 {
                    write_stream(&stream.selector, &chunk, &mut body.bytes);
                    body.entries += in_chunk;
                }
                bodies.push(std::mem::replace(
                    &mut body,
                    RawBody {
                        bytes: Vec::with_capacity(cap),
                        entries: 0,
                    },
                ));
                chunk.clear();
                in_chunk = 0;
            }
            chunk.extend_from_slice(&entry);
            in_chunk += 1;
        }
        if in_chunk > 0 {
            write_stream(&stream.selector, &chunk, &mut body.bytes);
            body.entries += in_chunk;
            chunk.clear();
        }
    }
    if body.entries > 0 {
        bodies.push(body);
    }
    bodies
}

fn json_str(s: &str, out: &mut Vec<u8>) {
    serde_json::to_writer(&mut *out, s).expect("writing to a Vec cannot fail");
}

fn write_json_entry(draft: &Draft, e: &Entry, out: &mut Vec<u8>) {
    out.extend_from_slice(b"[\"");
    let mut digits = itoa::Buffer::new();
    out.extend_from_slice(digits.format(e.ts).as_bytes());
    out.extend_from_slice(b"\",");
    json_str(draft.text(&e.line), out);
    if !e.meta.is_empty() {
        out.extend_from_slice(b",{");
        for (i, (name, value)) in draft.meta[e.meta.clone()].iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json_str(draft.text(name), out);
            out.push(b':');
            json_str(draft.text(value), out);
        }
        out.push(b'}');
    }
    out.push(b']');
}

fn open_json_stream(stream: &DraftStream, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"stream\":{");
    for (i, (name, value)) in stream.pairs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_str(name, out);
        out.push(b':');
        json_str(value, out);
    }
    out.extend_from_slice(b"},\"values\":[");
}

/// Encodes the draft as JSON bodies of at most about `cap` bytes each.
pub fn encode_json(draft: &Draft, cap: usize) -> Vec<RawBody> {
    const OPEN: &[u8] = b"{\"streams\":[";
    let mut bodies = Vec::new();
    let new_body = || RawBody {
        bytes: OPEN.to_vec(),
        entries: 0,
    };
    let mut body = new_body();
    let mut entry = Vec::new();
    for stream in &draft.streams {
        let mut open = false;
        for e in &stream.entries {
            entry.clear();
            write_json_entry(draft, e, &mut entry);
            if body.bytes.len() + entry.len() + 256 > cap && body.entries > 0 {
                if open {
                    body.bytes.extend_from_slice(b"]}");
                }
                body.bytes.extend_from_slice(b"]}");
                bodies.push(std::mem::replace(&mut body, new_body()));
                open = false;
            }
            if !open {
                if body.bytes.len() > OPEN.len() {
                    body.bytes.push(b',');
                }
                open_json_stream(stream, &mut body.bytes);
                open = true;
            } else {
                body.bytes.push(b',');
            }
            body.bytes.extend_from_slice(&entry);
            body.entries += 1;
        }
        if open {
            body.bytes.extend_from_slice(b"]}");
        }
    }
    if body.entries > 0 {
        body.bytes.extend_from_slice(b"]}");
        bodies.push(body);
    }
    bodies
}
