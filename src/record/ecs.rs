//! Elastic Common Schema documents — what Filebeat and the Elasticsearch clients send, over
//! the `_bulk` API or the Beats protocol — into records, parsed straight from the received
//! buffer: strings without escapes become slices of it (no copy), nested objects are
//! flattened into dotted keys as ECS names them.
//!
//! | document | record |
//! |---|---|
//! | `@timestamp` (RFC 3339) | `time_unix_nano` |
//! | `message` (a string) | body |
//! | `log.level` | `severity_text`, and `severity_number` when it is a known level word |
//! | `host.*`, `agent.*` | resource attributes, same dotted names (`host.name`) |
//! | `@metadata.beat` (Beats protocol: the index Filebeat meant) | attribute `elasticsearch.index` |
//! | everything else: `log.file.path`, `log.offset`, `input.type`, `fields.*`, `tags`, `@metadata.*`… | attributes, dotted names; arrays stay arrays |
//!
//! A document that is not a JSON object is an error (the caller reports it per item).

use super::{AnyValue, Attributes, LogRecord, Resource, Scope, Str};
use bytes::Bytes;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::sync::Arc;

/// Maps documents into records, sharing one `Resource` between consecutive documents
/// with the same host and agent (one Filebeat sends many).
pub struct EcsMapper {
    scope: Arc<Scope>,
    last: Option<Arc<Resource>>,
    fields: Vec<(Str, AnyValue)>,
}

impl EcsMapper {
    /// A mapper whose records carry the instrumentation scope `scope_name`.
    pub fn new(scope_name: &'static str) -> Self {
        EcsMapper {
            scope: Arc::new(Scope {
                name: Str::from_static(scope_name),
                ..Scope::default()
            }),
            last: None,
            fields: Vec::new(),
        }
    }

    /// Maps the JSON object `doc` (a slice of `owner`) into a record observed at `observed`,
    /// with `extra` attributes appended.
    pub fn map(
        &mut self,
        owner: &Bytes,
        doc: &[u8],
        extra: impl IntoIterator<Item = (Str, AnyValue)>,
        observed: u64,
    ) -> Result<LogRecord, String> {
        self.fields.clear();
        let mut de = serde_json::Deserializer::from_slice(doc);
        Flatten {
            owner,
            prefix: None,
            out: &mut self.fields,
        }
        .deserialize(&mut de)
        .map_err(|e| e.to_string())?;
        de.end().map_err(|e| e.to_string())?;
        // Flattening copies a parent's key into each leaf's: a small document with a long
        // key over many leaves must not turn into gigabytes of keys.
        let key_bytes: usize = self.fields.iter().map(|(k, _)| k.len()).sum();
        if key_bytes > doc.len().saturating_mul(4).max(64 << 10) {
            self.fields.clear();
            return Err(format!(
                "flattened field names would take {key_bytes} bytes for a {}-byte document",
                doc.len()
            ));
        }

        let mut record = LogRecord::new(AnyValue::Empty, observed);
        record.scope = Arc::clone(&self.scope);
        let mut resource: Attributes = Vec::new();
        let mut attributes: Attributes = Vec::with_capacity(self.fields.len());
        for (key, value) in self.fields.drain(..) {
            match (key.as_str(), value) {
                ("@timestamp", AnyValue::String(t)) if record.time_unix_nano == 0 => {
                    match parse_time(t.as_str()) {
                        Some(ns) => record.time_unix_nano = ns,
                        None => attributes.push((key, AnyValue::String(t))),
                    }
                }
                ("message", AnyValue::String(m)) if matches!(record.body, AnyValue::Empty) => {
                    record.body = AnyValue::String(m)
                }
                ("log.level", AnyValue::String(level)) => {
                    record.severity_number = severity_number(level.as_str());
                    record.severity_text = level;
                }
                ("@metadata.beat", v) => {
                    attributes.push((Str::from_static("elasticsearch.index"), v))
                }
                (k, v) if k.starts_with("host.") || k.starts_with("agent.") => {
                    resource.push((key, v))
                }
                (_, v) => attributes.push((key, v)),
            }
        }
        attributes.extend(extra);
        record.attributes = attributes;
        record.resource = match &self.last {
            Some(last) if last.attributes == resource => Arc::clone(last),
            _ => {
                let r = Arc::new(Resource {
                    attributes: resource,
                    ..Resource::default()
                });
                self.last = Some(Arc::clone(&r));
                r
            }
        };
        Ok(record)
    }
}

