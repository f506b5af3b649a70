//! NDJSON encoding of records with OTLP/JSON field names and value shapes (camelCase keys,
//! `AnyValue` wrappers, 64-bit integers and times as strings, hex trace ids, base64 bytes),
//! so that a line can be read back as an OTLP `LogRecord` with its resource and scope.
//!
//! Hand-written rather than serde-derived: this runs once per delivered record on the file
//! and stdout outputs, and skipping the intermediate value tree roughly halves its cost.

use super::{AnyValue, Attributes, LogRecord, Resource, Scope};
use base64::Engine;
use std::sync::Arc;

/// Appends one JSON object per record, each followed by `\n`, to `out`.
///
/// The encoding of a resource or scope is reused while consecutive records share the same
/// `Arc`, which is the common case (one origin per batch).
pub fn encode_ndjson<'a>(records: impl IntoIterator<Item = &'a LogRecord>, out: &mut Vec<u8>) {
    let mut cache = SharedCache::default();
    for record in records {
        write_record(record, &mut cache, out);
        out.push(b'\n');
    }
}

/// Appends one record as a JSON object (no trailing newline) to `out`.
pub fn write_json_record(record: &LogRecord, out: &mut Vec<u8>) {
    write_record(record, &mut SharedCache::default(), out);
}

#[derive(Default)]
struct SharedCache {
    resource: Option<(*const Resource, Vec<u8>)>,
    scope: Option<(*const Scope, Vec<u8>)>,
}

fn write_record(r: &LogRecord, cache: &mut SharedCache, out: &mut Vec<u8>) {
    let mut obj = Obj::open(out);
    if r.time_unix_nano != 0 {
        obj.key(b"timeUnixNano");
        write_u64_string(obj.out, r.time_unix_nano);
    }
    if r.observed_time_unix_nano != 0 {
        obj.key(b"observedTimeUnixNano");
        write_u64_string(obj.out, r.observed_time_unix_nano);
    }
    if r.severity_number != 0 {
        obj.key(b"severityNumber");
        obj.out
            .extend_from_slice(itoa::Buffer::new().format(r.severity_number).as_bytes());
    }
    if !r.severity_text.is_empty() {
        obj.key(b"severityText");
        write_str(obj.out, &r.severity_text);
    }
    if r.body != AnyValue::Empty {
        obj.key(b"body");
        write_value(obj.out, &r.body);
    }
    if !r.attributes.is_empty() {
        obj.key(b"attributes");
        write_attributes(obj.out, &r.attributes);
    }
    if r.dropped_attributes_count != 0 {
        obj.key(b"droppedAttributesCount");
        write_u64(obj.out, r.dropped_attributes_count.into());
    }
    if r.flags != 0 {
        obj.key(b"flags");
        write_u64(obj.out, r.flags.into());
    }
    if !r.trace_id.is_empty() {
        obj.key(b"traceId");
        write_hex(obj.out, &r.trace_id);
    }
    if !r.span_id.is_empty() {
        obj.key(b"spanId");
        write_hex(obj.out, &r.span_id);
    }
    if !r.event_name.is_empty() {
        obj.key(b"eventName");
        write_str(obj.out, &r.event_name);
    }
    let ptr = Arc::as_ptr(&r.resource);
    if cache.resource.as_ref().map(|(p, _)| *p) != Some(ptr) {
        let mut bytes = Vec::new();
        if *r.resource != Resource::default() {
            write_resource(&mut bytes, &r.resource);
        }
        cache.resource = Some((ptr, bytes));
    }
    if let Some((_, bytes)) = &cache.resource
        && !bytes.is_empty()
    {
        obj.key(b"resource");
        obj.out.extend_from_slice(bytes);
    }
    let ptr = Arc::as_ptr(&r.scope);
    if cache.scope.as_ref().map(|(p, _)| *p) != Some(ptr) {
        let mut bytes = Vec::new();
        if *r.scope != Scope::default() {
            write_scope(&mut bytes, &r.scope);
        }
        cache.scope = Some((ptr, bytes));
    }
    if let Some((_, bytes)) = &cache.scope
        && !bytes.is_empty()
    {
        obj.key(b"scope");
        obj.out.extend_from_slice(bytes);
    }
    obj.close();
}

