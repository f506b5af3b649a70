//! The `_bulk` body: NDJSON pairs of an action line and a document line, parsed into records
//! and one result per action, and the response Elasticsearch clients read (`took`, `errors`,
//! one item per action, in order).
//!
//! `index` and `create` carry a document; `update` (which also has a line) and `delete`
//! (which has none) are refused per item. A document that is not a JSON object fails its
//! item only; an action line that is not one of the four makes the whole request a 400, as
//! in Elasticsearch — past it, which line is which cannot be known.

use crate::record::ecs::EcsMapper;
use crate::record::{AnyValue, LogRecord, Str};
use bytes::Bytes;
use serde::Deserialize;
use std::borrow::Cow;
use std::io::Write;

/// An action's metadata (`{"create":{"_index":"x","_id":"y","pipeline":"p"}}`).
#[derive(Deserialize, Default)]
struct Meta<'a> {
    #[serde(borrow, rename = "_index", default)]
    index: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "_id", default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pipeline: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Action<'a> {
    #[serde(borrow, default)]
    index: Option<Meta<'a>>,
    #[serde(borrow, default)]
    create: Option<Meta<'a>>,
    #[serde(borrow, default)]
    update: Option<Meta<'a>>,
    #[serde(borrow, default)]
    delete: Option<Meta<'a>>,
}

/// The outcome of one action, before the pipeline's verdict.
#[derive(Debug, PartialEq)]
pub enum Item {
    /// A document turned into a record (which one: its position among the records).
    Accepted { op: &'static str, index: String },
    /// Refused at once.
    Failed {
        op: &'static str,
        index: String,
        status: u16,
        kind: &'static str,
        reason: String,
    },
}

/// A parsed bulk body.
#[derive(Debug, Default)]
pub struct Parsed {
    pub records: Vec<LogRecord>,
    pub items: Vec<Item>,
}

/// Parses `body`; `path_index` is the `{index}` of `POST /{index}/_bulk`. `Err` is a
/// whole-request error (a malformed action line).
pub fn parse(
    body: &Bytes,
    path_index: Option<&str>,
    mapper: &mut EcsMapper,
    observed: u64,
) -> Result<Parsed, String> {
    let mut parsed = Parsed::default();
    let mut lines = Lines {
        body,
        at: 0,
        number: 0,
    };
    while let Some((number, line)) = lines.next_nonblank() {
        let action: Action = serde_json::from_slice(line)
            .map_err(|e| format!("Malformed action/metadata line [{number}]: {e}"))?;
        let (op, meta) = match action {
            Action {
                create: Some(m), ..
            } => ("create", m),
            Action { index: Some(m), .. } => ("index", m),
            Action {
                update: Some(m), ..
            } => ("update", m),
            Action {
                delete: Some(m), ..
            } => ("delete", m),
            _ => {
                return Err(format!(
                    "Malformed action/metadata line [{number}], expected one of [create, delete, index, update]"
                ));
            }
        };
        let index = meta
            .index
            .as_deref()
            .or(path_index)
            .unwrap_or_default()
            .to_string();
        let failed = |status, kind, reason: String| Item::Failed {
            op,
            index: index.clone(),
            status,
            kind,
            reason,
        };
        if op == "delete" {
            parsed.items.push(failed(
                400,
                "illegal_argument_exception",
                "logferry accepts documents only: delete is not supported".into(),
            ));
            continue;
        }
        let Some((_, doc)) = lines.next_nonblank() else {
            parsed.items.push(failed(
                400,
                "action_request_validation_exception",
                format!("the document line after action line [{number}] is missing"),
            ));
            break;
        };
        if op == "update" {
            parsed.items.push(failed(
                400,
                "illegal_argument_exception",
                "logferry accepts documents only: update is not supported".into(),
            ));
            continue;
        }
        let mut extra: Vec<(Str, AnyValue)> = Vec::with_capacity(3);
        let text = |s: &Cow<str>| match s {
            Cow::Borrowed(b) => Str::borrowed_from(body, b),
            Cow::Owned(o) => Str::from(o.clone()),
        };
        if let Some(i) = meta.index.as_ref() {
            extra.push((
                Str::from_static("elasticsearch.index"),
                AnyValue::String(text(i)),
            ));
        } else if let Some(i) = path_index {
            extra.push((
                Str::from_static("elasticsearch.index"),
                AnyValue::from(i.to_string()),
            ));
        }
        if let Some(id) = meta.id.as_ref() {
            extra.push((
                Str::from_static("elasticsearch.id"),
                AnyValue::String(text(id)),
            ));
        }
        if let Some(p) = meta.pipeline.as_ref() {
            extra.push((
                Str::from_static("elasticsearch.pipeline"),
                AnyValue::String(text(p)),
            ));
        }
        match mapper.map(body, doc, extra, observed) {
            Ok(record) => {
                parsed.records.push(record);
                parsed.items.push(Item::Accepted { op, index });
            }
            Err(e) => parsed.items.push(failed(
                400,
                "document_parsing_exception",
                format!("failed to parse the document after action line [{number}]: {e}"),
            )),
        }
    }
    Ok(parsed)
}

/// Lines of the body, numbered from 1, blank ones skipped.
struct Lines<'a> {
    body: &'a Bytes,
    at: usize,
    number: usize,
}

