//! `type = "syslog"`: RFC 5424 and RFC 3164 ("BSD") messages over UDP, TCP, TLS and unix
//! sockets, any number of endpoints in one input. Stream transports detect RFC 6587 framing
//! per message (octet counting or LF/CRLF/NUL trailers); [`parse`] reads one message.
//!
//! Mapping (the OTel log data model's syslog convention):
//!
//! | syslog | record |
//! |---|---|
//! | PRI severity | `severity_number` (emerg 21, alert 19, crit 18, err 17, warning 13, notice 10, info 9, debug 5) and `severity_text` (the keyword) |
//! | PRI facility | attribute `syslog.facility` (0–23) |
//! | TIMESTAMP | `time_unix_nano` (RFC 3164: year inferred as the one nearest receipt; zone `default_timezone`) |
//! | HOSTNAME | resource `host.name` |
//! | APP-NAME / TAG | resource `service.name` |
//! | PROCID, MSGID, VERSION | `syslog.procid`, `syslog.msgid`, `syslog.version` |
//! | STRUCTURED-DATA | `syslog.structured_data`: map of SD-ID → map of name → value |
//! | Cisco sequence number, unsynced clock mark | `syslog.sequence`, `syslog.clock_synced = false` |
//! | MSG | `body` (BOM removed) |
//! | sender address, transport | `network.peer.address`, `network.transport` (`udp`, `tcp`, `unix`) |
//! | longer than `max_message_bytes` | cut, `log.truncated = true`, counted |
//! | unparseable | whole line as `body`, no severity, `syslog.parse_error` = why, counted |
//!
//! Delivery: streams are read only as fast as the pipeline accepts (back-pressure through
//! TCP flow control); datagrams that arrive while the pipeline is full are dropped and
//! counted.

mod config;
mod datagram;
mod decode;
pub mod parse;
mod stream;

pub use config::{Endpoint, SyslogConfig};

use crate::input::{Input, InputBuildContext, InputConfig, InputContext, InputError};
use chrono::FixedOffset;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use stream::StreamSettings;
use tokio::task::JoinSet;

impl InputConfig for SyslogConfig {
    type Input = Syslog;
    fn build(&self, _cx: &InputBuildContext) -> Result<Syslog, String> {
        if self.listen.is_empty() {
            return Err(
                "listen: expected at least one endpoint, like \"udp://0.0.0.0:5514\"".into(),
            );
        }
        let endpoints = self
            .listen
            .iter()
            .map(|l| Endpoint::parse(l))
            .collect::<Result<Vec<_>, _>>()?;
        if endpoints.iter().any(|e| matches!(e, Endpoint::Tls(_))) && self.tls.is_none() {
            return Err(
                "tls: a tls:// endpoint needs tls = { cert_file = \"...\", key_file = \"...\" }"
                    .into(),
            );
        }
        let max_message_bytes = usize::try_from(self.max_message_bytes.0).unwrap_or(usize::MAX);
        if max_message_bytes == 0 {
            return Err("max_message_bytes: expected a positive size".into());
        }
        Ok(Syslog {
            endpoints,
            timezone: config::parse_timezone(&self.default_timezone)?,
            socket_mode: config::parse_mode(&self.socket_mode)?,
            max_message_bytes,
            config: self.clone(),
        })
    }
}

/// The running syslog input.
pub struct Syslog {
    endpoints: Vec<Endpoint>,
    timezone: FixedOffset,
    socket_mode: u32,
    max_message_bytes: usize,
    config: SyslogConfig,
}

