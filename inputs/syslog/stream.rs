//! Stream transports (TCP, TLS, unix stream): read, frame (RFC 6587, detected per message),
//! decode, and send in batches. Awaiting the send is the back-pressure: while the pipeline
//! is full this connection is not read, and TCP flow control slows the sender.

use super::decode::Decoder;
use super::parse::ParseOptions;
use crate::batch::Batch;
use crate::input::InputContext;
use crate::net::accept::{self, Acceptor};
use crate::net::framing::SyslogFrameDecoder;
use crate::net::read_buffer;
use crate::net::tls::{handshake, handshake_failed};
use crate::record::now_unix_nano;
use chrono::FixedOffset;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

/// Records per batch from one connection. A batch waits in the queues as a whole, so this
/// sets how much waits ahead of the buffer's bound (the input's queue, shared by its
/// connections, holds four batches); 256 keeps that to ~300 KB while the per-batch costs
/// stay negligible.
const BATCH_RECORDS: usize = 256;

/// What every connection of a listener shares.
#[derive(Clone, Copy)]
pub(crate) struct StreamSettings {
    pub max_message_bytes: usize,
    pub timezone: FixedOffset,
    pub idle_timeout: Duration,
    pub transport: &'static str,
}

/// Serves a stream listener until shutdown: each connection (after a TLS handshake when
/// `tls` is set) is read until it ends.
pub(crate) async fn serve<A>(
    listener: A,
    tls: Option<TlsAcceptor>,
    max_connections: usize,
    settings: StreamSettings,
    cx: Arc<InputContext>,
) where
    A: Acceptor,
    A::Stream: AsyncRead + AsyncWrite + Unpin + Send,
{
    let (shutdown, metrics) = (cx.shutdown.clone(), Arc::clone(&cx.metrics));
    accept::serve(
        listener,
        max_connections,
        metrics,
        shutdown,
        move |stream, peer, stop| {
            let (cx, tls) = (Arc::clone(&cx), tls.clone());
            async move {
                let Some(tls) = tls else {
                    return read_connection(stream, peer, settings, &cx, stop).await;
                };
                match handshake(&tls, stream).await {
                    Ok(stream) => read_connection(stream, peer, settings, &cx, stop).await,
                    Err(e) => handshake_failed(&cx, peer, &e),
                }
            }
        },
    )
    .await
}

/// Reads one connection until it closes, goes idle, fails or `shutdown` fires.
pub(crate) async fn read_connection(
    mut reader: impl AsyncRead + Unpin,
    peer: Option<std::net::SocketAddr>,
    settings: StreamSettings,
    cx: &InputContext,
    shutdown: CancellationToken,
) {
    let mut framer = SyslogFrameDecoder::new(settings.max_message_bytes);
    let mut decoder = Decoder::new(settings.transport);
    decoder.set_peer(peer);
    let mut buf = read_buffer::new();
    let mut records = Vec::with_capacity(BATCH_RECORDS);
    let who = peer.map_or_else(|| "unix socket".to_string(), |p| p.to_string());
    loop {
        read_buffer::make_room(&mut buf);
        let read = tokio::select! {
            _ = shutdown.cancelled() => break,
            read = tokio::time::timeout(settings.idle_timeout, reader.read_buf(&mut buf)) => read,
        };
        let eof = match read {
            Ok(Ok(n)) => {
                cx.metrics.bytes_received.add(n as u64);
                n == 0
            }
            Ok(Err(e)) => {
                cx.metrics.errors.add(1);
                tracing::warn!(input = %cx.name, peer = %who, error = %e, "syslog connection failed");
                true
            }
            Err(_) => {
                tracing::debug!(input = %cx.name, peer = %who, "closing idle syslog connection");
                true
            }
        };
        let observed = now_unix_nano();
        let opts = ParseOptions::new(settings.timezone, observed);
        loop {
            let frame = if eof {
                framer.last_frame(&mut buf)
            } else {
                framer.next_frame(&mut buf)
            };
            let Some(frame) = frame else { break };
            decoder.decode(
                frame.data,
                frame.truncated,
                &opts,
                observed,
                cx,
                &mut records,
            );
            if records.len() >= BATCH_RECORDS {
                let batch = std::mem::replace(&mut records, Vec::with_capacity(BATCH_RECORDS));
                if cx.sender.send(Batch::new(batch)).await.is_err() {
                    return;
                }
            }
        }
        if !records.is_empty() {
            // Size the next batch like this one: a batch waits in buffers as a whole, and
            // unused capacity there is memory per record.
            let next = Vec::with_capacity(records.len().next_power_of_two().min(BATCH_RECORDS));
            let batch = std::mem::replace(&mut records, next);
            if cx.sender.send(Batch::new(batch)).await.is_err() {
                return;
            }
        }
        if eof {
            break;
        }
    }
}
