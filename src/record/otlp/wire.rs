//! A zero-copy protobuf decoder for `ExportLogsServiceRequest`: strings and bytes become
//! slices of the request body (`Str`/`Bytes` sharing its buffer) instead of one allocation
//! each, which is most of what decoding costs. Unknown fields are skipped, as protobuf says;
//! strings are checked to be UTF-8, as proto3 requires.

use crate::record::{AnyValue, Attributes, LogRecord, Resource, Scope, Str};
use bytes::Bytes;
use std::sync::Arc;

/// Deepest nesting of messages accepted (prost's own limit).
const MAX_DEPTH: u32 = 100;

/// Why a protobuf body is not a valid `ExportLogsServiceRequest`.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid protobuf ExportLogsServiceRequest: {what} at byte {at}")]
pub struct WireError {
    what: &'static str,
    at: usize,
}

type Result<T> = std::result::Result<T, WireError>;

/// Decodes a binary request straight into records (one shared resource per `ResourceLogs`,
/// one shared scope per `ScopeLogs`).
pub fn decode_records(body: &Bytes) -> Result<Vec<LogRecord>> {
    let mut records = Vec::new();
    let mut r = Reader::new(body, 0, body.len(), 0);
    while let Some((field, wire)) = r.key()? {
        match (field, wire) {
            (1, LEN) => {
                let sub = r.message()?;
                resource_logs(sub, &mut records)?;
            }
            _ => r.skip(wire)?,
        }
    }
    Ok(records)
}

const VARINT: u8 = 0;
const I64: u8 = 1;
const LEN: u8 = 2;
const I32: u8 = 5;

struct Reader<'a> {
    buf: &'a Bytes,
    pos: usize,
    end: usize,
    depth: u32,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a Bytes, pos: usize, end: usize, depth: u32) -> Self {
        Reader {
            buf,
            pos,
            end,
            depth,
        }
    }

    fn fail<T>(&self, what: &'static str) -> Result<T> {
        Err(WireError { what, at: self.pos })
    }

    fn varint(&mut self) -> Result<u64> {
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let Some(&byte) = self.buf[..self.end].get(self.pos) else {
                return self.fail("truncated varint");
            };
            self.pos += 1;
            if shift == 63 && byte > 1 {
                return self.fail("varint overflows 64 bits");
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Ok(value);
            }
        }
        self.fail("varint longer than 10 bytes")
    }

    fn key(&mut self) -> Result<Option<(u32, u8)>> {
        if self.pos >= self.end {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = (key >> 3) as u32;
        if field == 0 || key >> 32 != 0 {
            return self.fail("invalid field number");
        }
        Ok(Some((field, (key & 7) as u8)))
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N]> {
        let Some(bytes) = self.buf[..self.end].get(self.pos..self.pos + N) else {
            return self.fail("truncated fixed-width field");
        };
        self.pos += N;
        Ok(bytes.try_into().expect("N bytes"))
    }

    /// The range of a length-delimited field's content.
    fn range(&mut self) -> Result<(usize, usize)> {
        let len = self.varint()?;
        let start = self.pos;
        match usize::try_from(len).ok().and_then(|l| start.checked_add(l)) {
            Some(end) if end <= self.end => {
                self.pos = end;
                Ok((start, end))
            }
            _ => self.fail("length runs past the end of its message"),
        }
    }

    fn bytes(&mut self) -> Result<Bytes> {
        let (start, end) = self.range()?;
        Ok(self.buf.slice(start..end))
    }

    fn string(&mut self) -> Result<Str> {
        let at = self.pos;
        let bytes = self.bytes()?;
        Str::from_utf8(bytes).map_err(|_| WireError {
            what: "string field is not UTF-8",
            at,
        })
    }

    fn message(&mut self) -> Result<Reader<'a>> {
        if self.depth >= MAX_DEPTH {
            return self.fail("messages nested too deeply");
        }
        let (start, end) = self.range()?;
        Ok(Reader::new(self.buf, start, end, self.depth + 1))
    }

    fn skip(&mut self, wire: u8) -> Result<()> {
        match wire {
            VARINT => self.varint().map(drop),
            I64 => self.fixed::<8>().map(drop),
            LEN => self.range().map(drop),
            I32 => self.fixed::<4>().map(drop),
            _ => self.fail("unsupported wire type"),
        }
    }

    /// How many `field` entries of wire type LEN the rest of this message holds, so a
    /// repeated field's vector is allocated once at its size: growing it by doubling
    /// reallocates per record and leaves up to half its slots spare while it waits in a
    /// buffer. A malformed message counts as far as it reads; the decoding pass reports it.
    fn count(&self, field: u32) -> usize {
        let mut r = Reader::new(self.buf, self.pos, self.end, self.depth);
        let mut n = 0;
        while let Ok(Some((f, wire))) = r.key() {
            n += usize::from(f == field && wire == LEN);
            if r.skip(wire).is_err() {
                break;
            }
        }
        n
    }

    /// Reads a field whose wire type must be `want`.
    fn expect(&self, wire: u8, want: u8) -> Result<()> {
        if wire == want {
            Ok(())
        } else {
            self.fail("field has the wrong wire type")
        }
    }
}

