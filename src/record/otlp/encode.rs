//! Records → OTLP. [`encode_protobuf`] writes the wire format directly from the records (two
//! passes per message: sizes, then bytes), so the output allocates nothing per record;
//! [`request_from_records`] builds prost messages, for OTLP/JSON and for tests.

use super::group::{ResourceGroup, ScopeGroup, group};
use crate::record::{AnyValue, Attributes, LogRecord, Str};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1 as common;
use opentelemetry_proto::tonic::logs::v1 as logs;
use opentelemetry_proto::tonic::resource::v1 as resource;
use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint};

/// Appends the protobuf `ExportLogsServiceRequest` for `records` to `buf`.
pub fn encode_protobuf<'a>(records: impl Iterator<Item = &'a LogRecord>, buf: &mut Vec<u8>) {
    let groups = group(records);
    let mut sizes = Vec::new();
    for g in &groups {
        sizes.clear();
        let len = resource_logs_len(g, &mut sizes);
        put_len_key(1, len, buf);
        put_resource_logs(g, &sizes, buf);
    }
}

/// The prost `ExportLogsServiceRequest` for `records`.
pub fn request_from_records<'a>(
    records: impl Iterator<Item = &'a LogRecord>,
) -> ExportLogsServiceRequest {
    let resource_logs = group(records)
        .into_iter()
        .map(|g| logs::ResourceLogs {
            resource: Some(resource::Resource {
                attributes: to_key_values(&g.resource.attributes),
                dropped_attributes_count: g.resource.dropped_attributes_count,
                entity_refs: Vec::new(),
            }),
            schema_url: g.resource.schema_url.to_string(),
            scope_logs: g.scopes.iter().map(to_scope_logs).collect(),
        })
        .collect();
    ExportLogsServiceRequest { resource_logs }
}

fn to_scope_logs(g: &ScopeGroup<'_>) -> logs::ScopeLogs {
    logs::ScopeLogs {
        scope: Some(common::InstrumentationScope {
            name: g.scope.name.to_string(),
            version: g.scope.version.to_string(),
            attributes: to_key_values(&g.scope.attributes),
            dropped_attributes_count: g.scope.dropped_attributes_count,
        }),
        schema_url: g.scope.schema_url.to_string(),
        log_records: g
            .records
            .iter()
            .map(|r| logs::LogRecord {
                time_unix_nano: r.time_unix_nano,
                observed_time_unix_nano: r.observed_time_unix_nano,
                severity_number: r.severity_number,
                severity_text: r.severity_text.to_string(),
                body: match &r.body {
                    AnyValue::Empty => None,
                    body => Some(to_any_value(body)),
                },
                attributes: to_key_values(&r.attributes),
                dropped_attributes_count: r.dropped_attributes_count,
                flags: r.flags,
                trace_id: r.trace_id.to_vec(),
                span_id: r.span_id.to_vec(),
                event_name: r.event_name.to_string(),
            })
            .collect(),
    }
}

fn to_key_values(attributes: &Attributes) -> Vec<common::KeyValue> {
    attributes
        .iter()
        .map(|(k, v)| common::KeyValue {
            key: k.to_string(),
            value: Some(to_any_value(v)),
            key_strindex: 0,
        })
        .collect()
}

fn to_any_value(value: &AnyValue) -> common::AnyValue {
    use common::any_value::Value;
    let value = match value {
        AnyValue::Empty => None,
        AnyValue::String(s) => Some(Value::StringValue(s.to_string())),
        AnyValue::Bool(b) => Some(Value::BoolValue(*b)),
        AnyValue::Int(i) => Some(Value::IntValue(*i)),
        AnyValue::Double(d) => Some(Value::DoubleValue(*d)),
        AnyValue::Bytes(b) => Some(Value::BytesValue(b.to_vec())),
        AnyValue::Array(a) => Some(Value::ArrayValue(common::ArrayValue {
            values: a.iter().map(to_any_value).collect(),
        })),
        AnyValue::Map(m) => Some(Value::KvlistValue(common::KeyValueList {
            values: to_key_values(m),
        })),
    };
    common::AnyValue { value }
}

