//! Stream labels: templates rendered per record, names sanitized to Loki's rules, values
//! escaped into a LogQL selector, and a per-tenant stream table with the `max_streams`
//! cardinality guard.
//!
//! The table is keyed by the rendered values of the templated labels (static ones are the
//! same for every stream), so finding a record's stream costs its label renders and one
//! hash lookup, no allocation. Past `max_streams`, the templated label with the most
//! distinct values among known streams takes the overflow value (then the next, until the
//! stream exists or none is left): a host flood ends in one overflow stream rather than a
//! refused push.

use super::config::MAX_LABELS;
use crate::record::{LogRecord, Template};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// Loki's `max_label_value_length` default.
const MAX_VALUE_BYTES: usize = 2048;
/// A stream unseen this long is forgotten, freeing its place under `max_streams`.
const STREAM_IDLE: Duration = Duration::from_secs(3600);
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Turns a name into a valid Loki label name: `[a-zA-Z_][a-zA-Z0-9_]*`, other characters
/// replaced by `_` (so `host.name` becomes `host_name`).
pub fn sanitize_name(name: &str, out: &mut String) {
    let start = out.len();
    for c in name.chars() {
        out.push(if c.is_ascii_alphanumeric() { c } else { '_' });
    }
    if out.len() == start || out.as_bytes()[start].is_ascii_digit() {
        out.insert(start, '_');
    }
}

/// The configured labels, sorted by sanitized name.
#[derive(Debug)]
pub struct LabelSpec {
    names: Vec<String>,
    templates: Vec<Template>,
    /// Indexes of the labels with placeholders.
    dynamic: Vec<usize>,
    /// Record attribute keys the labels read (not repeated as structured metadata).
    pub used_attributes: Vec<String>,
}

impl LabelSpec {
    pub fn parse(labels: &std::collections::BTreeMap<String, String>) -> Result<Self, String> {
        let mut pairs = Vec::new();
        for (name, template) in labels {
            let mut clean = String::new();
            sanitize_name(name, &mut clean);
            let template = Template::parse(template).map_err(|e| format!("labels.{name}: {e}"))?;
            if pairs.iter().any(|(n, _): &(String, Template)| *n == clean) {
                return Err(format!(
                    "labels.{name}: becomes \"{clean}\" once sanitized, which another label already is"
                ));
            }
            pairs.push((clean, template));
        }
        if pairs.len() > MAX_LABELS {
            return Err(format!("labels: at most {MAX_LABELS}"));
        }
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let dynamic = (0..pairs.len())
            .filter(|&i| pairs[i].1.as_static().is_none())
            .collect();
        let used_attributes = pairs
            .iter()
            .flat_map(|(_, t)| t.attribute_keys().map(str::to_string))
            .collect();
        let (names, templates) = pairs.into_iter().unzip();
        Ok(LabelSpec {
            names,
            templates,
            dynamic,
            used_attributes,
        })
    }
}

/// One stream of a tenant.
#[derive(Debug)]
pub struct Stream {
    /// `{name="value", …}`.
    pub selector: String,
    /// The label pairs (JSON encoding).
    pub pairs: Vec<(String, String)>,
    /// Templated label values, by label index (for the distinct-value counts).
    dynamic: Vec<(usize, String)>,
    /// Newest timestamp sent on this stream (ns).
    pub newest: u64,
    seen: Instant,
    /// Its place in the request being encoded, valid while `generation` matches.
    pub slot: usize,
    pub generation: u64,
}

/// A tenant's streams.
#[derive(Debug)]
pub struct Streams {
    table: HashMap<String, Stream>,
    /// Per label index: value → number of known streams with it.
    distinct: Vec<HashMap<String, u32>>,
    max: usize,
    overflow: String,
    next_sweep: Instant,
    /// Reused per record: rendered values (by label index) and the table key.
    values: Vec<String>,
    key: String,
}

/// What finding a record's stream did.
pub struct Found<'a> {
    pub stream: &'a mut Stream,
    pub overflowed: bool,
    pub truncated: bool,
}

