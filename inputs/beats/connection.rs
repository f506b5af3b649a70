//! One Beats connection: frames in, one batch per window handed to the pipeline with an
//! acknowledgement, and ACKs out in window order — only once a window's records are
//! delivered (or refused for good downstream, which no retry would change). While a window
//! waits, an empty ACK (`seq 0`) goes out every `keepalive_interval` so the sender does not
//! time out. A window abandoned at shutdown is never acknowledged: the connection closes
//! and the sender sends it again; at shutdown nothing more is read, but windows already
//! handed over are acknowledged as they are delivered. At most `MAX_PENDING` windows wait per connection; past
//! that the connection is not read (back-pressure reaches the sender through TCP).

use super::frame::{self, Frame, FrameError};
use crate::ack::{AckReceiver, AckToken, Delivery};
use crate::batch::Batch;
use crate::input::InputContext;
use crate::net::read_buffer;
use crate::record::ecs::EcsMapper;
use crate::record::{AnyValue, LogRecord, Str, now_unix_nano};
use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

/// Windows waiting for delivery per connection (Filebeat pipelines 2 by default).
const MAX_PENDING: usize = 4;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Settings {
    pub max_window: u32,
    pub max_frame: u64,
    pub idle: Duration,
    pub keepalive: Duration,
}

/// The window being received.
struct Window {
    size: u32,
    records: Vec<LogRecord>,
    /// Highest sequence number seen: what the ACK carries. Filebeat numbers each window
    /// 1..N; some clients (pylogbeat) keep counting across windows, so, as Logstash does,
    /// the ACK names the last event received rather than the window's size.
    last_seq: u32,
    /// `b'1'` or `b'2'`: ACKs answer in the window's own protocol version.
    version: u8,
    /// Bytes of the events received so far (bounded by `max_frame_bytes`).
    bytes: u64,
}

enum Event {
    Stop,
    Idle,
    Verdict(Option<Delivery>),
    Read(std::io::Result<usize>),
}

