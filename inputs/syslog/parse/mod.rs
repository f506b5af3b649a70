//! One syslog message → the pieces of a [`LogRecord`]. Pure: no I/O and no clock (the
//! caller passes `now`, used only to give RFC 3164 stamps a year).
//!
//! The format is told per message: after PRI, a VERSION and a space followed by `-` or a
//! year is RFC 5424 (`rfc5424.rs`); anything else is RFC 3164 or one of its real-world
//! variants (`rfc3164.rs`). Trailing LF, CR and NUL are framing and are removed first.
//!
//! The mapping (OTel data model appendix, "RFC5424 Syslog"; PROTOCOLS.md §5.5):
//!
//! | syslog | record |
//! |---|---|
//! | TIMESTAMP | `time_unix_nano` (0 when NIL or absent) |
//! | PRI severity | `severity_number` / `severity_text` (table in `severity.rs`) |
//! | PRI facility | attribute `syslog.facility` (its number, 0–23) |
//! | VERSION | attribute `syslog.version` (int, RFC 5424 only) |
//! | HOSTNAME | [`Names::host`], for resource `host.name` |
//! | APP-NAME, or the RFC 3164 TAG | [`Names::app`], for resource `service.name` |
//! | PROCID, or the TAG's `[PID]` | attribute `syslog.procid` (string, as sent) |
//! | MSGID | attribute `syslog.msgid` |
//! | STRUCTURED-DATA | attribute `syslog.structured_data`: map SD-ID → map param → string |
//! | MSG | `body` (string, BOM removed; no `body` when the message has no MSG) |
//! | Cisco sequence number, `*`/`.` clock marker | `syslog.sequence` (int), `syslog.clock_synced` (false) |
//!
//! NILVALUE and absent fields produce no attribute. A message that cannot be read is kept
//! whole as `body` with `severity_number` 0 and `syslog.parse_error` saying why, never
//! dropped. Unlike the OpenTelemetry Collector's syslog receiver (flat `hostname`,
//! `appname`, `proc_id`, `msg_id`, `structured_data` attributes, the raw line as body),
//! we follow the data model's names.
//!
//! Strings are slices of the received buffer (a message that is not valid UTF-8 is copied
//! once, with U+FFFD for the bad bytes); only unescaped SD values are new strings.
//!
//! `syslog_loose` supplies the PRI decomposition and keywords; its message parsers are not
//! used, see `tests/loose.rs` for the gaps that made that so.

mod rfc3164;
mod rfc5424;
mod sd;
mod severity;
mod timestamp;
mod year;

#[cfg(test)]
mod tests;

pub use rfc5424::Field;
pub use sd::SdError;

use crate::record::{AnyValue, Attributes, LogRecord, Str};
use bytes::Bytes;
use chrono::{DateTime, FixedOffset, Utc};
use severity::{Pri, PriScan};
use std::ops::Range;

/// How to read messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseOptions {
    /// The zone of timestamps that name none (RFC 3164 ones, mostly): the senders' local
    /// time, which a receiver cannot know. Typically UTC.
    pub default_timezone: FixedOffset,
    /// When the message was received; only used to pick the year of RFC 3164 timestamps.
    pub now: DateTime<Utc>,
}

impl ParseOptions {
    /// Options for a message received at `now_unix_nano`, zone-less stamps in `default_timezone`.
    pub fn new(default_timezone: FixedOffset, now_unix_nano: u64) -> Self {
        ParseOptions {
            default_timezone,
            now: DateTime::from_timestamp_nanos(i64::try_from(now_unix_nano).unwrap_or(i64::MAX)),
        }
    }
}

/// One message, read.
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed {
    /// Time, severity, body and attributes; `observed_time_unix_nano`, `resource` and
    /// `scope` are left for the caller.
    pub record: LogRecord,
    /// HOSTNAME, for the resource's `host.name`.
    pub hostname: Option<Str>,
    /// APP-NAME (RFC 5424) or TAG (RFC 3164), for the resource's `service.name`.
    pub appname: Option<Str>,
    /// Why the message could not be read (also in the `syslog.parse_error` attribute).
    pub error: Option<ParseError>,
}

