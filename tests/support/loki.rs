//! A Loki stand-in for tests: it decodes pushes with Loki's real `push.proto` schema (raw
//! snappy protobuf, or JSON with optional gzip) and enforces Loki's rules as Loki words
//! them: the tenant header, label selector syntax, label count and length limits, line size,
//! too-old and too-new timestamps, and each stream's ordering window ("entry too far
//! behind", or "entry out of order" when the window is 0). Valid entries of a refused push
//! are still stored, as Loki does. Answers can be scripted per tenant (429, 500, delays).
//!
//! Unlike Loki it keeps duplicates, so tests can see a re-sent entry.

use super::loki_proto::PushRequest;
use super::otlp::runtime;
use prost::Message;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One stored entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Stored {
    pub tenant: String,
    pub labels: BTreeMap<String, String>,
    pub ts: i128,
    pub line: String,
    pub metadata: Vec<(String, String)>,
    pub at: Instant,
}

/// Loki's limits the server enforces.
#[derive(Clone, Debug)]
pub struct Rules {
    pub require_tenant: bool,
    pub max_labels: usize,
    pub max_line_bytes: usize,
    /// `None`: out-of-order entries accepted whatever their age; `Some(ZERO)`: strict order.
    pub order_window: Option<Duration>,
    pub reject_older_than: Duration,
    /// The `Authorization` header every push must carry, if any.
    pub authorization: Option<String>,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            require_tenant: false,
            max_labels: 15,
            max_line_bytes: 256 << 10,
            order_window: Some(Duration::from_secs(3600)),
            reject_older_than: Duration::from_secs(7 * 86400),
            authorization: None,
        }
    }
}

/// A scripted answer instead of processing a push.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer this status (the push is not stored), with `Retry-After` seconds if given.
    Status(u16, Option<u64>),
    /// Wait, then process normally.
    Delay(Duration),
    /// Process normally (to fault a later push).
    Pass,
}

#[derive(Default)]
struct State {
    stored: Vec<Stored>,
    /// Newest timestamp per (tenant, selector).
    newest: HashMap<(String, String), i128>,
    /// Faults to apply, per tenant ("" = any tenant).
    faults: HashMap<String, VecDeque<Fault>>,
    requests: usize,
    refusals: Vec<(u16, String)>,
}

/// A running server.
pub struct LokiServer {
    pub port: u16,
    state: Arc<Mutex<State>>,
}

impl LokiServer {
    pub fn start(rules: Rules) -> LokiServer {
        LokiServer::start_on(0, rules)
    }

    /// A server on a given local port (0: any).
    pub fn start_on(port: u16, rules: Rules) -> LokiServer {
        LokiServer::serve(port, rules, None)
    }

    /// An HTTPS server with the given certificate and key (PEM files).
    pub fn start_tls(rules: Rules, cert: &std::path::Path, key: &std::path::Path) -> LokiServer {
        let settings = logferry::net::tls::TlsSettings {
            cert_file: cert.to_path_buf(),
            key_file: key.to_path_buf(),
            client_ca_file: None,
        };
        let config = settings.server_config().unwrap();
        LokiServer::serve(0, rules, Some(logferry::net::http::tls_acceptor(&config)))
    }

    fn serve(port: u16, rules: Rules, tls: Option<tokio_rustls::TlsAcceptor>) -> LokiServer {
        let state: Arc<Mutex<State>> = Arc::default();
        let shared = Arc::clone(&state);
        let handler = move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let (state, rules) = (Arc::clone(&shared), rules.clone());
            async move { push(state, rules, headers, body).await }
        };
        let app = axum::Router::new().route("/loki/api/v1/push", axum::routing::post(handler));
        let listener = runtime()
            .block_on(tokio::net::TcpListener::bind(("127.0.0.1", port)))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        runtime().spawn(logferry::net::http::serve(
            listener,
            tls,
            app,
            1024,
            std::time::Duration::from_secs(30),
            Arc::default(),
            tokio_util::sync::CancellationToken::new(),
        ));
        LokiServer { port, state }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Queues faults for a tenant's next pushes ("" for any tenant).
    pub fn fault(&self, tenant: &str, faults: impl IntoIterator<Item = Fault>) {
        let mut state = self.state.lock().unwrap();
        state
            .faults
            .entry(tenant.to_string())
            .or_default()
            .extend(faults);
    }

    pub fn stored(&self) -> Vec<Stored> {
        self.state.lock().unwrap().stored.clone()
    }

    /// Pushes answered so far (any status).
    pub fn requests(&self) -> usize {
        self.state.lock().unwrap().requests
    }