// --- sizes -------------------------------------------------------------------------------

/// Bytes of a length-delimited field with `len` bytes of content (tags here are all < 16).
fn delimited(len: usize) -> usize {
    1 + encoded_len_varint(len as u64) + len
}

fn str_field(s: &Str) -> usize {
    if s.is_empty() { 0 } else { delimited(s.len()) }
}

fn uint_field(v: u32) -> usize {
    if v == 0 {
        0
    } else {
        1 + encoded_len_varint(u64::from(v))
    }
}

fn value_len(value: &AnyValue) -> usize {
    match value {
        AnyValue::Empty => 0,
        AnyValue::String(s) => delimited(s.len()),
        AnyValue::Bool(_) => 2,
        AnyValue::Int(i) => 1 + encoded_len_varint(*i as u64),
        AnyValue::Double(_) => 9,
        AnyValue::Bytes(b) => delimited(b.len()),
        AnyValue::Array(a) => delimited(a.iter().map(|v| delimited(value_len(v))).sum()),
        AnyValue::Map(m) => delimited(attributes_len(m)),
    }
}

fn key_value_len(key: &Str, value: &AnyValue) -> usize {
    str_field(key) + delimited(value_len(value))
}

/// The bytes of `repeated KeyValue` entries (each with its own key and length).
fn attributes_len(attributes: &Attributes) -> usize {
    attributes
        .iter()
        .map(|(k, v)| delimited(key_value_len(k, v)))
        .sum()
}

fn record_len(r: &LogRecord) -> usize {
    let mut len = 0;
    if r.time_unix_nano != 0 {
        len += 9;
    }
    if r.severity_number != 0 {
        len += 1 + encoded_len_varint(r.severity_number as i64 as u64);
    }
    len += str_field(&r.severity_text);
    if !matches!(r.body, AnyValue::Empty) {
        len += delimited(value_len(&r.body));
    }
    len += attributes_len(&r.attributes);
    len += uint_field(r.dropped_attributes_count);
    if r.flags != 0 {
        len += 5;
    }
    if !r.trace_id.is_empty() {
        len += delimited(r.trace_id.len());
    }
    if !r.span_id.is_empty() {
        len += delimited(r.span_id.len());
    }
    if r.observed_time_unix_nano != 0 {
        len += 9;
    }
    len + str_field(&r.event_name)
}

fn resource_len(g: &ResourceGroup<'_>) -> usize {
    attributes_len(&g.resource.attributes) + uint_field(g.resource.dropped_attributes_count)
}

fn scope_len(g: &ScopeGroup<'_>) -> usize {
    str_field(&g.scope.name)
        + str_field(&g.scope.version)
        + attributes_len(&g.scope.attributes)
        + uint_field(g.scope.dropped_attributes_count)
}

/// The `ResourceLogs` length; pushes each `ScopeLogs` length followed by its records'
/// lengths onto `sizes`, in the order [`put_resource_logs`] consumes them.
fn resource_logs_len(g: &ResourceGroup<'_>, sizes: &mut Vec<usize>) -> usize {
    let mut len = delimited(resource_len(g)) + str_field(&g.resource.schema_url);
    for s in &g.scopes {
        let at = sizes.len();
        sizes.push(0);
        let mut scope_logs = delimited(scope_len(s)) + str_field(&s.scope.schema_url);
        for r in &s.records {
            let n = record_len(r);
            sizes.push(n);
            scope_logs += delimited(n);
        }
        sizes[at] = scope_logs;
        len += delimited(scope_logs);
    }
    len
}

// --- bytes -------------------------------------------------------------------------------

fn put_len_key(tag: u32, len: usize, buf: &mut Vec<u8>) {
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(len as u64, buf);
}

fn put_bytes(tag: u32, bytes: &[u8], buf: &mut Vec<u8>) {
    put_len_key(tag, bytes.len(), buf);
    buf.extend_from_slice(bytes);
}

fn put_str(tag: u32, s: &Str, buf: &mut Vec<u8>) {
    if !s.is_empty() {
        put_bytes(tag, s.as_bytes(), buf);
    }
}

