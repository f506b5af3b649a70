//! Datagram transports (UDP, unix datagram as `/dev/log` and `logger` use): one message per
//! datagram, read in bursts into one shared buffer, sent without waiting. A datagram
//! sender cannot be slowed down: while the pipeline is momentarily full, up to
//! [`MAX_PENDING`] records are held here and the socket keeps being read; past that they
//! are dropped and counted (`dropped`, reason `input_queue_full`) instead of stalling.

use super::decode::Decoder;
use super::parse::ParseOptions;
use crate::batch::{Batch, Offer, SendError};
use crate::input::InputContext;
use crate::record::now_unix_nano;
use bytes::BytesMut;
use chrono::FixedOffset;
use std::io;
use std::net::SocketAddr;

/// Datagrams read per wake-up before the batch is sent.
const BURST: usize = 512;
/// Records held while the pipeline is full, before they are dropped.
const MAX_PENDING: usize = 16_384;
/// How soon held records are offered again when no datagram arrives.
const RETRY_PENDING: std::time::Duration = std::time::Duration::from_millis(5);
/// Room kept free in the read buffer: the largest datagram.
const MAX_DATAGRAM: usize = 65536;

/// A socket that yields datagrams with the sender's address, if it has one.
pub(crate) trait DatagramSocket {
    async fn wait_readable(&self) -> io::Result<()>;
    fn try_recv(&self, buf: &mut BytesMut) -> io::Result<Option<SocketAddr>>;
}

impl DatagramSocket for tokio::net::UdpSocket {
    async fn wait_readable(&self) -> io::Result<()> {
        self.readable().await
    }
    fn try_recv(&self, buf: &mut BytesMut) -> io::Result<Option<SocketAddr>> {
        self.try_recv_buf_from(buf).map(|(_, peer)| Some(peer))
    }
}

impl DatagramSocket for tokio::net::UnixDatagram {
    async fn wait_readable(&self) -> io::Result<()> {
        self.readable().await
    }
    fn try_recv(&self, buf: &mut BytesMut) -> io::Result<Option<SocketAddr>> {
        self.try_recv_buf(buf).map(|_| None)
    }
}

/// Receives until shutdown.
pub(crate) async fn receive(
    socket: impl DatagramSocket,
    transport: &'static str,
    max_message_bytes: usize,
    timezone: FixedOffset,
    cx: &InputContext,
) {
    let mut decoder = Decoder::new(transport);
    let mut buf = BytesMut::with_capacity(1 << 20);
    let mut records = Vec::new();
    loop {
        tokio::select! {
            _ = cx.shutdown.cancelled() => return,
            ready = socket.wait_readable() => if let Err(e) = ready {
                cx.metrics.errors.add(1);
                tracing::warn!(input = %cx.name, error = %e, "syslog socket failed");
                return;
            },
            _ = tokio::time::sleep(RETRY_PENDING), if !records.is_empty() => {}
        }
        let observed = now_unix_nano();
        let opts = ParseOptions::new(timezone, observed);
        for _ in 0..BURST {
            if buf.capacity() - buf.len() < MAX_DATAGRAM {
                buf.reserve(1 << 20);
            }
            let peer = match socket.try_recv(&mut buf) {
                Ok(peer) => peer,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    cx.metrics.errors.add(1);
                    tracing::debug!(input = %cx.name, error = %e, "syslog datagram receive failed");
                    break;
                }
            };
            let datagram = buf.split().freeze();
            cx.metrics.bytes_received.add(datagram.len() as u64);
            let truncated = datagram.len() > max_message_bytes;
            let message = if truncated {
                datagram.slice(..max_message_bytes)
            } else {
                datagram
            };
            decoder.set_peer(peer);
            decoder.decode(message, truncated, &opts, observed, cx, &mut records);
        }
        match cx.sender.offer(Batch::new(std::mem::take(&mut records))) {
            Offer::Sent => {}
            Offer::Full(mut batch) if batch.len() < MAX_PENDING => {
                records = std::mem::take(&mut batch.records)
            }
            // Held too long: dropped and counted by the sender (or sent, if room appeared).
            Offer::Full(batch) => {
                if let Err(SendError::Closed) = cx.sender.try_send(batch) {
                    return;
                }
            }
            Offer::Closed => return,
        }
    }
}