/// Why a message could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("empty message")]
    Empty,
    #[error("PRI is not <0> to <191>")]
    BadPri,
    #[error("no PRI and no timestamp: not a syslog message")]
    NotSyslog,
    #[error("RFC 5424 header ends before {0}")]
    Truncated(Field),
    #[error("RFC 5424 TIMESTAMP is not RFC 3339 with a UTC offset")]
    BadTimestamp,
    #[error("RFC 5424 {field} is not 1-{max} printable ASCII characters")]
    BadField { field: Field, max: usize },
    #[error("RFC 5424 STRUCTURED-DATA: {0}")]
    StructuredData(SdError),
    #[error("RFC 5424 STRUCTURED-DATA is not followed by a space")]
    NoSpaceBeforeMsg,
}

/// Reads one message (framing already removed, trailing LF/CR/NUL allowed).
pub fn parse(line: Bytes, opts: &ParseOptions) -> Parsed {
    let (record, (hostname, appname), error) =
        parse_with(line, opts, |names| (names.host_str(), names.app_str()));
    Parsed {
        record,
        hostname,
        appname,
        error,
    }
}

/// HOSTNAME and APP-NAME (or TAG) of the message being read, borrowed from it: a caller
/// that maps them to a shared resource compares text and makes strings only for a new one.
pub struct Names<'a> {
    line: &'a Line,
    host: Option<Range<usize>>,
    app: Option<Range<usize>>,
}

impl Names<'_> {
    /// HOSTNAME.
    pub fn host(&self) -> Option<&str> {
        self.host.clone().and_then(|r| self.line.0.get(r))
    }

    /// APP-NAME, or the RFC 3164 TAG.
    pub fn app(&self) -> Option<&str> {
        self.app.clone().and_then(|r| self.line.0.get(r))
    }

    /// HOSTNAME, sharing the message's storage.
    pub fn host_str(&self) -> Option<Str> {
        self.host.clone().map(|r| self.line.slice(r))
    }

    /// APP-NAME or TAG, sharing the message's storage.
    pub fn app_str(&self) -> Option<Str> {
        self.app.clone().map(|r| self.line.slice(r))
    }
}

/// [`parse`] for an input: hands HOSTNAME and APP-NAME to `names` (to pick the record's
/// resource, say) instead of making strings of them; returns the record, what `names`
/// returned, and why the message could not be read, if so.
pub fn parse_with<R>(
    line: Bytes,
    opts: &ParseOptions,
    names: impl FnOnce(&Names) -> R,
) -> (LogRecord, R, Option<ParseError>) {
    let end = line.len()
        - line
            .iter()
            .rev()
            .take_while(|&&c| matches!(c, b'\n' | b'\r' | b'\0'))
            .count();
    let mut line = line;
    line.truncate(end);
    let line = Line::new(line);
    // Filled in place: moving this many fields through results costs more than reading them.
    let mut fields = Fields::default();
    match read(&line, opts, &mut fields) {
        Ok(pri) => {
            let named = names(&Names {
                line: &line,
                host: fields.hostname.take(),
                app: fields.appname.take(),
            });
            (assemble(pri, fields, line), named, None)
        }
        Err(error) => {
            let named = names(&Names {
                line: &line,
                host: None,
                app: None,
            });
            (unreadable(line, error), named, Some(error))
        }
    }
}

fn read(line: &Line, opts: &ParseOptions, fields: &mut Fields) -> Result<Option<Pri>, ParseError> {
    let b = line.bytes();
    if b.is_empty() {
        return Err(ParseError::Empty);
    }
    let (pri, pos) = match severity::scan_pri(b) {
        PriScan::Absent => (None, 0),
        PriScan::Valid(pri, len) => (Some(pri), len),
        PriScan::Invalid => return Err(ParseError::BadPri),
    };
    if pri.is_some() && rfc5424::detect(b, pos) {
        rfc5424::parse(line, pos, opts, fields)?;
    } else {
        rfc3164::parse(line, pos, pri.is_some(), opts, fields)?;
    }
    Ok(pri)
}

