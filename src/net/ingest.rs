//! What request/response inputs (OTLP, the Elasticsearch bulk API) share: authentication,
//! concurrency and size limits, decompression, and handing a request's records to the
//! pipeline — answering only once they are acknowledged, or at once with "retry later" when
//! the pipeline has no room.

use crate::ack::{AckToken, Delivery};
use crate::batch::{Batch, Offer};
use crate::budget::Held;
use crate::input::InputContext;
use crate::record::LogRecord;
use bytes::Bytes;
use http::HeaderMap;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Longest a request body may take to arrive.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a refused sender is asked to wait before retrying.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Why a request was not accepted; each maps to one gRPC code and one HTTP status.
#[derive(Debug)]
pub enum Failure {
    /// Malformed body: gRPC `INVALID_ARGUMENT`, HTTP 400.
    Invalid(String),
    /// Over `max_request_bytes`: gRPC `RESOURCE_EXHAUSTED` (no retry info), HTTP 413.
    TooLarge(String),
    /// Missing or wrong credentials: gRPC `UNAUTHENTICATED`, HTTP 401.
    Unauthenticated,
    /// A content type or encoding we do not speak: gRPC `UNIMPLEMENTED`, HTTP 415.
    Unsupported(String),
    /// The pipeline is full: gRPC `UNAVAILABLE` with RetryInfo, HTTP 503 with Retry-After.
    Overloaded,
    /// The process-wide `memory_limit` is reached: gRPC `RESOURCE_EXHAUSTED` with RetryInfo
    /// (retryable, as OTLP specifies for throttling), HTTP 429 with Retry-After.
    MemoryLimit,
    /// logferry is stopping: retryable, like overload.
    ShuttingDown,
}

impl Failure {
    pub fn message(&self) -> String {
        match self {
            Failure::Invalid(m) | Failure::TooLarge(m) | Failure::Unsupported(m) => m.clone(),
            Failure::Unauthenticated => "missing or invalid credentials".into(),
            Failure::Overloaded => "logferry is at capacity; retry later".into(),
            Failure::MemoryLimit => "logferry is at its memory limit; retry later".into(),
            Failure::ShuttingDown => "logferry is shutting down; retry later".into(),
        }
    }
}

/// A request accepted: all records delivered, or `rejected` of them refused for good.
#[derive(Debug, Default)]
pub struct Accepted {
    pub rejected: u64,
    pub message: String,
}

/// Decides whether a request's headers carry the required credentials.
pub type Authorizer = Box<dyn Fn(&HeaderMap) -> bool + Send + Sync>;

/// Shared by every connection of an input's listeners.
pub struct Ingest {
    pub cx: Arc<InputContext>,
    auth: Authorizer,
    /// What a request is called in logs ("OTLP request", "bulk request").
    what: &'static str,
    pub max_request_bytes: usize,
    pub queue_wait: Duration,
    permits: Arc<Semaphore>,
    last_warning: AtomicU64,
}

impl Ingest {
    pub fn new(
        cx: Arc<InputContext>,
        what: &'static str,
        auth: Authorizer,
        max_request_bytes: usize,
        max_concurrent_requests: usize,
        queue_wait: Duration,
    ) -> Self {
        Ingest {
            cx,
            auth,
            what,
            max_request_bytes,
            queue_wait,
            permits: Arc::new(Semaphore::new(max_concurrent_requests)),
            last_warning: AtomicU64::new(0),
        }
    }

    /// Checks credentials and takes a request slot (held until the answer is sent).
    pub fn admit(&self, headers: &HeaderMap) -> Result<OwnedSemaphorePermit, Failure> {
        if !(self.auth)(headers) {
            return Err(self.refuse(Failure::Unauthenticated));
        }
        Arc::clone(&self.permits)
            .try_acquire_owned()
            .map_err(|_| self.refuse(Failure::Overloaded))
    }