impl Input for Syslog {
    async fn run(self, cx: InputContext) -> Result<(), InputError> {
        let cx = Arc::new(cx);
        let tls = match &self.config.tls {
            Some(tls) if self.endpoints.iter().any(|e| matches!(e, Endpoint::Tls(_))) => {
                Some(tokio_rustls::TlsAcceptor::from(
                    tls.server_config()
                        .map_err(|e| InputError(format!("tls: {e}")))?,
                ))
            }
            _ => None,
        };
        let mut tasks = JoinSet::new();
        let mut socket_files = Vec::new();
        // Bind everything first, so a taken port fails the start, not a later moment.
        for endpoint in &self.endpoints {
            let settings = StreamSettings {
                max_message_bytes: self.max_message_bytes,
                timezone: self.timezone,
                idle_timeout: self.config.idle_timeout.0,
                transport: endpoint.transport(),
            };
            let fail = |e: std::io::Error| {
                InputError(format!("listen: cannot bind {}: {e}", describe(endpoint)))
            };
            let cx = Arc::clone(&cx);
            let (max, tz) = (self.max_message_bytes, self.timezone);
            match endpoint {
                Endpoint::Udp(addr) => {
                    let socket = bind_udp(*addr, self.config.receive_buffer_bytes.0 as usize)
                        .map_err(fail)?;
                    log_listening(
                        &cx,
                        &format!("udp://{}", socket.local_addr().map_err(fail)?),
                    );
                    tasks
                        .spawn(async move { datagram::receive(socket, "udp", max, tz, &cx).await });
                }
                Endpoint::UnixDatagram(path) => {
                    let socket = bind_unix(path, self.socket_mode, |p| {
                        tokio::net::UnixDatagram::bind(p)
                    })
                    .map_err(fail)?;
                    let _ = socket2::SockRef::from(&socket)
                        .set_recv_buffer_size(self.config.receive_buffer_bytes.0 as usize);
                    socket_files.push(path.clone());
                    log_listening(&cx, &format!("unix://{}", path.display()));
                    tasks.spawn(
                        async move { datagram::receive(socket, "unix", max, tz, &cx).await },
                    );
                }
                Endpoint::Tcp(addr) | Endpoint::Tls(addr) => {
                    let listener = tokio::net::TcpListener::bind(addr).await.map_err(fail)?;
                    let scheme = if matches!(endpoint, Endpoint::Tls(_)) {
                        "tls"
                    } else {
                        "tcp"
                    };
                    log_listening(
                        &cx,
                        &format!("{scheme}://{}", listener.local_addr().map_err(fail)?),
                    );
                    let acceptor = if scheme == "tls" { tls.clone() } else { None };
                    let max = self.config.max_connections;
                    tasks.spawn(stream::serve(listener, acceptor, max, settings, cx));
                }
                Endpoint::UnixStream(path) => {
                    let listener = bind_unix(path, self.socket_mode, |p| {
                        tokio::net::UnixListener::bind(p)
                    })
                    .map_err(fail)?;
                    socket_files.push(path.clone());
                    log_listening(&cx, &format!("unix-stream://{}", path.display()));
                    let max = self.config.max_connections;
                    tasks.spawn(stream::serve(listener, None, max, settings, cx));
                }
            }
        }
        while tasks.join_next().await.is_some() {}
        for path in socket_files {
            let _ = std::fs::remove_file(path);
        }
        Ok(())
    }
}

fn describe(endpoint: &Endpoint) -> String {
    match endpoint {
        Endpoint::Udp(a) => format!("udp://{a}"),
        Endpoint::Tcp(a) => format!("tcp://{a}"),
        Endpoint::Tls(a) => format!("tls://{a}"),
        Endpoint::UnixDatagram(p) => format!("unix://{}", p.display()),
        Endpoint::UnixStream(p) => format!("unix-stream://{}", p.display()),
    }
}

fn log_listening(cx: &InputContext, address: &str) {
    tracing::info!(input = %cx.name, address, "syslog listening");
}

fn bind_udp(
    addr: std::net::SocketAddr,
    receive_buffer: usize,
) -> std::io::Result<tokio::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // Best effort: the kernel caps it at net.core.rmem_max.
    let _ = socket.set_recv_buffer_size(receive_buffer);
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    tokio::net::UdpSocket::from_std(socket.into())
}

/// Binds a unix socket at `path`, replacing a stale socket file but never a regular file.
fn bind_unix<S>(
    path: &Path,
    mode: u32,
    bind: impl Fn(&Path) -> std::io::Result<S>,
) -> std::io::Result<S> {
    use std::os::unix::fs::FileTypeExt;
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "a file that is not a socket is in the way",
            ));
        }
        std::fs::remove_file(path)?;
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let socket = bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(socket)
}
