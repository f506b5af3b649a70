//! Templates over a record: literal text with `{{ field }}` placeholders, rendered per
//! record into a reused buffer (no allocation once it has grown). Fields:
//!
//! | placeholder | value |
//! |---|---|
//! | `{{ input }}` | name of the input the record came from |
//! | `{{ resource.KEY }}` | resource attribute `KEY` (e.g. `resource.host.name`) |
//! | `{{ attributes.KEY }}` | record attribute `KEY` (e.g. `attributes.syslog.appname`) |
//! | `{{ scope.name }}`, `{{ scope.version }}` | instrumentation scope |
//! | `{{ severity }}` | `trace`, `debug`, `info`, `warn`, `error` or `fatal` from the severity number, else the source's severity word in lower case |
//! | `{{ severity_text }}`, `{{ severity_number }}` | as the source sent them |
//! | `{{ trace_id }}`, `{{ span_id }}` | lower-case hex |
//! | `{{ event_name }}`, `{{ body }}` | as text |
//!
//! A field the record lacks renders as nothing. Maps and arrays render as compact JSON.

use super::{AnyValue, LogRecord, attribute};
use std::fmt::Write as _;

/// A parsed template.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq)]
enum Part {
    Text(String),
    Field(Field),
}

#[derive(Clone, Debug, PartialEq)]
enum Field {
    Input,
    Resource(String),
    Attribute(String),
    ScopeName,
    ScopeVersion,
    Severity,
    SeverityText,
    SeverityNumber,
    TraceId,
    SpanId,
    EventName,
    Body,
}

const FIELDS: &str = "input, resource.KEY, attributes.KEY, scope.name, scope.version, severity, severity_text, severity_number, trace_id, span_id, event_name, body";

impl Template {
    /// Parses `text`, naming what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or_else(|| format!("unterminated \"{{{{\" in \"{text}\""))?;
            let name = after[..close].trim();
            let field = match name {
                "input" => Field::Input,
                "scope.name" => Field::ScopeName,
                "scope.version" => Field::ScopeVersion,
                "severity" => Field::Severity,
                "severity_text" => Field::SeverityText,
                "severity_number" => Field::SeverityNumber,
                "trace_id" => Field::TraceId,
                "span_id" => Field::SpanId,
                "event_name" => Field::EventName,
                "body" => Field::Body,
                _ => match name.split_once('.') {
                    Some(("resource", key)) if !key.is_empty() => Field::Resource(key.into()),
                    Some(("attributes", key)) if !key.is_empty() => Field::Attribute(key.into()),
                    _ => {
                        return Err(format!(
                            "unknown template field \"{name}\" in \"{text}\"; expected one of: {FIELDS}"
                        ));
                    }
                },
            };
            parts.push(Part::Field(field));
            rest = &after[close + 2..];
        }
        if !rest.is_empty() || parts.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template { parts })
    }

    /// The text, when the template has no placeholder.
    pub fn as_static(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [Part::Text(text)] => Some(text),
            _ => None,
        }
    }

    /// The record attribute keys the template reads.
    pub fn attribute_keys(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Field(Field::Attribute(key)) => Some(key.as_str()),
            _ => None,
        })
    }

    /// Appends the template's value for `record` (from the input `input`) to `out`.
    pub fn render(&self, record: &LogRecord, input: &str, out: &mut String) {
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Field(field) => render_field(field, record, input, out),
            }
        }
    }
}

fn render_field(field: &Field, r: &LogRecord, input: &str, out: &mut String) {
    match field {
        Field::Input => out.push_str(input),
        Field::Resource(key) => {
            if let Some(v) = attribute(&r.resource.attributes, key) {
                write_value(v, out);
            }
        }
        Field::Attribute(key) => {
            if let Some(v) = attribute(&r.attributes, key) {
                write_value(v, out);
            }
        }
        Field::ScopeName => out.push_str(r.scope.name.as_str()),
        Field::ScopeVersion => out.push_str(r.scope.version.as_str()),
        Field::Severity => match severity_name(r.severity_number) {
            Some(name) => out.push_str(name),
            None => out.extend(
                r.severity_text
                    .as_str()
                    .chars()
                    .map(|c| c.to_ascii_lowercase()),
            ),
        },
        Field::SeverityText => out.push_str(r.severity_text.as_str()),
        Field::SeverityNumber => {
            if r.severity_number != 0 {
                let _ = write!(out, "{}", r.severity_number);
            }
        }
        Field::TraceId => write_hex(&r.trace_id, out),
        Field::SpanId => write_hex(&r.span_id, out),
        Field::EventName => out.push_str(r.event_name.as_str()),
        Field::Body => write_value(&r.body, out),
    }
}

