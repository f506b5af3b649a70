//! `[outputs.NAME] type = "loki"` options.

use crate::config::ByteSize;
use crate::config::HumanDuration;
pub use crate::net::client::ClientTls;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Body encoding of a push.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// `logproto.PushRequest`, snappy-compressed (block format), as Promtail and Alloy send.
    #[default]
    Protobuf,
    /// `{"streams":[{"stream":{…},"values":[["ns","line",{…}]]}]}`.
    Json,
}

/// Compression of a JSON body (a protobuf body is always snappy, as Loki requires).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// Protobuf: snappy; JSON: gzip.
    #[default]
    Auto,
    Snappy,
    Gzip,
    None,
}

/// What the log line is.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LineFormat {
    /// The body as text (maps and arrays as compact JSON).
    #[default]
    Text,
    /// The whole record as one OTLP/JSON object.
    Json,
    /// `key=value` pairs: time, severity, body as `msg`, then every attribute.
    Logfmt,
}

/// What to do with an entry older than its stream's newest one already sent.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OutOfOrder {
    /// Send it with the stream's newest timestamp instead (counted as adjusted
    /// `timestamp_rewritten`): every Loki takes it, whatever its out-of-order settings.
    #[default]
    RewriteTimestamp,
    /// Send it as it is: Loki ≥ 2.4 takes entries up to 1 h behind a stream's newest.
    Accept,
}

/// `basic_auth = { user = "...", password = "..." }`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    pub user: String,
    #[serde(default)]
    pub password: String,
}

/// The Loki output's config.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LokiConfig {
    /// `http://HOST:PORT` (or https); `/loki/api/v1/push` is appended when the URL has no
    /// path.
    pub endpoint: String,
    /// `X-Scope-OrgID`; a template (`{{ resource.k8s.namespace.name }}`) sends each tenant's
    /// records in its own requests, with its own queue and backoff.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// Stream labels: name → template. Names are sanitized to `[a-zA-Z_][a-zA-Z0-9_]*`.
    pub labels: BTreeMap<String, String>,
    /// Structured metadata per entry (Loki 3): name → template.
    #[serde(default)]
    pub structured_metadata: BTreeMap<String, String>,
    /// Also send every record attribute not used by a label or `structured_metadata` as
    /// structured metadata (names sanitized like labels).
    #[serde(default)]
    pub attributes_as_metadata: bool,
    #[serde(default)]
    pub line_format: LineFormat,
    #[serde(default)]
    pub encoding: Encoding,
    #[serde(default)]
    pub compression: Compression,
    #[serde(default)]
    pub out_of_order: OutOfOrder,
    /// Most distinct streams per tenant; past it, the label with the most values takes
    /// `overflow_value` (counted as adjusted `label_overflow`). Default 5000, Loki's own
    /// per-tenant default.
    #[serde(default = "default_max_streams")]
    pub max_streams: usize,
    #[serde(default = "default_overflow_value")]
    pub overflow_value: String,
    /// Largest uncompressed push body; a bigger request is sent as several pushes.
    /// Default 1 MiB.
    #[serde(default = "default_max_request_bytes")]
    pub max_request_bytes: ByteSize,
    /// Longest line sent; longer lines are cut and counted (adjusted `line_truncated`),
    /// rather than refused by Loki. Default 256 KiB, Loki's `max_line_size`.
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: ByteSize,
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    #[serde(default)]
    pub bearer_token: Option<String>,
    /// Extra request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub tls: ClientTls,
    /// Longest wait for a connection. Default 10s.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: HumanDuration,
}

fn default_max_streams() -> usize {
    5000
}

fn default_overflow_value() -> String {
    "__overflow__".into()
}

fn default_max_request_bytes() -> ByteSize {
    ByteSize(1 << 20)
}

fn default_max_line_bytes() -> ByteSize {
    ByteSize(256 << 10)
}

fn default_connect_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(10))
}

/// Loki's `max_label_names_per_series` default.
pub const MAX_LABELS: usize = 15;

impl LokiConfig {
    /// Checks what can be checked without I/O; returns the push URL.
    pub fn target(&self) -> Result<reqwest::Url, String> {
        let url = reqwest::Url::parse(&self.endpoint).map_err(|e| {
            format!(
                "endpoint: \"{}\" is not a URL ({e}); expected http://HOST:PORT or https://HOST:PORT",
                self.endpoint
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(format!(
                "endpoint: \"{}\" must start with http:// or https:// and name a host",
                self.endpoint
            ));
        }
        if self.labels.is_empty() {
            return Err("labels: expected at least one label, e.g. labels = { job = \"logferry\" } (Loki refuses streams without labels)".into());
        }
        if self.labels.len() > MAX_LABELS {
            return Err(format!(
                "labels: {} labels, but Loki accepts at most {MAX_LABELS} per stream",
                self.labels.len()
            ));
        }
        if self.max_streams == 0 {
            return Err("max_streams: expected at least 1".into());
        }
        if self.overflow_value.is_empty() {
            return Err("overflow_value: expected a non-empty value".into());
        }
        if self.max_request_bytes.0 < 1024 {
            return Err("max_request_bytes: expected at least 1KiB".into());
        }
        match (self.encoding, self.compression) {
            (Encoding::Protobuf, Compression::Gzip | Compression::None) => {
                return Err("compression: a protobuf push is always snappy-compressed (Loki requires it); use encoding = \"json\" for gzip or none".into());
            }
            (Encoding::Json, Compression::Snappy) => {
                return Err("compression: a JSON push takes \"gzip\" or \"none\"".into());
            }
            _ => {}
        }
        if self.basic_auth.is_some() && self.bearer_token.is_some() {
            return Err("basic_auth and bearer_token: set one of them, not both".into());
        }
        for (name, value) in &self.headers {
            http::HeaderName::try_from(name.as_str())
                .map_err(|_| format!("headers: \"{name}\" is not a valid header name"))?;
            http::HeaderValue::try_from(value.as_str())
                .map_err(|_| format!("headers.{name}: the value is not a valid header value"))?;
        }
        self.tls.check()?;
        if url.path().is_empty() || url.path() == "/" {
            return url
                .join("/loki/api/v1/push")
                .map_err(|e| format!("endpoint: {e}"));
        }
        Ok(url)
    }
}
