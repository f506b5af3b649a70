//! `type = "loki"`: pushes records to Grafana Loki's `/loki/api/v1/push`, as protobuf with
//! snappy (default) or JSON, one stream per distinct label set.
//!
//! - Labels are templates over the record, sanitized to Loki's rules; `max_streams` bounds
//!   the streams per tenant (see `labels`).
//! - Each stream's entries go out in time order: within a request they are sorted, and an
//!   entry older than what the stream already sent is, by default, sent with the stream's
//!   newest timestamp (`out_of_order`), so no Loki refuses it.
//! - A templated `tenant_id` gives each tenant its own lane: queue, request in flight and
//!   backoff, so one throttled tenant does not hold up the others.
//! - A request larger than `max_request_bytes` goes as several pushes; a retry resumes at
//!   the first push not yet stored, so nothing Loki took is sent twice. 429 and 5xx are
//!   retried, honouring `Retry-After`; a 400 is never retried: the entries it names count
//!   as rejected by reason (and go to the dead-letter file when one is configured).

mod config;
mod labels;
mod line;
mod push;
mod response;

pub use config::{BasicAuth, Compression, Encoding, LineFormat, LokiConfig, OutOfOrder};

use crate::batch::Records;
use crate::net::client::{error_chain, parse_retry_after, tls_config};
use crate::output::{Adjustments, Outcome, Output, OutputBuildContext, OutputConfig, Rejection};
use crate::record::{AnyValue, LogRecord, Template};
use bytes::Bytes;
use labels::{LabelSpec, Streams, sanitize_name};
use push::{Draft, DraftStream, Entry, RawBody};
use reqwest::header::{HeaderMap, HeaderValue};
use response::{Pushed, classify};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// What every lane of one output shares.
struct Shared {
    config: LokiConfig,
    url: reqwest::Url,
    labels: LabelSpec,
    metadata: Vec<(String, Template)>,
    /// Attribute keys already sent as labels or named metadata.
    used_attributes: Vec<String>,
    /// `Some` when the tenant is a template (one lane per tenant).
    tenant_template: Option<Template>,
    static_tenant: Option<HeaderValue>,
    adjustments: Arc<Adjustments>,
}

impl OutputConfig for LokiConfig {
    type Output = LokiOutput;

    fn build(&self, cx: &OutputBuildContext) -> Result<LokiOutput, String> {
        let url = self.target()?;
        let labels = LabelSpec::parse(&self.labels)?;
        let mut metadata = Vec::new();
        for (name, template) in &self.structured_metadata {
            let mut clean = String::new();
            sanitize_name(name, &mut clean);
            let template = Template::parse(template)
                .map_err(|e| format!("structured_metadata.{name}: {e}"))?;
            metadata.push((clean, template));
        }
        let mut used_attributes = labels.used_attributes.clone();
        for (_, t) in &metadata {
            used_attributes.extend(t.attribute_keys().map(str::to_string));
        }
        let (tenant_template, static_tenant) = match &self.tenant_id {
            None => (None, None),
            Some(text) => {
                let template = Template::parse(text).map_err(|e| format!("tenant_id: {e}"))?;
                match template.as_static() {
                    Some("") => (None, None),
                    Some(t) => (
                        None,
                        Some(HeaderValue::try_from(t).map_err(|_| {
                            format!("tenant_id: \"{t}\" is not a valid header value")
                        })?),
                    ),
                    None => (Some(template), None),
                }
            }
        };
        let shared = Arc::new(Shared {
            config: self.clone(),
            url,
            labels,
            metadata,
            used_attributes,
            tenant_template,
            static_tenant,
            adjustments: Arc::clone(&cx.adjustments),
        });
        Ok(LokiOutput::new(shared))
    }
}

/// A Loki pusher (one per lane).
pub struct LokiOutput {
    shared: Arc<Shared>,
    streams: Streams,
    draft: Draft,
    scratch: Vec<u8>,
    snappy: snap::raw::Encoder,
    generation: u64,
    client: Option<reqwest::Client>,
}

/// One request: its pushes and how far delivery got.
pub struct Push {
    bodies: Vec<Body>,
    tenant: Option<HeaderValue>,
    /// The first push not yet stored or refused (a retry resumes here).
    next: AtomicUsize,
    refused: AtomicUsize,
    rejection: Mutex<Option<Rejection>>,
}

struct Body {
    bytes: Bytes,
    entries: usize,
}

impl LokiOutput {
    fn new(shared: Arc<Shared>) -> Self {
        LokiOutput {
            streams: Streams::new(
                &shared.labels,
                shared.config.max_streams,
                &shared.config.overflow_value,
            ),
            shared,
            draft: Draft::default(),
            scratch: Vec::new(),
            snappy: snap::raw::Encoder::new(),
            generation: 0,
            client: None,
        }
    }

