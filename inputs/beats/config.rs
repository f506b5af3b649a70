//! `[inputs.NAME] type = "beats"` options.

use crate::config::{ByteSize, HumanDuration};
use crate::net::tls::TlsSettings;
use serde::Deserialize;
use std::net::SocketAddr;
use std::time::Duration;

/// The Beats (Lumberjack v2) input's config.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BeatsConfig {
    /// Listen address. Default `0.0.0.0:5044`.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Most open connections; accepting pauses at the limit. Default 1024.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Largest window (events per batch) accepted; a bigger one closes the connection.
    /// Default 16384 (Filebeat sends at most `bulk_max_size`, 2048 by default).
    #[serde(default = "default_max_window")]
    pub max_window: u32,
    /// Largest frame, largest decompressed content of a compressed frame, and most bytes of
    /// events in one window. Default 64 MiB.
    #[serde(default = "default_max_frame_bytes")]
    pub max_frame_bytes: ByteSize,
    /// A connection with nothing to read and nothing pending this long is closed. Default
    /// 60s (Logstash's `client_inactivity_timeout`).
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout: HumanDuration,
    /// While a window waits for delivery, an empty ACK is sent this often so the sender does
    /// not time out. Default 5s.
    #[serde(default = "default_keepalive")]
    pub keepalive_interval: HumanDuration,
    /// Serve over TLS; `client_ca_file` requires client certificates.
    #[serde(default)]
    pub tls: Option<TlsSettings>,
}

fn default_listen() -> String {
    "0.0.0.0:5044".into()
}
fn default_max_connections() -> usize {
    1024
}
fn default_max_window() -> u32 {
    16384
}
fn default_max_frame_bytes() -> ByteSize {
    ByteSize(64 << 20)
}
fn default_idle_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(60))
}
fn default_keepalive() -> HumanDuration {
    HumanDuration(Duration::from_secs(5))
}

impl BeatsConfig {
    /// Checks the config; returns the listen address.
    pub fn check(&self) -> Result<SocketAddr, String> {
        let addr = self.listen.parse::<SocketAddr>().map_err(|_| {
            format!(
                "listen: \"{}\" is not a listen address; expected IP:PORT such as \"0.0.0.0:5044\"",
                self.listen
            )
        })?;
        if self.max_window == 0 {
            return Err("max_window: expected at least 1".into());
        }
        if self.max_frame_bytes.0 < 1024 || self.max_frame_bytes.0 > u32::MAX as u64 {
            return Err("max_frame_bytes: expected between 1KiB and 4GiB".into());
        }
        if self.keepalive_interval.0.is_zero() {
            return Err("keepalive_interval: expected more than 0s".into());
        }
        Ok(addr)
    }
}
