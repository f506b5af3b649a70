//! `[inputs.NAME] type = "syslog"` options, and the `listen` endpoints they name.

use crate::config::{ByteSize, HumanDuration};
use crate::net::framing::DEFAULT_MAX_MESSAGE_BYTES;
use crate::net::tls::TlsSettings;
use chrono::FixedOffset;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The syslog input's config.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SyslogConfig {
    /// Endpoints: `udp://HOST:PORT`, `tcp://HOST:PORT`, `tls://HOST:PORT`,
    /// `unix:///path` (datagram, as `/dev/log` and `logger` use) and `unix-stream:///path`.
    pub listen: Vec<String>,
    /// Longest message kept whole; longer ones are truncated, marked `log.truncated` and
    /// counted. Default 64 KiB.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: ByteSize,
    /// Zone of timestamps that carry none (RFC 3164): `"UTC"` (default), `"local"` (the
    /// host's offset at start) or a fixed offset such as `"+02:00"`.
    #[serde(default = "default_timezone")]
    pub default_timezone: String,
    /// Certificate and key for `tls://` endpoints; `client_ca_file` requires client certs.
    #[serde(default)]
    pub tls: Option<TlsSettings>,
    /// Most open stream connections per endpoint; accepting pauses at the limit.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Permissions of unix socket files, in octal. Default `"0666"` (anyone may log).
    #[serde(default = "default_socket_mode")]
    pub socket_mode: String,
    /// Kernel receive buffer for UDP and unix datagram sockets (SO_RCVBUF); bigger absorbs
    /// bursts. Default 4 MiB (the kernel may cap it at `net.core.rmem_max`).
    #[serde(default = "default_receive_buffer")]
    pub receive_buffer_bytes: ByteSize,
    /// A stream connection idle this long is closed. Default 10 minutes.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout: HumanDuration,
}

fn default_max_message_bytes() -> ByteSize {
    ByteSize(DEFAULT_MAX_MESSAGE_BYTES as u64)
}
fn default_timezone() -> String {
    "UTC".into()
}
fn default_max_connections() -> usize {
    1024
}
fn default_socket_mode() -> String {
    "0666".into()
}
fn default_receive_buffer() -> ByteSize {
    ByteSize(4 << 20)
}
fn default_idle_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(600))
}

/// One listening endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Udp(SocketAddr),
    Tcp(SocketAddr),
    Tls(SocketAddr),
    UnixDatagram(PathBuf),
    UnixStream(PathBuf),
}

impl Endpoint {
    /// Parses `scheme://address`, naming what was expected.
    pub fn parse(text: &str) -> Result<Endpoint, String> {
        let (scheme, rest) = text.split_once("://").ok_or_else(|| {
            format!("listen: \"{text}\" is not an endpoint; expected udp://HOST:PORT, tcp://HOST:PORT, tls://HOST:PORT, unix:///PATH or unix-stream:///PATH")
        })?;
        let addr = || -> Result<SocketAddr, String> {
            let rest = rest
                .strip_prefix("localhost:")
                .map_or(rest.to_string(), |port| format!("127.0.0.1:{port}"));
            rest.parse().map_err(|_| format!("listen: \"{text}\": expected an IP address and port such as 0.0.0.0:5514 or [::]:5514"))
        };
        let path = || -> Result<PathBuf, String> {
            if rest.starts_with('/') {
                Ok(PathBuf::from(rest))
            } else {
                Err(format!(
                    "listen: \"{text}\": expected an absolute socket path, as in unix:///run/logferry.sock"
                ))
            }
        };
        match scheme {
            "udp" => addr().map(Endpoint::Udp),
            "tcp" => addr().map(Endpoint::Tcp),
            "tls" => addr().map(Endpoint::Tls),
            "unix" => path().map(Endpoint::UnixDatagram),
            "unix-stream" => path().map(Endpoint::UnixStream),
            other => Err(format!(
                "listen: \"{text}\": unknown scheme \"{other}\"; expected udp, tcp, tls, unix or unix-stream"
            )),
        }
    }

    /// The OTel `network.transport` value for records from this endpoint.
    pub fn transport(&self) -> &'static str {
        match self {
            Endpoint::Udp(_) => "udp",
            Endpoint::Tcp(_) | Endpoint::Tls(_) => "tcp",
            Endpoint::UnixDatagram(_) | Endpoint::UnixStream(_) => "unix",
        }
    }
}

/// Parses `"UTC"`, `"local"` or `"+HH:MM"`.
pub fn parse_timezone(text: &str) -> Result<FixedOffset, String> {
    match text {
        "UTC" | "utc" | "Z" => Ok(FixedOffset::east_opt(0).expect("0 is valid")),
        "local" => Ok(*chrono::Local::now().offset()),
        _ => text.parse::<FixedOffset>().map_err(|_| {
            format!("default_timezone: expected \"UTC\", \"local\" or an offset like \"+02:00\", found \"{text}\"")
        }),
    }
}

/// Parses an octal mode such as `"0660"`.
pub fn parse_mode(text: &str) -> Result<u32, String> {
    u32::from_str_radix(text.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o777)
        .ok_or_else(|| {
            format!("socket_mode: expected an octal mode like \"0660\", found \"{text}\"")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_endpoints_and_refuses_bad_ones_with_the_reason() {
        assert_eq!(
            Endpoint::parse("udp://0.0.0.0:514").unwrap(),
            Endpoint::Udp("0.0.0.0:514".parse().unwrap())
        );
        assert_eq!(
            Endpoint::parse("tls://localhost:6514").unwrap(),
            Endpoint::Tls("127.0.0.1:6514".parse().unwrap())
        );
        assert_eq!(
            Endpoint::parse("unix:///dev/log").unwrap(),
            Endpoint::UnixDatagram("/dev/log".into())
        );
        assert_eq!(
            Endpoint::parse("unix-stream:///run/x.sock")
                .unwrap()
                .transport(),
            "unix"
        );
        assert!(
            Endpoint::parse("tcp://example.org:514")
                .unwrap_err()
                .contains("IP address")
        );
        assert!(
            Endpoint::parse("sctp://1.2.3.4:5")
                .unwrap_err()
                .contains("unknown scheme")
        );
        assert!(
            Endpoint::parse("0.0.0.0:514")
                .unwrap_err()
                .contains("udp://")
        );
        assert!(
            Endpoint::parse("unix://relative")
                .unwrap_err()
                .contains("absolute")
        );
    }

    #[test]
    fn parses_zones_and_modes() {
        assert_eq!(parse_timezone("+02:00").unwrap().local_minus_utc(), 7200);
        assert_eq!(parse_timezone("UTC").unwrap().local_minus_utc(), 0);
        assert!(parse_timezone("Mars/Olympus").is_err());
        assert_eq!(parse_mode("0660").unwrap(), 0o660);
        assert!(parse_mode("999").is_err());
    }
}
