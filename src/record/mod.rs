//! The record every input produces and every output consumes: the OpenTelemetry log data
//! model, field for field, so that OTLP in → OTLP out is lossless and every other protocol
//! maps into it by a documented convention.
//!
//! Times are nanoseconds since the Unix epoch with 0 meaning "unknown", as in OTLP.
//! `resource` and `scope` are shared `Arc`s: every record from one origin points at one copy.

pub mod ecs;
mod format;
mod json;
mod line;
pub mod otlp;
mod template;
mod text;

pub use format::LineFormat;
pub use json::{encode_ndjson, write_json_record};
pub use line::encode_lines;
pub use template::{Template, severity_name, write_value};
pub use text::Str;

use bytes::Bytes;
use std::sync::Arc;

/// Ordered key → value pairs (OTLP `repeated KeyValue`). A `Vec`, not a map: small, ordered,
/// allocation-free when empty, and duplicate keys survive a round trip unchanged.
pub type Attributes = Vec<(Str, AnyValue)>;

/// An OTLP `AnyValue`.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum AnyValue {
    /// No value set (OTLP allows an empty `AnyValue`).
    #[default]
    Empty,
    String(Str),
    Bool(bool),
    Int(i64),
    Double(f64),
    Bytes(Bytes),
    Array(Vec<AnyValue>),
    Map(Attributes),
}

impl AnyValue {
    /// The string value, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AnyValue::String(s) => Some(s.as_str()),
            _ => None,
        }
    }
}

impl From<Str> for AnyValue {
    fn from(s: Str) -> Self {
        AnyValue::String(s)
    }
}

impl From<&'static str> for AnyValue {
    fn from(s: &'static str) -> Self {
        AnyValue::String(Str::from_static(s))
    }
}

impl From<String> for AnyValue {
    fn from(s: String) -> Self {
        AnyValue::String(Str::from(s))
    }
}

impl From<i64> for AnyValue {
    fn from(v: i64) -> Self {
        AnyValue::Int(v)
    }
}

impl From<bool> for AnyValue {
    fn from(v: bool) -> Self {
        AnyValue::Bool(v)
    }
}

/// Looks up the first attribute named `key`.
pub fn attribute<'a>(attributes: &'a Attributes, key: &str) -> Option<&'a AnyValue> {
    attributes
        .iter()
        .find(|(k, _)| k.as_str() == key)
        .map(|(_, v)| v)
}

/// The entity that produced a set of records (host, service, file): OTLP `Resource` plus the
/// `schema_url` of its `ResourceLogs`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resource {
    pub attributes: Attributes,
    pub dropped_attributes_count: u32,
    pub schema_url: Str,
}

/// OTLP `InstrumentationScope` plus the `schema_url` of its `ScopeLogs`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scope {
    pub name: Str,
    pub version: Str,
    pub attributes: Attributes,
    pub dropped_attributes_count: u32,
    pub schema_url: Str,
}

/// One log record (OTLP `LogRecord` with its resource and scope attached).
#[derive(Clone, Debug, PartialEq)]
pub struct LogRecord {
    /// When the event happened, if the source says (0 = unknown).
    pub time_unix_nano: u64,
    /// When logferry (or the first collector) saw it; inputs always set it.
    pub observed_time_unix_nano: u64,
    /// OTel severity 1–24 (0 = unspecified). An `i32`, not an enum, so unknown values from
    /// OTLP senders survive.
    pub severity_number: i32,
    /// The source's own severity word.
    pub severity_text: Str,
    pub body: AnyValue,
    pub attributes: Attributes,
    pub dropped_attributes_count: u32,
    /// W3C trace flags.
    pub flags: u32,
    /// 16 bytes when present, empty otherwise (kept as sent, even if malformed).
    pub trace_id: Bytes,
    /// 8 bytes when present, empty otherwise.
    pub span_id: Bytes,
    /// OTLP `event_name`.
    pub event_name: Str,
    pub resource: Arc<Resource>,
    pub scope: Arc<Scope>,
}

thread_local! {
    /// The empty resource and scope a new record starts with: shared, so making a record
    /// (one per message on every input) allocates nothing for them. Per thread, so their
    /// reference counts are not a cache line every core fights over.
    static EMPTY: (Arc<Resource>, Arc<Scope>) = Default::default();
}

impl Default for LogRecord {
    fn default() -> Self {
        let (resource, scope) = EMPTY.with(|(r, s)| (Arc::clone(r), Arc::clone(s)));
        LogRecord {
            time_unix_nano: 0,
            observed_time_unix_nano: 0,
            severity_number: 0,
            severity_text: Str::new(),
            body: AnyValue::Empty,
            attributes: Attributes::new(),
            dropped_attributes_count: 0,
            flags: 0,
            trace_id: Bytes::new(),
            span_id: Bytes::new(),
            event_name: Str::new(),
            resource,
            scope,
        }
    }
}

impl LogRecord {
    /// A record whose body is `body`, observed now, with the given shared resource and scope.
    pub fn new(body: AnyValue, observed_time_unix_nano: u64) -> Self {
        LogRecord {
            observed_time_unix_nano,
            body,
            ..LogRecord::default()
        }
    }

    /// A cheap estimate of the record's encoded size, used for byte limits and metrics.
    /// Shared resource and scope are not counted: they are paid once per request.
    pub fn estimated_bytes(&self) -> usize {
        64 + self.severity_text.len()
            + value_size(&self.body)
            + attrs_size(&self.attributes)
            + self.trace_id.len()
            + self.span_id.len()
            + self.event_name.len()
    }
}

fn attrs_size(attrs: &Attributes) -> usize {
    attrs.iter().map(|(k, v)| k.len() + 8 + value_size(v)).sum()
}

fn value_size(v: &AnyValue) -> usize {
    match v {
        AnyValue::Empty | AnyValue::Bool(_) => 1,
        AnyValue::Int(_) | AnyValue::Double(_) => 8,
        AnyValue::String(s) => s.len(),
        AnyValue::Bytes(b) => b.len(),
        AnyValue::Array(a) => a.iter().map(value_size).sum::<usize>() + 2,
        AnyValue::Map(m) => attrs_size(m) + 2,
    }
}

/// Nanoseconds since the Unix epoch, now.
pub fn now_unix_nano() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}