/// `@timestamp` as Filebeat writes it (`2026-11-29T08:00:00.123Z`) or any RFC 3339 time.
fn parse_time(text: &str) -> Option<u64> {
    let t = chrono::DateTime::parse_from_rfc3339(text).ok()?;
    u64::try_from(t.timestamp_nanos_opt()?).ok()
}

/// The OTel severity number of a level word (`info`, `WARN`, `error`, …), else 0.
fn severity_number(level: &str) -> i32 {
    match level.to_ascii_lowercase().as_str() {
        "trace" => 1,
        "debug" => 5,
        "info" | "informational" | "notice" => 9,
        "warn" | "warning" => 13,
        "error" | "err" => 17,
        "critical" | "crit" | "alert" | "fatal" | "emergency" | "emerg" => 21,
        _ => 0,
    }
}

/// Most bytes of parent key copies one nested object may add when flattened.
const MAX_KEY_BYTES: usize = 16 << 20;

/// Visits an object, pushing `prefix.key → value` for every leaf; nested objects recurse.
struct Flatten<'a> {
    owner: &'a Bytes,
    prefix: Option<Str>,
    out: &'a mut Vec<(Str, AnyValue)>,
}

impl<'de> DeserializeSeed<'de> for Flatten<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Flatten<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key_seed(Text(self.owner))? {
            let key = match &self.prefix {
                None => key,
                Some(p) => Str::from(format!("{}.{}", p.as_str(), key.as_str())),
            };
            let value = map.next_value_seed(Value(self.owner))?;
            match value {
                Leaf::Object(fields) => {
                    let total = (key.len() + 1).saturating_mul(fields.len());
                    if total > MAX_KEY_BYTES {
                        return Err(serde::de::Error::custom(format!(
                            "nested field names would take {total} bytes (at most {MAX_KEY_BYTES})"
                        )));
                    }
                    for (k, v) in fields {
                        self.out
                            .push((Str::from(format!("{}.{}", key.as_str(), k.as_str())), v));
                    }
                }
                Leaf::Value(v) => self.out.push((key, v)),
            }
        }
        Ok(())
    }
}

/// A key or string: a slice of the buffer when the parser could borrow it.
struct Text<'a>(&'a Bytes);

impl<'de> DeserializeSeed<'de> for Text<'_> {
    type Value = Str;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Str, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Text<'_> {
    type Value = Str;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Str, E> {
        Ok(Str::borrowed_from(self.0, s))
    }
    fn visit_str<E>(self, s: &str) -> Result<Str, E> {
        Ok(Str::from(s.to_string()))
    }
    fn visit_string<E>(self, s: String) -> Result<Str, E> {
        Ok(Str::from(s))
    }
}

/// A value: a leaf, or a nested object already flattened (keys relative to it).
enum Leaf {
    Value(AnyValue),
    Object(Vec<(Str, AnyValue)>),
}

struct Value<'a>(&'a Bytes);