fn put_uint(tag: u32, v: u32, buf: &mut Vec<u8>) {
    if v != 0 {
        encode_key(tag, WireType::Varint, buf);
        encode_varint(u64::from(v), buf);
    }
}

fn put_fixed64(tag: u32, v: u64, buf: &mut Vec<u8>) {
    if v != 0 {
        encode_key(tag, WireType::SixtyFourBit, buf);
        buf.extend_from_slice(&v.to_le_bytes());
    }
}

/// The fields of an `AnyValue` message (not its key or length).
fn put_value(value: &AnyValue, buf: &mut Vec<u8>) {
    match value {
        AnyValue::Empty => {}
        AnyValue::String(s) => put_bytes(1, s.as_bytes(), buf),
        AnyValue::Bool(b) => {
            encode_key(2, WireType::Varint, buf);
            buf.push(u8::from(*b));
        }
        AnyValue::Int(i) => {
            encode_key(3, WireType::Varint, buf);
            encode_varint(*i as u64, buf);
        }
        AnyValue::Double(d) => {
            encode_key(4, WireType::SixtyFourBit, buf);
            buf.extend_from_slice(&d.to_le_bytes());
        }
        AnyValue::Bytes(b) => put_bytes(7, b, buf),
        AnyValue::Array(a) => {
            put_len_key(5, a.iter().map(|v| delimited(value_len(v))).sum(), buf);
            for v in a {
                put_len_key(1, value_len(v), buf);
                put_value(v, buf);
            }
        }
        AnyValue::Map(m) => {
            put_len_key(6, attributes_len(m), buf);
            put_attributes(1, m, buf);
        }
    }
}

fn put_attributes(tag: u32, attributes: &Attributes, buf: &mut Vec<u8>) {
    for (k, v) in attributes {
        put_len_key(tag, key_value_len(k, v), buf);
        put_str(1, k, buf);
        put_len_key(2, value_len(v), buf);
        put_value(v, buf);
    }
}

fn put_record(r: &LogRecord, buf: &mut Vec<u8>) {
    put_fixed64(1, r.time_unix_nano, buf);
    if r.severity_number != 0 {
        encode_key(2, WireType::Varint, buf);
        encode_varint(r.severity_number as i64 as u64, buf);
    }
    put_str(3, &r.severity_text, buf);
    if !matches!(r.body, AnyValue::Empty) {
        put_len_key(5, value_len(&r.body), buf);
        put_value(&r.body, buf);
    }
    put_attributes(6, &r.attributes, buf);
    put_uint(7, r.dropped_attributes_count, buf);
    if r.flags != 0 {
        encode_key(8, WireType::ThirtyTwoBit, buf);
        buf.extend_from_slice(&r.flags.to_le_bytes());
    }
    if !r.trace_id.is_empty() {
        put_bytes(9, &r.trace_id, buf);
    }
    if !r.span_id.is_empty() {
        put_bytes(10, &r.span_id, buf);
    }
    put_fixed64(11, r.observed_time_unix_nano, buf);
    put_str(12, &r.event_name, buf);
}

fn put_resource_logs(g: &ResourceGroup<'_>, sizes: &[usize], buf: &mut Vec<u8>) {
    put_len_key(1, resource_len(g), buf);
    put_attributes(1, &g.resource.attributes, buf);
    put_uint(2, g.resource.dropped_attributes_count, buf);
    let mut sizes = sizes.iter();
    let mut next = || *sizes.next().expect("sizes computed for every message");
    for s in &g.scopes {
        put_len_key(2, next(), buf);
        put_len_key(1, scope_len(s), buf);
        put_str(1, &s.scope.name, buf);
        put_str(2, &s.scope.version, buf);
        put_attributes(3, &s.scope.attributes, buf);
        put_uint(4, s.scope.dropped_attributes_count, buf);
        for r in &s.records {
            put_len_key(2, next(), buf);
            put_record(r, buf);
        }
        put_str(3, &s.scope.schema_url, buf);
    }
    put_str(3, &g.resource.schema_url, buf);
}