fn write_resource(out: &mut Vec<u8>, res: &Resource) {
    let mut obj = Obj::open(out);
    if !res.attributes.is_empty() {
        obj.key(b"attributes");
        write_attributes(obj.out, &res.attributes);
    }
    if res.dropped_attributes_count != 0 {
        obj.key(b"droppedAttributesCount");
        write_u64(obj.out, res.dropped_attributes_count.into());
    }
    if !res.schema_url.is_empty() {
        obj.key(b"schemaUrl");
        write_str(obj.out, &res.schema_url);
    }
    obj.close();
}

fn write_scope(out: &mut Vec<u8>, scope: &Scope) {
    let mut obj = Obj::open(out);
    for (key, value) in [(&b"name"[..], &scope.name), (b"version", &scope.version)] {
        if !value.is_empty() {
            obj.key(key);
            write_str(obj.out, value);
        }
    }
    if !scope.attributes.is_empty() {
        obj.key(b"attributes");
        write_attributes(obj.out, &scope.attributes);
    }
    if scope.dropped_attributes_count != 0 {
        obj.key(b"droppedAttributesCount");
        write_u64(obj.out, scope.dropped_attributes_count.into());
    }
    if !scope.schema_url.is_empty() {
        obj.key(b"schemaUrl");
        write_str(obj.out, &scope.schema_url);
    }
    obj.close();
}

/// Writes `{` … `}` with commas between keys.
struct Obj<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Obj<'a> {
    fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Obj { out, first: true }
    }
    fn key(&mut self, key: &[u8]) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key);
        self.out.extend_from_slice(b"\":");
    }
    fn close(self) {
        self.out.push(b'}');
    }
}

fn write_attributes(out: &mut Vec<u8>, attrs: &Attributes) {
    out.push(b'[');
    for (i, (k, v)) in attrs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"key\":");
        write_str(out, k);
        out.extend_from_slice(b",\"value\":");
        write_value(out, v);
        out.push(b'}');
    }
    out.push(b']');
}

/// Appends an `AnyValue` in its OTLP/JSON shape.
pub(crate) fn write_json_value(v: &AnyValue, out: &mut Vec<u8>) {
    write_value(out, v);
}

fn write_value(out: &mut Vec<u8>, v: &AnyValue) {
    match v {
        AnyValue::Empty => out.extend_from_slice(b"{}"),
        AnyValue::String(s) => {
            out.extend_from_slice(b"{\"stringValue\":");
            write_str(out, s);
            out.push(b'}');
        }
        AnyValue::Bool(b) => {
            out.extend_from_slice(if *b {
                b"{\"boolValue\":true}"
            } else {
                b"{\"boolValue\":false}"
            });
        }
        AnyValue::Int(i) => {
            out.extend_from_slice(b"{\"intValue\":\"");
            out.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes());
            out.extend_from_slice(b"\"}");
        }
        AnyValue::Double(d) => {
            out.extend_from_slice(b"{\"doubleValue\":");
            write_f64(out, *d);
            out.push(b'}');
        }
        AnyValue::Bytes(b) => {
            out.extend_from_slice(b"{\"bytesValue\":\"");
            let start = out.len();
            let len = base64::encoded_len(b.len(), true).unwrap_or(0);
            out.resize(start + len, 0);
            let written = base64::engine::general_purpose::STANDARD
                .encode_slice(b, &mut out[start..])
                .unwrap_or(0);
            out.truncate(start + written);
            out.extend_from_slice(b"\"}");
        }
        AnyValue::Array(items) => {
            out.extend_from_slice(b"{\"arrayValue\":{\"values\":[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.extend_from_slice(b"]}}");
        }
        AnyValue::Map(attrs) => {
            out.extend_from_slice(b"{\"kvlistValue\":{\"values\":");
            write_attributes(out, attrs);
            out.extend_from_slice(b"}}");
        }
    }
}

