//! `[outputs.NAME] type = "otlp"` options.

use crate::config::HumanDuration;
pub use crate::net::client::ClientTls;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Wire protocol, as the OpenTelemetry SDKs name them.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
pub enum Protocol {
    #[default]
    #[serde(rename = "grpc")]
    Grpc,
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
    #[serde(rename = "http/json")]
    HttpJson,
}

/// Request body compression.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    #[default]
    Gzip,
    None,
}

/// The OTLP output's config.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OtlpOutputConfig {
    /// `grpc` (default), `http/protobuf` or `http/json`.
    #[serde(default)]
    pub protocol: Protocol,
    /// `http://HOST:PORT` or `https://HOST:PORT`. For HTTP protocols, `/v1/logs` is appended
    /// when the URL has no path; a URL with a path is used as it is.
    pub endpoint: String,
    /// `gzip` (default) or `none`.
    #[serde(default)]
    pub compression: Compression,
    /// Extra request headers (gRPC metadata), e.g. an API key.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Trust and identity for `https://` endpoints.
    #[serde(default)]
    pub tls: ClientTls,
    /// Longest wait for a connection. Default 10s. (`request_timeout` bounds a whole
    /// request.)
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: HumanDuration,
}

fn default_connect_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(10))
}

impl OtlpOutputConfig {
    /// Checks the endpoint and headers; returns the URL requests go to.
    pub fn target(&self) -> Result<http::Uri, String> {
        let uri: http::Uri = self.endpoint.parse().map_err(|e| {
            format!("endpoint: \"{}\" is not a URL ({e}); expected http://HOST:PORT or https://HOST:PORT", self.endpoint)
        })?;
        match uri.scheme_str() {
            Some("http") | Some("https") if uri.host().is_some() => {}
            _ => {
                return Err(format!(
                    "endpoint: \"{}\" must start with http:// or https:// and name a host",
                    self.endpoint
                ));
            }
        }
        for (name, value) in &self.headers {
            let name = name.to_ascii_lowercase();
            http::HeaderName::try_from(name.as_str())
                .map_err(|_| format!("headers: \"{name}\" is not a valid header name"))?;
            http::HeaderValue::try_from(value.as_str())
                .map_err(|_| format!("headers.{name}: the value is not a valid header value"))?;
        }
        self.tls.check()?;
        if self.protocol == Protocol::Grpc {
            return Ok(uri);
        }
        let path = uri.path();
        if path.is_empty() || path == "/" {
            let base = self.endpoint.trim_end_matches('/');
            return format!("{base}/v1/logs")
                .parse()
                .map_err(|e| format!("endpoint: {e}"));
        }
        Ok(uri)
    }
}
