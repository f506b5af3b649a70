//! `[inputs.NAME] type = "elasticsearch"` options.

use crate::config::{ByteSize, HumanDuration};
use crate::net::tls::TlsSettings;
use serde::Deserialize;
use std::net::SocketAddr;
use std::time::Duration;

/// The Elasticsearch bulk API input's config.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ElasticsearchConfig {
    /// Listen address. Default `0.0.0.0:9200`.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// The Elasticsearch version `GET /` reports. Clients check it: Filebeat 8.0–8.10 wants
    /// at least its own version (a newer Filebeat's own version is echoed back to it).
    #[serde(default = "default_version")]
    pub version: String,
    /// Largest request accepted, compressed or not (413 beyond it). Default 100 MiB, as
    /// Elasticsearch's `http.max_content_length`.
    #[serde(default = "default_max_request_bytes")]
    pub max_request_bytes: ByteSize,
    /// Bulk requests decoded and waiting for delivery at once; beyond it clients get 429.
    /// Default 64.
    #[serde(default = "default_max_concurrent_requests")]
    pub max_concurrent_requests: usize,
    /// How long a request may wait for room in a full pipeline before the client is told to
    /// back off (429 with `Retry-After`). Default 1s.
    #[serde(default = "default_queue_wait")]
    pub queue_wait: HumanDuration,
    /// Most open connections; accepting pauses at the limit. Default 1024.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// A connection that sends no (complete) request headers for this long — from
    /// connecting, or after its last answer — is closed, so idle or slow clients cannot
    /// hold connection slots. Default 30s.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout: HumanDuration,
    /// Serve HTTPS; `client_ca_file` requires client certificates.
    #[serde(default)]
    pub tls: Option<TlsSettings>,
    /// Require credentials: `username` + `password` (HTTP basic, what Filebeat's
    /// `username`/`password` send) and/or `api_key = "id:key"` (Filebeat's `api_key`,
    /// sent as `Authorization: ApiKey base64(id:key)`). Either one admits a request.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
}

/// `auth = { username = "...", password = "...", api_key = "id:key" }`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub api_key: Option<String>,
}

fn default_listen() -> String {
    "0.0.0.0:9200".into()
}
fn default_version() -> String {
    "8.17.0".into()
}
fn default_max_request_bytes() -> ByteSize {
    ByteSize(100 << 20)
}
fn default_max_concurrent_requests() -> usize {
    64
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

impl ElasticsearchConfig {
    /// Checks the config; returns the listen address.
    pub fn check(&self) -> Result<SocketAddr, String> {
        let addr = self.listen.parse::<SocketAddr>().map_err(|_| {
            format!(
                "listen: \"{}\" is not a listen address; expected IP:PORT such as \"0.0.0.0:9200\"",
                self.listen
            )
        })?;
        if super::api::parse_version(&self.version).is_none() {
            return Err(format!(
                "version: \"{}\" is not a version; expected MAJOR.MINOR.PATCH such as \"8.17.0\"",
                self.version
            ));
        }
        if self.max_request_bytes.0 == 0 || self.max_request_bytes.0 > u32::MAX as u64 {
            return Err("max_request_bytes: expected between 1 byte and 4 GiB".into());
        }
        if self.max_concurrent_requests == 0 {
            return Err("max_concurrent_requests: expected at least 1".into());
        }
        if let Some(auth) = &self.auth {
            if auth.username.is_some() != auth.password.is_some() {
                return Err("auth: username and password go together".into());
            }
            if auth.username.is_none() && auth.api_key.is_none() {
                return Err("auth: expected username + password and/or api_key".into());
            }
            if auth.api_key.as_deref().is_some_and(|k| !k.contains(':')) {
                return Err("auth.api_key: expected \"ID:KEY\" (as Filebeat's api_key)".into());
            }
        }
        Ok(addr)
    }
}