/// Serves one connection until it closes, fails, idles out or `shutdown` fires.
pub(crate) async fn serve(
    stream: impl AsyncRead + AsyncWrite + Unpin,
    peer: Option<SocketAddr>,
    settings: Settings,
    cx: &InputContext,
    shutdown: CancellationToken,
) {
    let who = peer.map_or_else(|| "-".to_string(), |p| p.to_string());
    let peer_attr = peer.map(|p| AnyValue::String(Str::from(p.ip().to_string())));
    let (mut reader, mut writer) = tokio::io::split(stream);
    let mut buf = read_buffer::new();
    // Windows go to the pipeline in order through one forwarding task per connection; its
    // queue never holds more than MAX_PENDING windows (reading stops there).
    let (forward, mut windows) = tokio::sync::mpsc::channel::<Batch>(MAX_PENDING);
    let sender = cx.sender.clone();
    let forwarder = tokio::spawn(async move {
        while let Some(batch) = windows.recv().await {
            let _ = sender.send(batch).await;
        }
    });
    let mut conn = Conn {
        forward,
        settings,
        mapper: EcsMapper::new("logferry.beats"),
        window: None,
        pending: VecDeque::new(),
        peer: peer_attr,
        acks: Vec::new(),
    };
    // At shutdown no more is read, but windows already handed over are still acknowledged
    // once delivered, so the sender does not send them twice.
    let mut stopping = false;
    let result: Result<(), String> = loop {
        let waiting = !conn.pending.is_empty();
        if stopping && !waiting {
            break Ok(());
        }
        let can_read = !stopping && conn.pending.len() < MAX_PENDING;
        let event = tokio::select! {
            biased;
            _ = shutdown.cancelled(), if !stopping => Event::Stop,
            verdict = async {
                let (_, _, rx) = conn.pending.front_mut().expect("checked");
                rx.wait_for(settings.keepalive).await
            }, if waiting => Event::Verdict(verdict),
            read = reader.read_buf(&mut buf), if can_read => Event::Read(read),
            _ = tokio::time::sleep(settings.idle), if !waiting => Event::Idle,
        };
        match event {
            Event::Stop => stopping = true,
            Event::Idle => {
                tracing::debug!(input = %cx.name, peer = %who, "closing idle Beats connection");
                break Ok(());
            }
            Event::Verdict(None) => {
                let version = conn.pending.front().map_or(b'2', |p| p.0);
                conn.acks.push((version, 0));
            }
            Event::Verdict(Some(delivery)) => {
                let (version, seq, _) = conn.pending.pop_front().expect("checked");
                match delivery {
                    Delivery::Delivered => conn.acks.push((version, seq)),
                    // Refused for good downstream (counted there): resending cannot help.
                    Delivery::Rejected { .. } => conn.acks.push((version, seq)),
                    Delivery::Abandoned { .. } => {
                        break Err("the pipeline stopped before the window was delivered; the sender will resend it".into());
                    }
                }
                // Frames left in the buffer when the pending limit was reached.
                if !stopping
                    && !buf.is_empty()
                    && let Err(e) = conn.frames(&mut buf, cx)
                {
                    cx.metrics.errors.add(1);
                    break Err(e.to_string());
                }
            }
            Event::Read(Ok(0)) => break Ok(()),
            Event::Read(Ok(n)) => {
                cx.metrics.bytes_received.add(n as u64);
                if let Err(e) = conn.frames(&mut buf, cx) {
                    cx.metrics.errors.add(1);
                    break Err(e.to_string());
                }
                read_buffer::make_room(&mut buf);
            }
            Event::Read(Err(e)) => break Err(format!("read failed: {e}")),
        }
        if !conn.acks.is_empty() {
            let mut out = Vec::with_capacity(conn.acks.len() * 6);
            for (version, seq) in conn.acks.drain(..) {
                out.extend_from_slice(&frame::ack(version, seq));
            }
            if let Err(e) = writer.write_all(&out).await {
                break Err(format!("cannot send ACK: {e}"));
            }
        }
    };
    if let Err(reason) = result {
        tracing::warn!(input = %cx.name, peer = %who, %reason, "closing Beats connection");
    }
    // Windows already handed over are delivered or abandoned by the pipeline; the
    // forwarder ends once its queue is empty.
    drop(conn);
    let _ = forwarder.await;
}

struct Conn {
    forward: tokio::sync::mpsc::Sender<Batch>,
    settings: Settings,
    mapper: EcsMapper,
    window: Option<Window>,
    /// Windows handed to the pipeline: the protocol version and sequence number to ACK,
    /// and the verdict to come.
    pending: VecDeque<(u8, u32, AckReceiver)>,
    peer: Option<AnyValue>,
    /// ACKs to write after this event: (version, sequence number).
    acks: Vec<(u8, u32)>,
}

/// Why a connection must close.
#[derive(Debug, thiserror::Error)]
enum ConnError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("{0}")]
    Protocol(String),
}

impl Conn {
    /// Handles every whole frame in `buf`.
    /// Handles the whole frames in `buf`, until MAX_PENDING windows wait for delivery (the
    /// rest stay in `buf` until a verdict frees a place).
    fn frames(&mut self, buf: &mut BytesMut, cx: &InputContext) -> Result<(), ConnError> {
        while self.pending.len() < MAX_PENDING
            && let Some(frame) = frame::next(buf, self.settings.max_frame)?
        {
            match frame {
                Frame::Compressed(content) => {
                    for inner in frame::inner(content, self.settings.max_frame)? {
                        self.frame(inner, cx)?;
                    }
                }
                other => self.frame(other, cx)?,
            }
        }
        Ok(())
    }

