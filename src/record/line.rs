//! A short human-readable line per record, as syslog daemons write files:
//! `TIME HOST SERVICE SEVERITY: BODY`, with `-` for what is unknown. Attributes are left
//! out; the JSON encoding carries everything.

use super::{AnyValue, LogRecord, attribute};
use std::io::Write;

/// Appends one line per record to `out`.
pub fn encode_lines<'a>(records: impl IntoIterator<Item = &'a LogRecord>, out: &mut Vec<u8>) {
    let mut clock = SecondCache::default();
    for r in records {
        let t = if r.time_unix_nano != 0 {
            r.time_unix_nano
        } else {
            r.observed_time_unix_nano
        };
        clock.write(t, out);
        for key in ["host.name", "service.name"] {
            out.push(b' ');
            match attribute(&r.resource.attributes, key) {
                Some(AnyValue::String(s)) if !s.is_empty() => out.extend_from_slice(s.as_bytes()),
                _ => out.push(b'-'),
            }
        }
        out.push(b' ');
        if r.severity_text.is_empty() {
            out.push(b'-');
        } else {
            out.extend_from_slice(r.severity_text.as_bytes());
        }
        out.extend_from_slice(b": ");
        write_plain(&r.body, out);
        out.push(b'\n');
    }
}

/// The `YYYY-MM-DDTHH:MM:SS` part, formatted once per second.
#[derive(Default)]
struct SecondCache {
    second: Option<u64>,
    text: Vec<u8>,
}

impl SecondCache {
    fn write(&mut self, unix_nano: u64, out: &mut Vec<u8>) {
        let second = unix_nano / 1_000_000_000;
        if self.second != Some(second) {
            self.text.clear();
            let time = chrono::DateTime::from_timestamp(second as i64, 0).unwrap_or_default();
            let _ = write!(self.text, "{}", time.format("%Y-%m-%dT%H:%M:%S"));
            self.second = Some(second);
        }
        out.extend_from_slice(&self.text);
        let millis = (unix_nano / 1_000_000 % 1000) as u16;
        out.extend_from_slice(&[
            b'.',
            b'0' + (millis / 100) as u8,
            b'0' + (millis / 10 % 10) as u8,
            b'0' + (millis % 10) as u8,
            b'Z',
        ]);
    }
}

/// A value as plain text; line breaks inside are escaped so one record stays one line.
fn write_plain(v: &AnyValue, out: &mut Vec<u8>) {
    match v {
        AnyValue::String(s) => {
            let bytes = s.as_bytes();
            if memchr::memchr2(b'\n', b'\r', bytes).is_none() {
                out.extend_from_slice(bytes);
            } else {
                for &b in bytes.iter() {
                    match b {
                        b'\n' => out.extend_from_slice(b"\\n"),
                        b'\r' => out.extend_from_slice(b"\\r"),
                        _ => out.push(b),
                    }
                }
            }
        }
        AnyValue::Empty => {}
        AnyValue::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        AnyValue::Int(i) => {
            let _ = write!(out, "{i}");
        }
        AnyValue::Double(d) => {
            let _ = write!(out, "{d}");
        }
        other => {
            let mut json = Vec::new();
            super::json::write_json_value(other, &mut json);
            out.extend_from_slice(&json);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Resource, Str};
    use std::sync::Arc;

    #[test]
    fn one_short_line_per_record() {
        let mut r = LogRecord::new("hello\nworld".into(), 1_700_000_000_123_000_000);
        r.severity_text = "warning".into();
        r.resource = Arc::new(Resource {
            attributes: vec![(Str::from("host.name"), "web1".into())],
            ..Resource::default()
        });
        let mut plain = LogRecord::new(AnyValue::Int(7), 1_700_000_000_999_000_000);
        plain.time_unix_nano = 0;
        let mut out = Vec::new();
        encode_lines([&r, &plain], &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2023-11-14T22:13:20.123Z web1 - warning: hello\\nworld\n2023-11-14T22:13:20.999Z - - -: 7\n"
        );
    }
}
