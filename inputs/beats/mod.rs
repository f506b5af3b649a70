//! `type = "beats"`: the Beats protocol (Lumberjack v2, default port 5044), so Filebeat's
//! `output.logstash` (and other Beats, and Lumberjack clients) can ship to logferry.
//!
//! Window, JSON and zlib-compressed frames, and v1 key/value data frames; events map into
//! records as `crate::record::ecs` says (the `@metadata.beat` index becomes
//! `elasticsearch.index`), plus `network.peer.address`. A window is acknowledged only once
//! its records are delivered; keep-alive ACKs flow while it waits (`connection.rs`). An
//! event whose JSON does not parse is kept whole as the body, marked `beats.parse_error`
//! and counted. A frame that breaks the protocol — unknown version or type, a window over
//! `max_window`, a frame or inflated content over `max_frame_bytes`, a bad zlib stream, an
//! event outside its window — closes that connection with the reason logged; unacknowledged
//! windows are then resent by the sender.

mod config;
mod connection;
pub(crate) mod frame;

pub use config::BeatsConfig;

use crate::input::{Input, InputBuildContext, InputConfig, InputContext, InputError};
use crate::net::accept;
use crate::net::tls::{handshake, handshake_failed};
use std::net::SocketAddr;
use std::sync::Arc;

impl InputConfig for BeatsConfig {
    type Input = BeatsInput;

    fn build(&self, _cx: &InputBuildContext) -> Result<BeatsInput, String> {
        let addr = self.check()?;
        Ok(BeatsInput {
            config: self.clone(),
            addr,
        })
    }
}

/// A running Beats listener.
pub struct BeatsInput {
    config: BeatsConfig,
    addr: SocketAddr,
}

impl Input for BeatsInput {
    async fn run(self, cx: InputContext) -> Result<(), InputError> {
        let cx = Arc::new(cx);
        let tls = match &self.config.tls {
            Some(tls) => {
                let config = tls
                    .server_config()
                    .map_err(|e| InputError(format!("tls: {e}")))?;
                Some(tokio_rustls::TlsAcceptor::from(config))
            }
            None => None,
        };
        let listener = tokio::net::TcpListener::bind(self.addr)
            .await
            .map_err(|e| InputError(format!("listen: cannot bind {}: {e}", self.addr)))?;
        let local = listener
            .local_addr()
            .map_err(|e| InputError(e.to_string()))?;
        let scheme = if tls.is_some() { "beats+tls" } else { "beats" };
        tracing::info!(input = %cx.name, address = %format!("{scheme}://{local}"), "Beats listening");
        let settings = connection::Settings {
            max_window: self.config.max_window,
            max_frame: self.config.max_frame_bytes.0,
            idle: self.config.idle_timeout.0,
            keepalive: self.config.keepalive_interval.0,
        };
        let (shutdown, metrics) = (cx.shutdown.clone(), Arc::clone(&cx.metrics));
        accept::serve(
            listener,
            self.config.max_connections,
            metrics,
            shutdown,
            move |stream, peer, stop| {
                let (cx, tls) = (Arc::clone(&cx), tls.clone());
                async move {
                    match tls {
                        None => connection::serve(stream, peer, settings, &cx, stop).await,
                        Some(tls) => match handshake(&tls, stream).await {
                            Ok(stream) => {
                                connection::serve(stream, peer, settings, &cx, stop).await
                            }
                            Err(e) => handshake_failed(&cx, peer, &e),
                        },
                    }
                }
            },
        )
        .await;
        Ok(())
    }
}