    fn frame(&mut self, frame: Frame, cx: &InputContext) -> Result<(), ConnError> {
        let observed = now_unix_nano();
        let record = match frame {
            Frame::Window(version, n) => {
                if self.window.is_some() {
                    return Err(ConnError::Protocol(
                        "window frame before the previous window was complete".into(),
                    ));
                }
                if n > self.settings.max_window {
                    return Err(ConnError::Protocol(format!(
                        "window of {n} events exceeds max_window ({})",
                        self.settings.max_window
                    )));
                }
                if n == 0 {
                    self.acks.push((version, 0));
                } else {
                    self.window = Some(Window {
                        size: n,
                        records: Vec::with_capacity(n.min(4096) as usize),
                        last_seq: 0,
                        version,
                        bytes: 0,
                    });
                }
                return Ok(());
            }
            Frame::Compressed(_) => return Err(FrameError::Nested.into()),
            Frame::Json { seq, payload } => {
                self.check_seq(seq, payload.len())?;
                let peer = self.peer_attribute();
                match self.mapper.map(&payload, &payload, peer, observed) {
                    Ok(record) => record,
                    Err(e) => {
                        cx.metrics.parse_failures.add(1);
                        let mut r = LogRecord::new(
                            AnyValue::String(Str::from_utf8_lossy(payload)),
                            observed,
                        );
                        r.attributes
                            .push((Str::from_static("beats.parse_error"), AnyValue::from(e)));
                        r.attributes.extend(self.peer_attribute());
                        r
                    }
                }
            }
            Frame::Data { seq, pairs } => {
                let size = pairs.iter().map(|(k, v)| k.len() + v.len()).sum();
                self.check_seq(seq, size)?;
                v1_record(pairs, observed, self.peer_attribute())
            }
        };
        let window = self.window.as_mut().expect("checked by check_seq");
        window.records.push(record);
        if window.records.len() as u32 == window.size {
            let window = self.window.take().expect("present");
            let (token, rx) = AckToken::new(window.records.len());
            let batch = Batch::new(window.records).with_ack(token);
            // Never full: reading stops at MAX_PENDING windows awaiting their verdict.
            if let Err(e) = self.forward.try_send(batch) {
                let mut batch = match e {
                    tokio::sync::mpsc::error::TrySendError::Full(b)
                    | tokio::sync::mpsc::error::TrySendError::Closed(b) => b,
                };
                if let Some(ack) = batch.ack.take() {
                    ack.abandoned(batch.records.len() as u64, "connection closing");
                }
            }
            self.pending
                .push_back((window.version, window.last_seq, rx));
        }
        Ok(())
    }

    /// An event must belong to a window, move its sequence forward, and keep the window's
    /// events within `max_frame_bytes`.
    fn check_seq(&mut self, seq: u32, size: usize) -> Result<(), ConnError> {
        let max = self.settings.max_frame;
        match &mut self.window {
            None => Err(ConnError::Protocol(
                "event frame before a window frame".into(),
            )),
            Some(w) if seq <= w.last_seq => Err(ConnError::Protocol(format!(
                "sequence number {seq} does not follow {} in its window",
                w.last_seq
            ))),
            Some(w) if w.bytes + size as u64 > max => Err(ConnError::Protocol(format!(
                "the window's events exceed max_frame_bytes ({max}) before it is complete"
            ))),
            Some(w) => {
                w.last_seq = seq;
                w.bytes += size as u64;
                Ok(())
            }
        }
    }

    fn peer_attribute(&self) -> Option<(Str, AnyValue)> {
        self.peer
            .clone()
            .map(|p| (Str::from_static("network.peer.address"), p))
    }
}

/// A v1 data frame: `line` is the body, the other pairs attributes (`host` the resource's
/// `host.name`).
fn v1_record(
    pairs: Vec<(Bytes, Bytes)>,
    observed: u64,
    peer: Option<(Str, AnyValue)>,
) -> LogRecord {
    let mut r = LogRecord::new(AnyValue::Empty, observed);
    let mut resource = Vec::new();
    for (k, v) in pairs {
        let (k, v) = (Str::from_utf8_lossy(k), Str::from_utf8_lossy(v));
        match k.as_str() {
            "line" => r.body = AnyValue::String(v),
            "host" => resource.push((Str::from_static("host.name"), AnyValue::String(v))),
            _ => r.attributes.push((k, AnyValue::String(v))),
        }
    }
    r.attributes.extend(peer);
    r.resource = std::sync::Arc::new(crate::record::Resource {
        attributes: resource,
        ..Default::default()
    });
    r
}