impl Streams {
    pub fn new(spec: &LabelSpec, max: usize, overflow: &str) -> Self {
        Streams {
            table: HashMap::new(),
            distinct: vec![HashMap::new(); spec.names.len()],
            max,
            overflow: overflow.to_string(),
            next_sweep: Instant::now() + SWEEP_EVERY,
            values: vec![String::new(); spec.names.len()],
            key: String::new(),
        }
    }

    /// Forgets streams unseen for an hour (at most once a minute).
    pub fn sweep(&mut self, now: Instant) {
        if now < self.next_sweep {
            return;
        }
        self.next_sweep = now + SWEEP_EVERY;
        let distinct = &mut self.distinct;
        self.table.retain(|_, s| {
            let keep = now.duration_since(s.seen) < STREAM_IDLE;
            if !keep {
                forget(distinct, s);
            }
            keep
        });
    }

    /// The stream of `record`, made if new.
    pub fn find(
        &mut self,
        spec: &LabelSpec,
        record: &LogRecord,
        input: &str,
        now: Instant,
    ) -> Found<'_> {
        let mut truncated = false;
        for &i in &spec.dynamic {
            let value = &mut self.values[i];
            value.clear();
            spec.templates[i].render(record, input, value);
            if value.len() > MAX_VALUE_BYTES {
                let mut cut = MAX_VALUE_BYTES;
                while !value.is_char_boundary(cut) {
                    cut -= 1;
                }
                value.truncate(cut);
                truncated = true;
            }
        }
        self.make_key(spec);
        let mut overflowed = false;
        if !self.table.contains_key(self.key.as_str()) && self.table.len() >= self.max {
            overflowed = true;
            // Overflow the most varied labels first until the stream is a known one.
            let mut order = spec.dynamic.clone();
            order.sort_by_key(|&i| std::cmp::Reverse(self.distinct[i].len()));
            for i in order {
                self.values[i].clear();
                self.values[i].push_str(&self.overflow);
                self.make_key(spec);
                if self.table.contains_key(self.key.as_str()) {
                    break;
                }
            }
        }
        if !self.table.contains_key(self.key.as_str()) {
            let stream = self.make_stream(spec, now);
            for (i, value) in &stream.dynamic {
                *self.distinct[*i].entry(value.clone()).or_default() += 1;
            }
            self.table.insert(self.key.clone(), stream);
        }
        let stream = self
            .table
            .get_mut(self.key.as_str())
            .expect("inserted above");
        stream.seen = now;
        Found {
            stream,
            overflowed,
            truncated,
        }
    }

    fn make_key(&mut self, spec: &LabelSpec) {
        self.key.clear();
        for &i in &spec.dynamic {
            self.key.push_str(&self.values[i]);
            self.key.push('\u{1}');
        }
    }

    fn make_stream(&self, spec: &LabelSpec, now: Instant) -> Stream {
        let mut pairs = Vec::with_capacity(spec.names.len());
        for (i, name) in spec.names.iter().enumerate() {
            let value = match spec.templates[i].as_static() {
                Some(text) => text.to_string(),
                None => self.values[i].clone(),
            };
            // Loki treats an empty value as no label.
            if !value.is_empty() {
                pairs.push((name.clone(), value));
            }
        }
        if pairs.is_empty() {
            pairs.push(("service_name".into(), "unknown_service".into()));
        }
        Stream {
            selector: selector(&pairs),
            pairs,
            dynamic: spec
                .dynamic
                .iter()
                .map(|&i| (i, self.values[i].clone()))
                .collect(),
            newest: 0,
            seen: now,
            slot: 0,
            generation: 0,
        }
    }
}

fn forget(distinct: &mut [HashMap<String, u32>], stream: &Stream) {
    for (i, value) in &stream.dynamic {
        if let Some(n) = distinct[*i].get_mut(value.as_str()) {
            *n -= 1;
            if *n == 0 {
                distinct[*i].remove(value.as_str());
            }
        }
    }
}

/// `{name="value", …}` with values escaped as Go string literals, as Loki parses them.
pub fn selector(pairs: &[(String, String)]) -> String {
    let mut out = String::from("{");
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(name);
        out.push_str("=\"");
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 || c == '\u{7f}' => {
                    let _ = write!(out, "\\x{:02x}", c as u32);
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push('}');
    out
}