fn write_f64(out: &mut Vec<u8>, d: f64) {
    // Protobuf's JSON mapping spells the non-finite values as strings.
    if d.is_nan() {
        out.extend_from_slice(b"\"NaN\"");
    } else if d.is_infinite() {
        out.extend_from_slice(if d > 0.0 {
            b"\"Infinity\""
        } else {
            b"\"-Infinity\""
        });
    } else {
        out.extend_from_slice(ryu::Buffer::new().format_finite(d).as_bytes());
    }
}

fn write_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

fn write_u64_string(out: &mut Vec<u8>, v: u64) {
    out.push(b'"');
    write_u64(out, v);
    out.push(b'"');
}

fn write_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for b in bytes {
        out.push(HEX[(b >> 4) as usize]);
        out.push(HEX[(b & 15) as usize]);
    }
    out.push(b'"');
}

/// Writes a JSON string literal, escaping only what JSON requires.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(b >> 4) as usize]);
            out.push(HEX[(b & 15) as usize]);
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Str;
    use bytes::Bytes;

    fn record() -> LogRecord {
        let resource = Arc::new(Resource {
            attributes: vec![(Str::from("host.name"), "h1".into())],
            ..Resource::default()
        });
        LogRecord {
            time_unix_nano: 1_700_000_000_123_456_789,
            observed_time_unix_nano: 1_700_000_001_000_000_000,
            severity_number: 9,
            severity_text: "INFO".into(),
            body: "say \"hi\"\n\u{1}".into(),
            attributes: vec![
                ("i".into(), AnyValue::Int(-5)),
                ("d".into(), AnyValue::Double(1.5)),
                ("b".into(), AnyValue::Bytes(Bytes::from_static(b"\x00\xff"))),
                (
                    "m".into(),
                    AnyValue::Map(vec![(
                        "a".into(),
                        AnyValue::Array(vec![true.into(), AnyValue::Empty]),
                    )]),
                ),
            ],
            trace_id: Bytes::from_static(&[0xab; 16]),
            span_id: Bytes::from_static(&[1; 8]),
            resource,
            ..LogRecord::default()
        }
    }

    #[test]
    fn encodes_otlp_json_shapes_that_parse_back() {
        let mut out = Vec::new();
        encode_ndjson([&record(), &record()], &mut out);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        let v: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(v["timeUnixNano"], "1700000000123456789");
        assert_eq!(v["severityNumber"], 9);
        assert_eq!(v["body"]["stringValue"], "say \"hi\"\n\u{1}");
        assert_eq!(v["attributes"][0]["value"]["intValue"], "-5");
        assert_eq!(v["attributes"][1]["value"]["doubleValue"], 1.5);
        assert_eq!(v["attributes"][2]["value"]["bytesValue"], "AP8=");
        assert_eq!(
            v["attributes"][3]["value"]["kvlistValue"]["values"][0]["value"]["arrayValue"]["values"]
                [0]["boolValue"],
            true
        );
        assert_eq!(v["traceId"], "abababababababababababababababab");
        assert_eq!(v["spanId"], "0101010101010101");
        assert_eq!(v["resource"]["attributes"][0]["value"]["stringValue"], "h1");
        assert!(v.get("scope").is_none(), "empty scope is omitted");
    }

    #[test]
    fn non_finite_doubles_use_protobuf_json_spellings() {
        let mut out = Vec::new();
        write_value(&mut out, &AnyValue::Double(f64::NEG_INFINITY));
        assert_eq!(out, b"{\"doubleValue\":\"-Infinity\"}");
    }
}