impl<'a> Lines<'a> {
    fn next_nonblank(&mut self) -> Option<(usize, &'a [u8])> {
        let body: &'a [u8] = self.body;
        while self.at < body.len() {
            let rest = &body[self.at..];
            let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
            let line = &rest[..end];
            self.at += end + 1;
            self.number += 1;
            if line.iter().any(|b| !b.is_ascii_whitespace()) {
                return Some((self.number, line));
            }
        }
        None
    }
}

/// The verdict on the accepted documents.
pub enum Verdict<'a> {
    Delivered,
    /// The last `count` accepted documents were refused for good downstream.
    Rejected {
        count: usize,
        reason: &'a str,
    },
}

/// Writes the response body: every item in order with its status.
pub fn response(items: &[Item], verdict: &Verdict<'_>, took_ms: u64) -> Vec<u8> {
    let accepted = items
        .iter()
        .filter(|i| matches!(i, Item::Accepted { .. }))
        .count();
    let refused_from = match verdict {
        Verdict::Delivered => usize::MAX,
        Verdict::Rejected { count, .. } => accepted.saturating_sub(*count),
    };
    let mut out = Vec::with_capacity(64 + items.len() * 96);
    let errors = refused_from < accepted || items.iter().any(|i| matches!(i, Item::Failed { .. }));
    let _ = write!(out, "{{\"took\":{took_ms},\"errors\":{errors},\"items\":[");
    let mut n = 0;
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let (op, index, failure) = match item {
            Item::Accepted { op, index } => {
                let refused = n >= refused_from;
                n += 1;
                let failure = match verdict {
                    Verdict::Rejected { reason, .. } if refused => {
                        Some((400, "logferry_rejected_exception", *reason))
                    }
                    _ => None,
                };
                (*op, index, failure)
            }
            Item::Failed {
                op,
                index,
                status,
                kind,
                reason,
            } => (*op, index, Some((*status, *kind, reason.as_str()))),
        };
        let _ = write!(out, "{{\"{op}\":{{\"_index\":");
        serde_json::to_writer(&mut out, index).expect("writing to a Vec cannot fail");
        match failure {
            None => {
                out.extend_from_slice(b",\"_version\":1,\"result\":\"created\",\"status\":201}}")
            }
            Some((status, kind, reason)) => {
                let _ = write!(
                    out,
                    ",\"status\":{status},\"error\":{{\"type\":\"{kind}\",\"reason\":"
                );
                serde_json::to_writer(&mut out, reason).expect("writing to a Vec cannot fail");
                out.extend_from_slice(b"}}}");
            }
        }
    }
    out.extend_from_slice(b"]}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::attribute;

    fn run(body: &str, index: Option<&str>) -> Result<Parsed, String> {
        parse(
            &Bytes::from(body.to_string()),
            index,
            &mut EcsMapper::new("t"),
            1,
        )
    }

    #[test]
    fn pairs_become_records_and_items() {
        let body = concat!(
            "{\"create\":{\"_index\":\"filebeat-8.17.0\"}}\n",
            "{\"@timestamp\":\"2026-11-29T08:00:00.000Z\",\"message\":\"one\",\"host\":{\"name\":\"h\"}}\n",
            "\n",
            "{\"index\":{\"_id\":\"7\",\"pipeline\":\"p\"}}\n",
            "{\"message\":\"two\"}\n",
            "{\"create\":{}}\n",
            "not json\n",
            "{\"delete\":{\"_id\":\"1\"}}\n",
            "{\"update\":{\"_id\":\"1\"}}\n",
            "{\"doc\":{}}\n",
            "{\"create\":{}}\n",
            "{\"message\":\"three\"}"
        );
        let p = run(body, Some("logs")).unwrap();
        let bodies: Vec<_> = p.records.iter().map(|r| r.body.as_str().unwrap()).collect();
        assert_eq!(bodies, ["one", "two", "three"]);
        let a = &p.records[1].attributes;
        assert_eq!(
            attribute(a, "elasticsearch.index").and_then(AnyValue::as_str),
            Some("logs")
        );
        assert_eq!(
            attribute(a, "elasticsearch.id").and_then(AnyValue::as_str),
            Some("7")
        );
        assert_eq!(
            attribute(a, "elasticsearch.pipeline").and_then(AnyValue::as_str),
            Some("p")
        );
        assert_eq!(
            attribute(&p.records[0].attributes, "elasticsearch.index").and_then(AnyValue::as_str),
            Some("filebeat-8.17.0")
        );
        let statuses: Vec<u16> = p
            .items
            .iter()
            .map(|i| match i {
                Item::Accepted { .. } => 201,
                Item::Failed { status, .. } => *status,
            })
            .collect();
        assert_eq!(statuses, [201, 201, 400, 400, 400, 201]);

        let out = response(&p.items, &Verdict::Delivered, 3);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["errors"], true);
        assert_eq!(v["items"].as_array().unwrap().len(), 6);
        assert_eq!(v["items"][0]["create"]["status"], 201);
        assert_eq!(v["items"][0]["create"]["_index"], "filebeat-8.17.0");
        assert_eq!(v["items"][1]["index"]["status"], 201);
        assert_eq!(
            v["items"][2]["create"]["error"]["type"],
            "document_parsing_exception"
        );
        assert_eq!(v["items"][3]["delete"]["status"], 400);

        let out = response(
            &p.items,
            &Verdict::Rejected {
                count: 1,
                reason: "too old",
            },
            3,
        );
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["items"][5]["create"]["status"], 400);
        assert_eq!(v["items"][5]["create"]["error"]["reason"], "too old");
        assert_eq!(v["items"][1]["index"]["status"], 201);
    }

    #[test]
    fn a_missing_document_and_bad_action_lines() {
        let p = run("{\"create\":{}}\n", None).unwrap();
        assert!(
            matches!(&p.items[0], Item::Failed { kind, .. } if *kind == "action_request_validation_exception")
        );
        let e = run("{\"create\":{}}\n{\"m\":1}\n{\"oops\":{}}\n{}\n", None).unwrap_err();
        assert!(e.contains("line [3]"), "{e}");
        let e = run("garbage\n", None).unwrap_err();
        assert!(e.contains("Malformed action/metadata line [1]"), "{e}");
        let v: serde_json::Value =
            serde_json::from_slice(&response(&[], &Verdict::Delivered, 0)).unwrap();
        assert_eq!(v, serde_json::json!({"took":0,"errors":false,"items":[]}));
    }
}
