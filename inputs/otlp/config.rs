//! `[inputs.NAME] type = "otlp"` options.

use crate::config::{ByteSize, HumanDuration};
use crate::net::tls::TlsSettings;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

/// The OTLP input's config. With neither `grpc` nor `http` set, both listen on their
/// standard ports; setting one of them alone disables the other.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OtlpInputConfig {
    /// OTLP/gRPC listen address (`LogsService/Export`), standard `0.0.0.0:4317`.
    #[serde(default)]
    pub grpc: Option<String>,
    /// OTLP/HTTP listen address (`POST /v1/logs`, protobuf or JSON), standard `0.0.0.0:4318`.
    #[serde(default)]
    pub http: Option<String>,
    /// Largest request accepted, compressed or not (gRPC `RESOURCE_EXHAUSTED`, HTTP 413
    /// beyond it). Default 16 MiB.
    #[serde(default = "default_max_request_bytes")]
    pub max_request_bytes: ByteSize,
    /// Requests decoded and waiting for delivery at once; beyond it senders are told to
    /// retry later. Default 256.
    #[serde(default = "default_max_concurrent_requests")]
    pub max_concurrent_requests: usize,
    /// How long a request may wait for room in a full pipeline before the sender is told to
    /// retry later (gRPC `UNAVAILABLE` with RetryInfo, HTTP 503 with `Retry-After`).
    /// Default 1s.
    #[serde(default = "default_queue_wait")]
    pub queue_wait: HumanDuration,
    /// Most open connections per listener; accepting pauses at the limit. Default 1024.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// A connection that sends no (complete) request headers for this long — from
    /// connecting, or after its last answer — is closed, so idle or slow clients cannot
    /// hold connection slots. Default 30s.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout: HumanDuration,
    /// Serve both listeners over TLS; `client_ca_file` requires client certificates (mTLS).
    #[serde(default)]
    pub tls: Option<TlsSettings>,
    /// Require credentials on every request.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
}

/// `auth = { bearer_token = "...", headers = { "x-api-key" = "..." } }`: every listed
/// credential must match (gRPC `UNAUTHENTICATED`, HTTP 401 otherwise).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Expected `Authorization: Bearer <token>`.
    #[serde(default)]
    pub bearer_token: Option<String>,
    /// Headers (gRPC metadata) that must carry exactly these values.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

fn default_max_request_bytes() -> ByteSize {
    ByteSize(16 << 20)
}
fn default_max_concurrent_requests() -> usize {
    256
}
fn default_queue_wait() -> HumanDuration {
    HumanDuration(Duration::from_secs(1))
}
fn default_idle_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(30))
}
fn default_max_connections() -> usize {
    1024
}

/// The standard OTLP/gRPC port.
pub const DEFAULT_GRPC: &str = "0.0.0.0:4317";
/// The standard OTLP/HTTP port.
pub const DEFAULT_HTTP: &str = "0.0.0.0:4318";

impl OtlpInputConfig {
    /// The listen addresses `(grpc, http)`, checked.
    pub fn addresses(&self) -> Result<(Option<SocketAddr>, Option<SocketAddr>), String> {
        let parse = |key: &str, text: &str| {
            text.parse::<SocketAddr>().map_err(|_| {
                format!("{key}: \"{text}\" is not a listen address; expected IP:PORT such as \"0.0.0.0:4317\"")
            })
        };
        let (grpc, http) = match (&self.grpc, &self.http) {
            (None, None) => (Some(DEFAULT_GRPC), Some(DEFAULT_HTTP)),
            (g, h) => (g.as_deref(), h.as_deref()),
        };
        Ok((
            grpc.map(|g| parse("grpc", g)).transpose()?,
            http.map(|h| parse("http", h)).transpose()?,
        ))
    }

    /// Checks the numbers.
    pub fn check(&self) -> Result<(), String> {
        if self.max_request_bytes.0 == 0 || self.max_request_bytes.0 > u32::MAX as u64 {
            return Err("max_request_bytes: expected between 1 byte and 4 GiB".into());
        }
        if self.max_concurrent_requests == 0 {
            return Err("max_concurrent_requests: expected at least 1".into());
        }
        if let Some(auth) = &self.auth {
            if auth.bearer_token.is_none() && auth.headers.is_empty() {
                return Err("auth: expected bearer_token or headers".into());
            }
            for name in auth.headers.keys() {
                http::HeaderName::try_from(name.as_str())
                    .map_err(|_| format!("auth.headers: \"{name}\" is not a valid header name"))?;
            }
        }
        Ok(())
    }
}