    /// The non-2xx answers given after processing: status and Loki's message.
    pub fn refusals(&self) -> Vec<(u16, String)> {
        self.state.lock().unwrap().refusals.clone()
    }

    /// Waits until at least `n` entries are stored and returns them.
    pub fn wait_stored(&self, n: usize, limit: Duration) -> Vec<Stored> {
        super::eventually(limit, &format!("{n} entries in Loki"), || {
            let stored = self.stored();
            (stored.len() >= n).then_some(stored)
        })
    }
}

fn answer(status: u16, retry_after: Option<u64>, text: String) -> axum::response::Response {
    let mut response = axum::response::Response::builder().status(status);
    if let Some(seconds) = retry_after {
        response = response.header("retry-after", seconds.to_string());
    }
    response.body(axum::body::Body::from(text)).unwrap()
}

async fn push(
    state: Arc<Mutex<State>>,
    rules: Rules,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let tenant = header("x-scope-orgid").to_string();
    let fault = {
        let mut s = state.lock().unwrap();
        s.requests += 1;
        let mut next = None;
        for key in [tenant.as_str(), ""] {
            if let Some(queue) = s.faults.get_mut(key)
                && let Some(f) = queue.pop_front()
            {
                next = Some(f);
                break;
            }
        }
        next
    };
    match fault {
        Some(Fault::Status(code, after)) => {
            return answer(code, after, format!("injected {code}"));
        }
        Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
        Some(Fault::Pass) | None => {}
    }
    if let Some(want) = &rules.authorization
        && header("authorization") != want
    {
        return answer(401, None, "authorization required\n".into());
    }
    if rules.require_tenant && tenant.is_empty() {
        return answer(401, None, "no org id\n".into());
    }
    let request = match decode(header("content-type"), header("content-encoding"), &body) {
        Ok(r) => r,
        Err(e) => return answer(400, None, e),
    };
    if request.streams.is_empty() {
        return answer(
            422,
            None,
            "error at least one valid stream is required".into(),
        );
    }
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap() as i128;
    let mut errors = Vec::new();
    let mut s = state.lock().unwrap();
    for stream in request.streams {
        let labels = match parse_selector(&stream.labels) {
            Ok(l) => l,
            Err(e) => {
                errors.push(format!("error parsing labels '{}': {e}", stream.labels));
                continue;
            }
        };
        if labels.len() > rules.max_labels {
            errors.push(format!(
                "entry for stream '{}' has {} label names; limit {}",
                stream.labels,
                labels.len(),
                rules.max_labels
            ));
            continue;
        }
        let key = (tenant.clone(), stream.labels.clone());
        let mut ignored = Vec::new();
        let count = stream.entries.len();
        for (ts, line, metadata) in stream.entries {
            if line.len() > rules.max_line_bytes {
                errors.push(format!("Max entry size '{}' bytes exceeded for stream '{}' while adding an entry with length '{}' bytes", rules.max_line_bytes, stream.labels, line.len()));
                continue;
            }
            if ts < now - rules.reject_older_than.as_nanos() as i128 {
                errors.push(format!(
                    "entry for stream '{}' has timestamp too old: {ts}",
                    stream.labels
                ));
                continue;
            }
            if ts > now + 600_000_000_000 {
                errors.push(format!(
                    "entry for stream '{}' has timestamp too new: {ts}",
                    stream.labels
                ));
                continue;
            }
            let newest = s.newest.get(&key).copied().unwrap_or(i128::MIN);
            if let Some(window) = rules.order_window {
                let window = window.as_nanos() as i128;
                if window == 0 && ts < newest {
                    ignored.push(format!(
                        "entry with timestamp {ts} ignored, reason: 'entry out of order',"
                    ));
                    continue;
                }
                if window > 0 && ts < newest.saturating_sub(window) {
                    ignored.push(format!("entry with timestamp {ts} ignored, reason: 'entry too far behind, entry timestamp is: {ts}, oldest acceptable timestamp is: {}',", newest - window));
                    continue;
                }
            }
            s.newest.insert(key.clone(), newest.max(ts));
            s.stored.push(Stored {
                tenant: tenant.clone(),
                labels: labels.clone(),
                ts,
                line,
                metadata,
                at: Instant::now(),
            });
        }
        if !ignored.is_empty() {
            errors.push(format!(
                "{}\nuser '{}', total ignored: {} out of {count} for stream: {}",
                ignored.join("\n"),
                if tenant.is_empty() { "fake" } else { &tenant },
                ignored.len(),
                stream.labels
            ));
        }
    }
    if errors.is_empty() {
        return answer(204, None, String::new());
    }
    let text = errors.join("\n");
    s.refusals.push((400, text.clone()));
    answer(400, None, text)
}

