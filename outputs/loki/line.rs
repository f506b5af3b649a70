//! The log line of an entry: the body as text, the whole record as JSON, or logfmt.

use super::config::LineFormat;
use crate::record::{AnyValue, LogRecord, severity_name, write_json_record, write_value};
use std::fmt::Write as _;

/// Appends the line of `record` to `out`; `scratch` is reused for the JSON format.
pub fn write_line(format: LineFormat, r: &LogRecord, out: &mut String, scratch: &mut Vec<u8>) {
    match format {
        LineFormat::Text => write_value(&r.body, out),
        LineFormat::Json => {
            scratch.clear();
            write_json_record(r, scratch);
            out.push_str(&String::from_utf8_lossy(scratch));
        }
        LineFormat::Logfmt => write_logfmt(r, out),
    }
}

fn write_logfmt(r: &LogRecord, out: &mut String) {
    // `out` is shared by every line of a request: pairs are separated within this one.
    let start = out.len();
    let level = severity_name(r.severity_number).unwrap_or(r.severity_text.as_str());
    if !level.is_empty() {
        out.push_str("level=");
        logfmt_value(level, out);
    }
    let mut text = String::new();
    write_value(&r.body, &mut text);
    pair(out, start, "msg", &text);
    for (key, value) in &r.attributes {
        if matches!(value, AnyValue::Empty) {
            continue;
        }
        text.clear();
        write_value(value, &mut text);
        pair(out, start, key.as_str(), &text);
    }
    if !r.trace_id.is_empty() {
        text.clear();
        for b in r.trace_id.iter() {
            let _ = write!(text, "{b:02x}");
        }
        pair(out, start, "trace_id", &text);
    }
}

fn pair(out: &mut String, start: usize, key: &str, value: &str) {
    if out.len() > start {
        out.push(' ');
    }
    // Keys cannot be quoted in logfmt: anything but a plain identifier becomes `_`.
    out.extend(key.chars().map(|c| {
        if c.is_alphanumeric() || matches!(c, '_' | '.' | '-') {
            c
        } else {
            '_'
        }
    }));
    out.push('=');
    logfmt_value(value, out);
}

fn logfmt_value(value: &str, out: &mut String) {
    let plain = !value.is_empty()
        && !value
            .chars()
            .any(|c| c == ' ' || c == '=' || c == '"' || c == '\\' || c.is_control());
    if plain {
        out.push_str(value);
        return;
    }
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Str;

    #[test]
    fn logfmt_quotes_what_needs_it() {
        let mut r = LogRecord::new(AnyValue::from("disk \"sda\" full"), 1);
        r.severity_number = 13;
        r.attributes = vec![
            (Str::from("syslog.appname"), AnyValue::from("kernel")),
            (Str::from("n"), AnyValue::Int(3)),
            (Str::from("empty"), AnyValue::from("")),
        ];
        // After another line in the same arena, and for a record without a severity.
        let mut out = String::from("previous line");
        write_line(LineFormat::Logfmt, &r, &mut out, &mut Vec::new());
        let out = out.trim_start_matches("previous line").to_string();
        let mut bare = LogRecord::new(AnyValue::from("x"), 1);
        bare.attributes.push((Str::from("k"), AnyValue::from("v")));
        let mut second = String::from("earlier");
        write_line(LineFormat::Logfmt, &bare, &mut second, &mut Vec::new());
        assert_eq!(second, "earliermsg=x k=v");
        assert_eq!(
            out,
            r#"level=warn msg="disk \"sda\" full" syslog.appname=kernel n=3 empty="""#
        );
    }

    #[test]
    fn json_is_the_whole_record() {
        let r = LogRecord::new(AnyValue::from("hi"), 5);
        let mut out = String::new();
        write_line(LineFormat::Json, &r, &mut out, &mut Vec::new());
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["body"]["stringValue"], "hi");
        assert_eq!(v["observedTimeUnixNano"], "5");
    }
}
