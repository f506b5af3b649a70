//! `type = "stdout"`: records on standard output, as NDJSON (the same OTLP/JSON shape as the
//! file output) or as one short human line each (`format = "text"`).

use crate::batch::Records;
use crate::output::{Outcome, Output, OutputBuildContext, OutputConfig, Rejection};
use crate::record::{AnyValue, LogRecord, encode_ndjson};
use serde::Deserialize;
use std::io::Write;

/// How records are printed.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// One OTLP/JSON-shaped object per line.
    #[default]
    Json,
    /// `TIME SEVERITY BODY key=value …`
    Text,
}

/// `[outputs.NAME] type = "stdout"`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StdoutConfig {
    pub format: Format,
}

impl OutputConfig for StdoutConfig {
    type Output = Stdout;
    fn build(&self, _cx: &OutputBuildContext) -> Result<Stdout, String> {
        Ok(Stdout {
            format: self.format,
        })
    }
}

/// The running stdout output.
pub struct Stdout {
    format: Format,
}

impl Output for Stdout {
    type Request = Vec<u8>;

    fn encode(&mut self, records: &Records<'_>) -> Result<Vec<u8>, Rejection> {
        let mut out = Vec::with_capacity(records.len() * 256);
        match self.format {
            Format::Json => encode_ndjson(records.iter(), &mut out),
            Format::Text => records.iter().for_each(|r| write_text(r, &mut out)),
        }
        Ok(out)
    }

    fn request_bytes(request: &Vec<u8>) -> usize {
        request.len()
    }

    async fn send(&mut self, request: &Vec<u8>) -> Outcome {
        let mut stdout = std::io::stdout().lock();
        match stdout.write_all(request).and_then(|()| stdout.flush()) {
            Ok(()) => Outcome::Delivered,
            // A closed pipe will not reopen: retrying would only stall shutdown.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Outcome::Rejected(
                Rejection::new("broken_pipe", format!("standard output: {e}")),
            ),
            Err(e) => Outcome::Retry {
                after: None,
                reason: format!("writing standard output: {e}"),
            },
        }
    }
}

fn write_text(r: &LogRecord, out: &mut Vec<u8>) {
    let t = if r.time_unix_nano != 0 {
        r.time_unix_nano
    } else {
        r.observed_time_unix_nano
    };
    let time = chrono::DateTime::from_timestamp_nanos(t as i64);
    let _ = write!(out, "{}", time.format("%Y-%m-%dT%H:%M:%S%.3fZ"));
    if !r.severity_text.is_empty() {
        let _ = write!(out, " {}", r.severity_text);
    }
    out.push(b' ');
    write_plain(&r.body, out);
    for (k, v) in &r.attributes {
        let _ = write!(out, " {k}=");
        write_plain(v, out);
    }
    out.push(b'\n');
}

fn write_plain(v: &AnyValue, out: &mut Vec<u8>) {
    match v {
        AnyValue::String(s) => out.extend_from_slice(s.as_bytes()),
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
            let _ = write!(out, "{other:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_format_is_one_short_line() {
        let mut r = LogRecord::new("hello".into(), 1_700_000_000_000_000_000);
        r.severity_text = "WARN".into();
        r.attributes.push(("k".into(), AnyValue::Int(3)));
        let mut out = Vec::new();
        write_text(&r, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2023-11-14T22:13:20.000Z WARN hello k=3\n"
        );
    }
}