type Entries = Vec<(i128, String, Vec<(String, String)>)>;

struct Decoded {
    streams: Vec<DecodedStream>,
}

struct DecodedStream {
    labels: String,
    entries: Entries,
}

/// Loki's body rules: protobuf (or no content type) is raw snappy, whatever else is said.
fn decode(content_type: &str, encoding: &str, body: &[u8]) -> Result<Decoded, String> {
    let body = match encoding {
        "" | "snappy" => body.to_vec(),
        "gzip" => {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(body), &mut out)
                .map_err(|e| format!("gzip: {e}"))?;
            out
        }
        other => return Err(format!("Content-Encoding {other:?} not supported")),
    };
    if content_type.starts_with("application/json") {
        let v: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| format!("loghttp: {e}"))?;
        let mut streams = Vec::new();
        for s in v["streams"]
            .as_array()
            .ok_or("streams: expected an array")?
        {
            let labels: BTreeMap<String, String> = s["stream"]
                .as_object()
                .ok_or("stream: expected an object")?
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect();
            let mut entries = Vec::new();
            for value in s["values"].as_array().ok_or("values: expected an array")? {
                let ts: i128 = value[0]
                    .as_str()
                    .ok_or("timestamp: expected a string of nanoseconds")?
                    .parse()
                    .map_err(|e| format!("timestamp: {e}"))?;
                let line = value[1]
                    .as_str()
                    .ok_or("line: expected a string")?
                    .to_string();
                let metadata = value[2]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                            .collect()
                    })
                    .unwrap_or_default();
                entries.push((ts, line, metadata));
            }
            streams.push(DecodedStream {
                labels: selector(&labels),
                entries,
            });
        }
        return Ok(Decoded { streams });
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(&body)
        .map_err(|e| format!("snappy: {e}"))?;
    let request = PushRequest::decode(raw.as_slice()).map_err(|e| format!("proto: {e}"))?;
    Ok(Decoded {
        streams: request
            .streams
            .into_iter()
            .map(|s| DecodedStream {
                labels: s.labels,
                entries: s
                    .entries
                    .into_iter()
                    .map(|e| {
                        let t = e.timestamp.unwrap_or_default();
                        let ts = t.seconds as i128 * 1_000_000_000 + t.nanos as i128;
                        let meta = e
                            .structured_metadata
                            .into_iter()
                            .map(|p| (p.name, p.value))
                            .collect();
                        (ts, e.line, meta)
                    })
                    .collect(),
            })
            .collect(),
    })
}

fn selector(labels: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}={}", serde_json::Value::from(v.as_str())))
        .collect();
    format!("{{{}}}", pairs.join(", "))
}

/// Parses a LogQL stream selector with only `=` matchers, as Loki's `ParseLabels` does:
/// `{name="value", …}`, names `[a-zA-Z_][a-zA-Z0-9_]*`, values Go-quoted, no duplicates.
pub fn parse_selector(text: &str) -> Result<BTreeMap<String, String>, String> {
    let inner = text
        .trim()
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .ok_or("expected {…}")?;
    let mut labels = BTreeMap::new();
    let mut chars = inner.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                name.push(c);
                chars.next();
            } else {
                break;
            }
        }
        if name.is_empty() || name.as_bytes()[0].is_ascii_digit() {
            return Err(format!("invalid label name {name:?}"));
        }
        if chars.next() != Some('=') || chars.next() != Some('"') {
            return Err(format!("expected =\" after {name}"));
        }
        let mut value = String::new();
        loop {
            match chars.next().ok_or("unterminated value")? {
                '"' => break,
                '\\' => match chars.next().ok_or("unterminated escape")? {
                    'n' => value.push('\n'),
                    'r' => value.push('\r'),
                    't' => value.push('\t'),
                    '\\' => value.push('\\'),
                    '"' => value.push('"'),
                    'x' => {
                        let hex: String = (0..2).filter_map(|_| chars.next()).collect();
                        let b = u8::from_str_radix(&hex, 16).map_err(|e| e.to_string())?;
                        value.push(b as char);
                    }
                    c => return Err(format!("unknown escape \\{c}")),
                },
                c => value.push(c),
            }
        }
        if value.len() > 2048 {
            return Err(format!("label value too long for {name}"));
        }
        if labels.insert(name.clone(), value).is_some() {
            return Err(format!("duplicate label name {name}"));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.next() {
            Some(',') | None => {}
            Some(c) => return Err(format!("unexpected {c:?}")),
        }
    }
    if labels.is_empty() {
        return Err("error at least one label pair is required per stream".into());
    }
    Ok(labels)
}