fn resource_logs(mut r: Reader<'_>, records: &mut Vec<LogRecord>) -> Result<()> {
    let first = records.len();
    let mut resource = Resource::default();
    while let Some((field, wire)) = r.key()? {
        match field {
            1 => {
                r.expect(wire, LEN)?;
                let mut m = r.message()?;
                while let Some((field, wire)) = m.key()? {
                    match field {
                        1 => {
                            m.expect(wire, LEN)?;
                            let kv = m.message()?;
                            resource.attributes.push(key_value(kv)?);
                        }
                        2 => {
                            m.expect(wire, VARINT)?;
                            resource.dropped_attributes_count = m.varint()? as u32;
                        }
                        _ => m.skip(wire)?,
                    }
                }
            }
            2 => {
                r.expect(wire, LEN)?;
                let sub = r.message()?;
                scope_logs(sub, records)?;
            }
            3 => {
                r.expect(wire, LEN)?;
                resource.schema_url = r.string()?;
            }
            _ => r.skip(wire)?,
        }
    }
    // Fields may come in any order: the resource is attached once it is complete.
    let resource = Arc::new(resource);
    for record in &mut records[first..] {
        record.resource = Arc::clone(&resource);
    }
    Ok(())
}

fn scope_logs(mut r: Reader<'_>, records: &mut Vec<LogRecord>) -> Result<()> {
    let first = records.len();
    let mut scope = Scope::default();
    while let Some((field, wire)) = r.key()? {
        match field {
            1 => {
                r.expect(wire, LEN)?;
                let mut m = r.message()?;
                while let Some((field, wire)) = m.key()? {
                    match field {
                        1 => {
                            m.expect(wire, LEN)?;
                            scope.name = m.string()?;
                        }
                        2 => {
                            m.expect(wire, LEN)?;
                            scope.version = m.string()?;
                        }
                        3 => {
                            m.expect(wire, LEN)?;
                            let kv = m.message()?;
                            scope.attributes.push(key_value(kv)?);
                        }
                        4 => {
                            m.expect(wire, VARINT)?;
                            scope.dropped_attributes_count = m.varint()? as u32;
                        }
                        _ => m.skip(wire)?,
                    }
                }
            }
            2 => {
                r.expect(wire, LEN)?;
                let sub = r.message()?;
                records.push(log_record(sub)?);
            }
            3 => {
                r.expect(wire, LEN)?;
                scope.schema_url = r.string()?;
            }
            _ => r.skip(wire)?,
        }
    }
    let scope = Arc::new(scope);
    for record in &mut records[first..] {
        record.scope = Arc::clone(&scope);
    }
    Ok(())
}