    fn client(&mut self) -> Result<reqwest::Client, String> {
        if let Some(client) = &self.client {
            return Ok(client.clone());
        }
        let c = &self.shared.config;
        let mut headers = HeaderMap::new();
        let agent = concat!("logferry/", env!("CARGO_PKG_VERSION"));
        headers.insert(reqwest::header::USER_AGENT, HeaderValue::from_static(agent));
        let content_type = match c.encoding {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        };
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            HeaderValue::from_static(content_type),
        );
        if c.encoding == Encoding::Json && c.compression != Compression::None {
            headers.insert(
                reqwest::header::CONTENT_ENCODING,
                HeaderValue::from_static("gzip"),
            );
        }
        if let Some(auth) = &c.basic_auth {
            use base64::Engine;
            let token = base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", auth.user, auth.password));
            let mut value = HeaderValue::try_from(format!("Basic {token}"))
                .map_err(|_| "basic_auth: not a valid header value".to_string())?;
            value.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        if let Some(token) = &c.bearer_token {
            let mut value = HeaderValue::try_from(format!("Bearer {token}"))
                .map_err(|_| "bearer_token: not a valid header value".to_string())?;
            value.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        for (name, value) in &c.headers {
            let name = reqwest::header::HeaderName::try_from(name.as_str())
                .map_err(|_| format!("headers: \"{name}\" is not a valid header name"))?;
            let value = HeaderValue::try_from(value.as_str())
                .map_err(|_| format!("headers.{name}: not a valid header value"))?;
            headers.insert(name, value);
        }
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls_config(&c.tls)?)
            .connect_timeout(c.connect_timeout.0)
            .default_headers(headers)
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        self.client = Some(client.clone());
        Ok(client)
    }

    /// Adds one record to the draft.
    fn add(&mut self, r: &LogRecord, input: &str, now: Instant, counts: &mut Counts) {
        let shared = &*self.shared;
        let found = self.streams.find(&shared.labels, r, input, now);
        counts.overflowed += found.overflowed as u64;
        counts.label_truncated += found.truncated as u64;
        let stream = found.stream;
        if stream.generation != self.generation {
            stream.generation = self.generation;
            stream.slot = self.draft.streams.len();
            self.draft.streams.push(DraftStream {
                selector: stream.selector.clone(),
                pairs: stream.pairs.clone(),
                entries: Vec::new(),
                unsorted: false,
            });
        }
        let mut ts = if r.time_unix_nano != 0 {
            r.time_unix_nano
        } else {
            r.observed_time_unix_nano
        };
        let draft_stream = &mut self.draft.streams[stream.slot];
        if ts < stream.newest {
            match shared.config.out_of_order {
                OutOfOrder::RewriteTimestamp => {
                    ts = stream.newest;
                    counts.rewritten += 1;
                }
                OutOfOrder::Accept => {
                    if draft_stream.entries.last().is_some_and(|e| e.ts > ts) {
                        draft_stream.unsorted = true;
                    }
                }
            }
        } else {
            stream.newest = ts;
        }
        let arena = &mut self.draft.arena;
        let start = arena.len();
        line::write_line(shared.config.line_format, r, arena, &mut self.scratch);
        let max = shared.config.max_line_bytes.0 as usize;
        if arena.len() - start > max {
            let mut cut = start + max;
            while !arena.is_char_boundary(cut) {
                cut -= 1;
            }
            arena.truncate(cut);
            counts.line_truncated += 1;
        }
        let line = start..arena.len();
        let meta_start = self.draft.meta.len();
        for (name, template) in &shared.metadata {
            let n = arena.len();
            arena.push_str(name);
            let v = arena.len();
            template.render(r, input, arena);
            if arena.len() == v {
                arena.truncate(n);
            } else {
                self.draft.meta.push((n..v, v..arena.len()));
            }
        }
        if shared.config.attributes_as_metadata {
            for (key, value) in &r.attributes {
                if matches!(value, AnyValue::Empty)
                    || shared.used_attributes.iter().any(|u| u == key.as_str())
                {
                    continue;
                }
                let n = arena.len();
                sanitize_name(key.as_str(), arena);
                let v = arena.len();
                crate::record::write_value(value, arena);
                if arena.len() == v {
                    arena.truncate(n);
                } else {
                    self.draft.meta.push((n..v, v..arena.len()));
                }
            }
        }
        let meta = meta_start..self.draft.meta.len();
        self.draft.streams[stream.slot]
            .entries
            .push(Entry { ts, line, meta });
    }