/// What either dialect reads from a message.
#[derive(Debug, Default)]
struct Fields {
    time_unix_nano: u64,
    version: Option<i64>,
    hostname: Option<Range<usize>>,
    appname: Option<Range<usize>>,
    procid: Option<Str>,
    msgid: Option<Str>,
    structured_data: Option<Attributes>,
    /// Where MSG starts (see [`msg_start`]); `None`: the message has no MSG.
    msg: Option<usize>,
    sequence: Option<i64>,
    clock_synced: Option<bool>,
}

fn assemble(pri: Option<Pri>, f: Fields, line: Line) -> LogRecord {
    let key = Str::from_static;
    let mut attributes = Vec::with_capacity(
        usize::from(pri.is_some())
            + usize::from(f.version.is_some())
            + usize::from(f.procid.is_some())
            + usize::from(f.msgid.is_some())
            + usize::from(f.structured_data.is_some())
            + usize::from(f.sequence.is_some())
            + usize::from(f.clock_synced.is_some())
            // Room for what a network transport adds (peer address, transport), so the
            // caller's pushes do not reallocate; a rare truncation mark may. No more: a
            // record waiting in a buffer should carry no spare capacity.
            + 2,
    );
    if let Some(pri) = pri {
        attributes.push((key("syslog.facility"), AnyValue::Int(pri.facility.into())));
    }
    if let Some(v) = f.version {
        attributes.push((key("syslog.version"), AnyValue::Int(v)));
    }
    if let Some(v) = f.procid {
        attributes.push((key("syslog.procid"), AnyValue::String(v)));
    }
    if let Some(v) = f.msgid {
        attributes.push((key("syslog.msgid"), AnyValue::String(v)));
    }
    if let Some(v) = f.structured_data {
        attributes.push((key("syslog.structured_data"), AnyValue::Map(v)));
    }
    if let Some(v) = f.sequence {
        attributes.push((key("syslog.sequence"), AnyValue::Int(v)));
    }
    if let Some(v) = f.clock_synced {
        attributes.push((key("syslog.clock_synced"), AnyValue::Bool(v)));
    }
    LogRecord {
        time_unix_nano: f.time_unix_nano,
        severity_number: pri.map_or(0, Pri::severity_number),
        severity_text: pri.map_or_else(Str::new, |p| Str::from_static(p.severity_text())),
        // MSG runs to the end: it takes the line's own storage (no reference-count traffic).
        body: f
            .msg
            .map_or(AnyValue::Empty, |start| AnyValue::String(line.tail(start))),
        attributes,
        ..LogRecord::default()
    }
}

fn unreadable(line: Line, error: ParseError) -> LogRecord {
    let mut record = LogRecord::new(AnyValue::String(line.0), 0);
    record.attributes.push((
        Str::from_static("syslog.parse_error"),
        AnyValue::String(Str::from(error.to_string())),
    ));
    record
}

/// The message as UTF-8, cut into fields without copying.
struct Line(Str);

impl Line {
    fn new(bytes: Bytes) -> Self {
        Line(Str::from_utf8_lossy(bytes))
    }

    fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The text from `start` to the end, taking the line's storage.
    fn tail(self, start: usize) -> Str {
        if self.0.is_char_boundary(start) {
            self.0.into_tail(start).expect("a character boundary")
        } else {
            Str::from_utf8_lossy(self.0.as_bytes().slice(start..))
        }
    }

    /// A field; `range` lies on ASCII boundaries, so this never copies.
    fn slice(&self, range: Range<usize>) -> Str {
        self.0
            .slice(range.clone())
            .unwrap_or_else(|| Str::from_utf8_lossy(self.0.as_bytes().slice(range)))
    }
}

/// Where MSG from `start` begins: after a leading UTF-8 BOM, and after one leading space:
/// rsyslog keeps the space after a BSD tag's colon in its message property and sends it on
/// (`- - -  hello`); like rsyslog's own `remove.msgFirstSpace`, it is dropped so the same
/// message reads the same whichever way it came.
fn msg(line: &Line, start: usize) -> usize {
    let bytes = line.bytes();
    let mut start = start.min(bytes.len());
    if bytes[start..].starts_with(b"\xEF\xBB\xBF") {
        start += 3;
    }
    if bytes[start..].starts_with(b" ") {
        start += 1;
    }
    start
}