impl<'de> DeserializeSeed<'de> for Value<'_> {
    type Value = Leaf;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Leaf, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Value<'_> {
    type Value = Leaf;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Leaf, E> {
        Ok(Leaf::Value(AnyValue::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Leaf, E> {
        Ok(Leaf::Value(AnyValue::Int(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Leaf, E> {
        Ok(Leaf::Value(match i64::try_from(v) {
            Ok(i) => AnyValue::Int(i),
            Err(_) => AnyValue::Double(v as f64),
        }))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Leaf, E> {
        Ok(Leaf::Value(AnyValue::Double(v)))
    }
    fn visit_unit<E>(self) -> Result<Leaf, E> {
        Ok(Leaf::Value(AnyValue::Empty))
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Leaf, E> {
        Ok(Leaf::Value(AnyValue::String(Str::borrowed_from(self.0, s))))
    }
    fn visit_str<E>(self, s: &str) -> Result<Leaf, E> {
        Ok(Leaf::Value(AnyValue::String(Str::from(s.to_string()))))
    }
    fn visit_string<E>(self, s: String) -> Result<Leaf, E> {
        Ok(Leaf::Value(AnyValue::String(Str::from(s))))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Leaf, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Value(self.0))? {
            items.push(match item {
                Leaf::Value(v) => v,
                Leaf::Object(fields) => AnyValue::Map(fields),
            });
        }
        Ok(Leaf::Value(AnyValue::Array(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Leaf, A::Error> {
        let mut fields = Vec::new();
        Flatten {
            owner: self.0,
            prefix: None,
            out: &mut fields,
        }
        .visit_map(map)?;
        Ok(Leaf::Object(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::attribute;

    fn map(doc: &str) -> Result<LogRecord, String> {
        let owner = Bytes::from(doc.to_string());
        EcsMapper::new("test").map(&owner, &owner, [], 5)
    }

    #[test]
    fn maps_a_filebeat_event() {
        let doc = r#"{"@timestamp":"2026-11-29T08:00:00.123Z","@metadata":{"beat":"filebeat","type":"_doc","version":"7.17.29"},
            "message":"GET /index.html 200","log":{"offset":1234,"file":{"path":"/var/log/app.log"},"level":"WARN"},
            "input":{"type":"filestream"},"host":{"name":"web-1","os":{"family":"debian"}},
            "agent":{"type":"filebeat","version":"7.17.29"},"fields":{"env":"prod"},"tags":["a","b"],"ecs":{"version":"1.12.0"},
            "esc":"line\nbreak","big":18446744073709551615,"none":null}"#;
        let r = map(doc).unwrap();
        assert_eq!(r.time_unix_nano, 1_795_939_200_123_000_000);
        assert_eq!(r.observed_time_unix_nano, 5);
        assert_eq!(r.body.as_str(), Some("GET /index.html 200"));
        assert_eq!((r.severity_number, r.severity_text.as_str()), (13, "WARN"));
        let res = &r.resource.attributes;
        assert_eq!(
            attribute(res, "host.name").and_then(AnyValue::as_str),
            Some("web-1")
        );
        assert_eq!(
            attribute(res, "host.os.family").and_then(AnyValue::as_str),
            Some("debian")
        );
        assert_eq!(
            attribute(res, "agent.type").and_then(AnyValue::as_str),
            Some("filebeat")
        );
        let a = &r.attributes;
        assert_eq!(
            attribute(a, "log.file.path").and_then(AnyValue::as_str),
            Some("/var/log/app.log")
        );
        assert_eq!(attribute(a, "log.offset"), Some(&AnyValue::Int(1234)));
        assert_eq!(
            attribute(a, "input.type").and_then(AnyValue::as_str),
            Some("filestream")
        );
        assert_eq!(
            attribute(a, "fields.env").and_then(AnyValue::as_str),
            Some("prod")
        );
        assert_eq!(
            attribute(a, "elasticsearch.index").and_then(AnyValue::as_str),
            Some("filebeat")
        );
        assert_eq!(
            attribute(a, "@metadata.version").and_then(AnyValue::as_str),
            Some("7.17.29")
        );
        assert_eq!(
            attribute(a, "tags"),
            Some(&AnyValue::Array(vec![
                AnyValue::from("a"),
                AnyValue::from("b")
            ]))
        );
        assert_eq!(
            attribute(a, "esc").and_then(AnyValue::as_str),
            Some("line\nbreak")
        );
        assert_eq!(
            attribute(a, "big"),
            Some(&AnyValue::Double(18446744073709551615.0))
        );
        assert_eq!(attribute(a, "none"), Some(&AnyValue::Empty));
        assert!(attribute(a, "host.name").is_none());
    }

    #[test]
    fn strings_without_escapes_share_the_buffer() {
        let owner = Bytes::from(r#"{"message":"shared","k":"v"}"#);
        let r = EcsMapper::new("t").map(&owner, &owner, [], 0).unwrap();
        let body = match &r.body {
            AnyValue::String(s) => s.as_bytes().as_ptr() as usize,
            _ => unreachable!(),
        };
        let range = owner.as_ptr() as usize..owner.as_ptr() as usize + owner.len();
        assert!(range.contains(&body));
    }

    #[test]
    fn consecutive_documents_from_one_host_share_a_resource() {
        let owner = Bytes::from(r#"{"host":{"name":"h"},"message":"x"}"#);
        let mut m = EcsMapper::new("t");
        let a = m.map(&owner, &owner, [], 0).unwrap();
        let b = m.map(&owner, &owner, [], 0).unwrap();
        assert!(Arc::ptr_eq(&a.resource, &b.resource));
    }

    #[test]
    fn bad_documents_are_errors() {
        assert!(map("[1,2]").unwrap_err().contains("expected a JSON object"));
        assert!(map(r#"{"a":1"#).is_err());
        assert!(map(r#"{"a":1} trailing"#).is_err());
        // A non-string message or timestamp stays an attribute.
        let r = map(r#"{"message":{"text":"x"},"@timestamp":"yesterday"}"#).unwrap();
        assert_eq!(r.body, AnyValue::Empty);
        assert!(attribute(&r.attributes, "message.text").is_some());
        assert!(attribute(&r.attributes, "@timestamp").is_some());
    }
}