    fn compress(&mut self, raw: RawBody) -> Result<Body, Rejection> {
        let c = &self.shared.config;
        let bytes = match (c.encoding, c.compression) {
            (Encoding::Protobuf, _) => self
                .snappy
                .compress_vec(&raw.bytes)
                .map_err(|e| Rejection::new("encode", format!("snappy: {e}")))?,
            (Encoding::Json, Compression::None) => raw.bytes,
            (Encoding::Json, _) => {
                let mut gz = flate2::write::GzEncoder::new(
                    Vec::with_capacity(raw.bytes.len() / 4),
                    flate2::Compression::fast(),
                );
                gz.write_all(&raw.bytes)
                    .and_then(|()| gz.finish())
                    .map_err(|e| Rejection::new("encode", format!("gzip: {e}")))?
            }
        };
        Ok(Body {
            bytes: Bytes::from(bytes),
            entries: raw.entries,
        })
    }
}

#[derive(Default)]
struct Counts {
    overflowed: u64,
    label_truncated: u64,
    line_truncated: u64,
    rewritten: u64,
}

impl Output for LokiOutput {
    type Request = Push;

    fn encode(&mut self, records: &Records<'_>) -> Result<Push, Rejection> {
        let now = Instant::now();
        self.streams.sweep(now);
        self.generation += 1;
        self.draft.clear();
        let mut counts = Counts::default();
        let mut tenant = self.shared.static_tenant.clone();
        for (input, run) in records.runs() {
            for r in run {
                if tenant.is_none()
                    && let Some(template) = &self.shared.tenant_template
                {
                    let mut text = String::new();
                    template.render(r, input, &mut text);
                    if !text.is_empty() {
                        tenant = Some(HeaderValue::try_from(text.as_str()).map_err(|_| {
                            Rejection::new(
                                "tenant",
                                format!(
                                    "tenant_id rendered to \"{text}\", not a valid header value"
                                ),
                            )
                        })?);
                    }
                }
                self.add(r, input, now, &mut counts);
            }
        }
        let adjusted = &self.shared.adjustments;
        adjusted.add("label_overflow", counts.overflowed);
        adjusted.add("label_value_truncated", counts.label_truncated);
        adjusted.add("line_truncated", counts.line_truncated);
        adjusted.add("timestamp_rewritten", counts.rewritten);
        push::sort_streams(&mut self.draft);
        let cap = self.shared.config.max_request_bytes.0 as usize;
        let raw = match self.shared.config.encoding {
            Encoding::Protobuf => push::encode_protobuf(&self.draft, cap),
            Encoding::Json => push::encode_json(&self.draft, cap),
        };
        let bodies = raw
            .into_iter()
            .map(|raw| self.compress(raw))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Push {
            bodies,
            tenant,
            next: AtomicUsize::new(0),
            refused: AtomicUsize::new(0),
            rejection: Mutex::new(None),
        })
    }

    fn request_bytes(request: &Push) -> usize {
        request.bodies.iter().map(|b| b.bytes.len()).sum()
    }

    async fn send(&mut self, request: &Push) -> Outcome {
        let client = match self.client() {
            Ok(client) => client,
            Err(reason) => {
                return Outcome::Retry {
                    after: None,
                    reason,
                };
            }
        };
        let url = &self.shared.url;
        let mut i = request.next.load(Ordering::Acquire);
        while let Some(body) = request.bodies.get(i) {
            let mut post = client.post(url.clone()).body(body.bytes.clone());
            if let Some(tenant) = &request.tenant {
                post = post.header("X-Scope-OrgID", tenant.clone());
            }
            let pushed = match post.send().await {
                Err(e) => Pushed::Retry(Outcome::Retry {
                    after: None,
                    reason: format!("{url}: {}", error_chain(&e)),
                }),
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry_after = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(parse_retry_after);
                    let text = response.text().await.unwrap_or_default();
                    classify(status, retry_after, &text, body.entries)
                }
            };
            match pushed {
                Pushed::Stored => {}
                Pushed::Refused(n, rejection) => {
                    request.refused.fetch_add(n, Ordering::AcqRel);
                    let mut first = request.rejection.lock().unwrap_or_else(|e| e.into_inner());
                    first.get_or_insert(rejection);
                }
                Pushed::Retry(outcome) => return outcome,
            }
            i += 1;
            request.next.store(i, Ordering::Release);
        }
        let refused = request.refused.load(Ordering::Acquire);
        let rejection = request
            .rejection
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        match rejection {
            None => Outcome::Delivered,
            Some(rejection) => {
                let total: usize = request.bodies.iter().map(|b| b.entries).sum();
                if refused >= total {
                    Outcome::Rejected(rejection)
                } else {
                    Outcome::PartiallyRejected {
                        count: refused,
                        rejection,
                    }
                }
            }
        }
    }

    fn lane_output(&self) -> Option<Self> {
        self.shared
            .tenant_template
            .is_some()
            .then(|| LokiOutput::new(Arc::clone(&self.shared)))
    }

    fn lane_key(&mut self, record: &LogRecord, input: &str, key: &mut String) {
        if let Some(template) = &self.shared.tenant_template {
            template.render(record, input, key);
        }
    }
}

#[cfg(test)]
mod tests;
