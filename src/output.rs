//! The output contract. An output is two functions: a pure [`Output::encode`] that turns
//! records into a request (unit-testable without a network) and a single-attempt
//! [`Output::send`] that reports an [`Outcome`]. Buffering, batching, retries with backoff,
//! timeouts, acknowledgements and telemetry belong to the engine's driver, as in the
//! OpenTelemetry Collector's exporterhelper.

use crate::batch::Records;
use crate::record::LogRecord;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A final refusal: a short stable code (a metric label) and the destination's own words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// Stable, low-cardinality reason, e.g. `http_400`, `encode`, `out_of_order`.
    pub code: &'static str,
    /// Human-readable detail, logged with the output's name.
    pub message: String,
}

impl Rejection {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Rejection {
            code,
            message: message.into(),
        }
    }
}

/// What one attempt to send a request achieved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The destination has every record.
    Delivered,
    /// A transient failure: try again, after `after` if the destination said when.
    Retry {
        after: Option<Duration>,
        reason: String,
    },
    /// The destination refused every record for good.
    Rejected(Rejection),
    /// The destination stored all but `count` records, which it refused for good. It does
    /// not say which, so the driver attributes them to the request's last records.
    PartiallyRejected { count: usize, rejection: Rejection },
}

/// Records an output changed so that its destination would take them (a label past a
/// cardinality limit, a timestamp moved forward, a line cut), counted by reason and exported
/// as `logferry_output_records_adjusted_total{output, reason}`.
#[derive(Debug, Default)]
pub struct Adjustments(Mutex<Vec<(&'static str, u64)>>);

impl Adjustments {
    /// Counts `n` records adjusted for `reason` (a short, stable metric label). Call it once
    /// per request, not per record.
    pub fn add(&self, reason: &'static str, n: u64) {
        if n == 0 {
            return;
        }
        let mut counts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match counts.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, total)) => *total += n,
            None => counts.push((reason, n)),
        }
    }

    /// The counts so far, by reason.
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The count for one reason.
    pub fn get(&self, reason: &str) -> u64 {
        self.snapshot()
            .iter()
            .find(|(r, _)| *r == reason)
            .map_or(0, |(_, n)| *n)
    }
}

/// What a plugin config needs to build its output (no I/O happens in `build`).
#[derive(Clone, Debug)]
pub struct OutputBuildContext {
    /// The output's name (its table key).
    pub name: String,
    /// Where it may keep state: its own `data_dir` or the global one.
    pub data_dir: PathBuf,
    /// Where the output counts the records it adjusted.
    pub adjustments: Arc<Adjustments>,
}

/// A plugin's config: deserialized with unknown keys refused, then built without I/O.
pub trait OutputConfig: serde::de::DeserializeOwned + Send + 'static {
    type Output: Output;
    /// Checks the config and builds the output. Must not touch the network or the disk,
    /// so that `logferry validate` can call it.
    fn build(&self, cx: &OutputBuildContext) -> Result<Self::Output, String>;
}

/// Largest buffer an output keeps from one request for the next (see [`Output::reuse`]): a
/// request of a few huge records should not pin megabytes for good.
pub const MAX_SPARE_BUFFER: usize = 4 << 20;

/// Keeps `buf` as `spare` for the next request if it is larger than the current spare and
/// at most [`MAX_SPARE_BUFFER`]; otherwise `buf` is freed.
pub fn keep_spare(spare: &mut Vec<u8>, buf: Vec<u8>) {
    if buf.capacity() > spare.capacity() && buf.capacity() <= MAX_SPARE_BUFFER {
        *spare = buf;
    }
}

/// A destination.
pub trait Output: Send + 'static {
    /// An encoded request, kept by the driver for retries.
    type Request: Send + Sync + 'static;

    /// How long records may wait for a request to fill up when the config sets no
    /// `batch.max_age`. Network destinations want full requests (1 s); local ones, such as
    /// files, are best written as soon as the output is free, which still batches whatever
    /// arrived during the previous write.
    const DEFAULT_MAX_AGE: Duration = Duration::from_secs(1);

    /// Encodes records into one request. An `Err` rejects all of them for good.
    fn encode(&mut self, records: &Records<'_>) -> Result<Self::Request, Rejection>;

    /// Size of an encoded request in bytes, for the `bytes_sent` metric.
    fn request_bytes(request: &Self::Request) -> usize;

    /// Makes one attempt to deliver `request`.
    fn send(&mut self, request: &Self::Request) -> impl Future<Output = Outcome> + Send;

    /// Takes back a request the driver is done with (delivered, refused or given up), so its
    /// buffers can carry the next one. The default drops it. Reusing a request's buffer keeps
    /// the allocator from committing fresh memory for every request while the last one's
    /// waits to be returned to the system.
    fn reuse(&mut self, request: Self::Request) {
        drop(request);
    }

    /// Another instance of this output for a new lane, or `None` (the default): every record
    /// goes through one lane. Records of different lanes (see [`Output::lane_key`]) are sent
    /// in separate requests, each lane with its own queue, request in flight and backoff, so
    /// a destination that throttles one key (a tenant) does not hold up the others.
    fn lane_output(&self) -> Option<Self>
    where
        Self: Sized,
    {
        None
    }

    /// Writes the lane of `record`, from the input named `input`, into `key` (cleared by the
    /// caller). Called only when [`Output::lane_output`] gives instances.
    fn lane_key(&mut self, record: &LogRecord, input: &str, key: &mut String) {
        let _ = (record, input, key);
    }

    /// Flushes and releases resources; called once after the last request.
    fn shutdown(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }
}