fn log_record(mut r: Reader<'_>) -> Result<LogRecord> {
    let mut record = LogRecord::default();
    record.attributes.reserve_exact(r.count(6));
    while let Some((field, wire)) = r.key()? {
        match field {
            1 => {
                r.expect(wire, I64)?;
                record.time_unix_nano = u64::from_le_bytes(r.fixed()?);
            }
            2 => {
                r.expect(wire, VARINT)?;
                record.severity_number = r.varint()? as i32;
            }
            3 => {
                r.expect(wire, LEN)?;
                record.severity_text = r.string()?;
            }
            5 => {
                r.expect(wire, LEN)?;
                let m = r.message()?;
                record.body = any_value(m)?;
            }
            6 => {
                r.expect(wire, LEN)?;
                let kv = r.message()?;
                record.attributes.push(key_value(kv)?);
            }
            7 => {
                r.expect(wire, VARINT)?;
                record.dropped_attributes_count = r.varint()? as u32;
            }
            8 => {
                r.expect(wire, I32)?;
                record.flags = u32::from_le_bytes(r.fixed()?);
            }
            9 => {
                r.expect(wire, LEN)?;
                record.trace_id = r.bytes()?;
            }
            10 => {
                r.expect(wire, LEN)?;
                record.span_id = r.bytes()?;
            }
            11 => {
                r.expect(wire, I64)?;
                record.observed_time_unix_nano = u64::from_le_bytes(r.fixed()?);
            }
            12 => {
                r.expect(wire, LEN)?;
                record.event_name = r.string()?;
            }
            _ => r.skip(wire)?,
        }
    }
    Ok(record)
}

fn key_value(mut r: Reader<'_>) -> Result<(Str, AnyValue)> {
    let (mut key, mut value) = (Str::default(), AnyValue::Empty);
    while let Some((field, wire)) = r.key()? {
        match field {
            1 => {
                r.expect(wire, LEN)?;
                key = r.string()?;
            }
            2 => {
                r.expect(wire, LEN)?;
                let m = r.message()?;
                value = any_value(m)?;
            }
            _ => r.skip(wire)?,
        }
    }
    Ok((key, value))
}

fn any_value(mut r: Reader<'_>) -> Result<AnyValue> {
    let mut value = AnyValue::Empty;
    // A oneof: the last member on the wire wins.
    while let Some((field, wire)) = r.key()? {
        value = match field {
            1 => {
                r.expect(wire, LEN)?;
                AnyValue::String(r.string()?)
            }
            2 => {
                r.expect(wire, VARINT)?;
                AnyValue::Bool(r.varint()? != 0)
            }
            3 => {
                r.expect(wire, VARINT)?;
                AnyValue::Int(r.varint()? as i64)
            }
            4 => {
                r.expect(wire, I64)?;
                AnyValue::Double(f64::from_le_bytes(r.fixed()?))
            }
            5 => {
                r.expect(wire, LEN)?;
                let mut m = r.message()?;
                let mut values = Vec::with_capacity(m.count(1));
                while let Some((field, wire)) = m.key()? {
                    if field == 1 {
                        m.expect(wire, LEN)?;
                        let v = m.message()?;
                        values.push(any_value(v)?);
                    } else {
                        m.skip(wire)?;
                    }
                }
                AnyValue::Array(values)
            }
            6 => {
                r.expect(wire, LEN)?;
                let mut m = r.message()?;
                let mut values: Attributes = Vec::with_capacity(m.count(1));
                while let Some((field, wire)) = m.key()? {
                    if field == 1 {
                        m.expect(wire, LEN)?;
                        let kv = m.message()?;
                        values.push(key_value(kv)?);
                    } else {
                        m.skip(wire)?;
                    }
                }
                AnyValue::Map(values)
            }
            7 => {
                r.expect(wire, LEN)?;
                AnyValue::Bytes(r.bytes()?)
            }
            // A profiles-only string-table reference: empty for logs, as the spec asks.
            8 => {
                r.skip(wire)?;
                AnyValue::Empty
            }
            _ => {
                r.skip(wire)?;
                continue;
            }
        };
    }
    Ok(value)
}