    /// Reads a whole body, refusing it past `limit` bytes without reading further. Once
    /// read, the body draws on `memory_limit` until its records are handed over
    /// ([`Ingest::export`]); at the limit the body is read and discarded, and the request
    /// refused.
    pub async fn read_body(
        &self,
        body: axum::body::Body,
        limit: usize,
    ) -> Result<(Bytes, Held), Failure> {
        if self.cx.sender.over_memory_limit() {
            // Answering before the body is read breaks clients mid-upload; reading it
            // without keeping it costs no memory.
            let discard = async {
                let mut body = body;
                let mut left = limit;
                while let Some(Ok(frame)) = body.frame().await {
                    let n = frame.data_ref().map_or(0, Bytes::len);
                    match left.checked_sub(n) {
                        Some(rest) => left = rest,
                        None => break,
                    }
                }
            };
            let _ = tokio::time::timeout(BODY_TIMEOUT, discard).await;
            return Err(self.refuse(Failure::MemoryLimit));
        }
        // A client that sends headers and then nothing must not hold its slot forever.
        let read = tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, limit).collect()).await;
        let Ok(read) = read else {
            return Err(self.refuse(Failure::Invalid(format!(
                "the request body did not arrive within {}s",
                BODY_TIMEOUT.as_secs()
            ))));
        };
        match read {
            Ok(collected) => {
                let bytes = collected.to_bytes();
                self.cx.metrics.bytes_received.add(bytes.len() as u64);
                let held = self.hold(bytes.len())?;
                Ok((bytes, held))
            }
            Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
                Err(self.refuse(Failure::TooLarge(format!(
                    "request body larger than max_request_bytes ({limit} bytes)"
                ))))
            }
            Err(e) => Err(self.refuse(Failure::Invalid(format!(
                "could not read the request body: {e}"
            )))),
        }
    }

    /// Takes `bytes` of `memory_limit` or refuses the request.
    fn hold(&self, bytes: usize) -> Result<Held, Failure> {
        self.cx
            .sender
            .hold_memory(bytes)
            .ok_or_else(|| self.refuse(Failure::MemoryLimit))
    }

    /// Decompresses a gzip body, refusing output past `max_request_bytes`; the output joins
    /// the request's `held` memory.
    pub fn gunzip(&self, body: &[u8], held: &mut Held) -> Result<Bytes, Failure> {
        let limit = self.max_request_bytes as u64;
        let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit as usize));
        let read = flate2::read::MultiGzDecoder::new(body)
            .take(limit + 1)
            .read_to_end(&mut out);
        match read {
            Err(e) => Err(self.refuse(Failure::Invalid(format!("invalid gzip body: {e}")))),
            Ok(n) if n as u64 > limit => Err(self.refuse(Failure::TooLarge(format!(
                "decompressed request larger than max_request_bytes ({limit} bytes)"
            )))),
            Ok(_) => {
                if !held.grow(out.len()) {
                    return Err(self.refuse(Failure::MemoryLimit));
                }
                Ok(Bytes::from(out))
            }
        }
    }

    /// Counts and (at most every 10 s) logs a refused request; returns it for `?`.
    pub fn refuse(&self, failure: Failure) -> Failure {
        let metrics = &self.cx.metrics;
        match failure {
            Failure::Overloaded | Failure::MemoryLimit | Failure::ShuttingDown => {
                metrics.refused.add(1)
            }
            Failure::Invalid(_) => {
                metrics.errors.add(1);
                metrics.parse_failures.add(1);
            }
            _ => metrics.errors.add(1),
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let last = self.last_warning.load(Ordering::Relaxed);
        if now >= last + 10
            && self
                .last_warning
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(input = %self.cx.name, reason = %failure.message(), "refused a {} (further ones within 10s are only counted)", self.what);
        }
        failure
    }

    /// Hands the request's records to the pipeline and waits for their acknowledgement.
    /// The request's `held` memory is given back as the records are offered (the buffers
    /// count them from then on).
    pub async fn export(&self, records: Vec<LogRecord>, held: Held) -> Result<Accepted, Failure> {
        if records.is_empty() {
            return Ok(Accepted::default());
        }
        let (token, verdict) = AckToken::new(records.len());
        let batch = Batch::new(records).with_ack(token);
        // The body's memory is let go before waiting: the router must be able to take
        // earlier batches (whose buffer charge may need that room) to make way.
        let limited = self.cx.sender.over_memory_limit();
        drop(held);
        let sent = match self.cx.sender.offer(batch) {
            Offer::Full(batch) => self.cx.sender.send_within(batch, self.queue_wait).await,
            other => other,
        };
        match sent {
            Offer::Sent => {}
            // Not counted as received: the sender keeps the records and retries.
            Offer::Full(_) if limited || self.cx.sender.over_memory_limit() => {
                return Err(self.refuse(Failure::MemoryLimit));
            }
            Offer::Full(_) => return Err(self.refuse(Failure::Overloaded)),
            Offer::Closed => return Err(self.refuse(Failure::ShuttingDown)),
        }
        match verdict.wait().await {
            Delivery::Delivered => Ok(Accepted::default()),
            // Given up at shutdown, not refused by a destination: the sender should try
            // again (here after a restart, or elsewhere).
            Delivery::Abandoned { .. } => Err(self.refuse(Failure::ShuttingDown)),
            Delivery::Rejected { records, reason } => Ok(Accepted {
                rejected: records,
                message: format!("{records} log records rejected: {reason}"),
            }),
        }
    }
}

/// Compares secrets in constant time, so a timing side channel does not reveal how much of a
/// guess was right.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