/// The OpenTelemetry short name of a severity number (1–24), as Loki's `level` uses it.
pub fn severity_name(number: i32) -> Option<&'static str> {
    Some(match number {
        1..=4 => "trace",
        5..=8 => "debug",
        9..=12 => "info",
        13..=16 => "warn",
        17..=20 => "error",
        21..=24 => "fatal",
        _ => return None,
    })
}

fn write_hex(bytes: &[u8], out: &mut String) {
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
}

/// A value as text: strings as they are, scalars in their usual spelling, maps and arrays
/// as compact JSON.
pub fn write_value(v: &AnyValue, out: &mut String) {
    match v {
        AnyValue::Empty => {}
        AnyValue::String(s) => out.push_str(s.as_str()),
        _ => write_json_value(v, out),
    }
}

fn write_json_value(v: &AnyValue, out: &mut String) {
    match v {
        AnyValue::Empty => out.push_str("null"),
        AnyValue::String(s) => {
            let _ = write!(out, "{}", serde_json::Value::from(s.as_str()));
        }
        AnyValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        AnyValue::Int(i) => {
            let _ = write!(out, "{i}");
        }
        AnyValue::Double(d) => {
            let _ = write!(out, "{}", serde_json::Value::from(*d));
        }
        AnyValue::Bytes(b) => {
            use base64::Engine;
            out.push('"');
            out.push_str(&base64::engine::general_purpose::STANDARD.encode(b));
            out.push('"');
        }
        AnyValue::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_value(item, out);
            }
            out.push(']');
        }
        AnyValue::Map(pairs) => {
            out.push('{');
            for (i, (k, item)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{}:", serde_json::Value::from(k.as_str()));
                write_json_value(item, out);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Resource, Str};
    use std::sync::Arc;

    fn record() -> LogRecord {
        let mut r = LogRecord::new(AnyValue::from("hello"), 1);
        r.severity_number = 17;
        r.severity_text = Str::from("ERR");
        r.attributes = vec![
            (Str::from("syslog.appname"), AnyValue::from("sshd")),
            (Str::from("n"), AnyValue::Int(-3)),
            (
                Str::from("m"),
                AnyValue::Map(vec![(
                    Str::from("a"),
                    AnyValue::Array(vec![AnyValue::Bool(true)]),
                )]),
            ),
        ];
        r.resource = Arc::new(Resource {
            attributes: vec![(Str::from("host.name"), AnyValue::from("web-1"))],
            ..Resource::default()
        });
        r.trace_id = bytes::Bytes::from_static(&[0xab, 0x01]);
        r
    }

    fn render(template: &str) -> String {
        let mut out = String::new();
        Template::parse(template)
            .unwrap()
            .render(&record(), "syslog", &mut out);
        out
    }

    #[test]
    fn renders_every_field_kind() {
        assert_eq!(render("{{ resource.host.name }}"), "web-1");
        assert_eq!(
            render("{{attributes.syslog.appname}}/{{ input }}"),
            "sshd/syslog"
        );
        assert_eq!(
            render("{{ severity }} {{ severity_text }} {{ severity_number }}"),
            "error ERR 17"
        );
        assert_eq!(render("{{ attributes.n }}"), "-3");
        assert_eq!(render("{{ attributes.m }}"), r#"{"a":[true]}"#);
        assert_eq!(render("{{ attributes.missing }}"), "");
        assert_eq!(render("{{ trace_id }}"), "ab01");
        assert_eq!(render("{{ body }}"), "hello");
        assert_eq!(render("plain"), "plain");
        assert_eq!(render(""), "");
    }

    #[test]
    fn severity_falls_back_to_the_word_in_lower_case() {
        let mut r = record();
        r.severity_number = 0;
        let mut out = String::new();
        Template::parse("{{ severity }}")
            .unwrap()
            .render(&r, "", &mut out);
        assert_eq!(out, "err");
    }

    #[test]
    fn static_templates_are_recognised_and_bad_ones_named() {
        assert_eq!(Template::parse("job").unwrap().as_static(), Some("job"));
        assert_eq!(Template::parse("{{ input }}").unwrap().as_static(), None);
        let e = Template::parse("{{ host }}").unwrap_err();
        assert!(e.contains("unknown template field \"host\""), "{e}");
        assert!(
            Template::parse("{{ input")
                .unwrap_err()
                .contains("unterminated")
        );
    }
}
