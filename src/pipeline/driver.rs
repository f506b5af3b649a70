//! The driver of one output: takes requests from its buffer, encodes, sends with a timeout,
//! retries with backoff, and settles every record (ledger, acknowledgement, latency,
//! buffer room) from one typed verdict. One request is in flight at a time, which keeps
//! each output's records in order.

use crate::batch::{Records, Slice};
use crate::config::HumanDuration;
use crate::ledger::{Ledger, RouteId, Settled};
use crate::metrics::OutputMetrics;
use crate::output::{Adjustments, Outcome, Output, Rejection};
use crate::pipeline::batcher::BatchSettings;
use crate::pipeline::buffer::MemoryBuffer;
use crate::pipeline::dead_letter::{DeadLetterSettings, DeadLetters};
use crate::pipeline::retry::{Backoff, RetrySettings};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Per-output engine settings (the keys every output table accepts besides its own).
#[derive(Clone, Debug, PartialEq)]
pub struct DriverSettings {
    pub batch: BatchSettings,
    pub retry: RetrySettings,
    /// Longest one send attempt may take before it counts as a retryable failure.
    pub request_timeout: HumanDuration,
    /// Where records refused for good are written, if anywhere.
    pub dead_letter: Option<DeadLetterSettings>,
}

/// What a running driver is given.
pub(crate) struct DriverContext {
    pub name: Arc<str>,
    pub buffer: Arc<MemoryBuffer>,
    pub settings: DriverSettings,
    pub ledger: Arc<Ledger>,
    /// `routes[input]`: this output's ledger route for records of that input.
    pub routes: Vec<Option<RouteId>>,
    pub metrics: Arc<OutputMetrics>,
    /// Fires at the shutdown deadline: stop retrying, count what is left as dropped.
    pub hard_stop: CancellationToken,
    pub dead_letters: Option<DeadLetters>,
    /// The records are also in a disk buffer: what is abandoned at the deadline stays there
    /// for the next start instead of being counted as dropped.
    pub durable: bool,
}

type DriverFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A built output, ready to be driven. Dispatch is static inside the driver; this box is
/// opened once, at start.
pub struct BuiltOutput {
    start: Box<dyn FnOnce(DriverContext) -> DriverFuture + Send>,
    default_max_age: Duration,
    pub(crate) adjustments: Arc<Adjustments>,
}

impl BuiltOutput {
    pub fn new<O: Output>(output: O) -> Self {
        BuiltOutput {
            start: Box::new(move |cx| Box::pin(run(output, cx))),
            default_max_age: O::DEFAULT_MAX_AGE,
            adjustments: Arc::default(),
        }
    }

    /// Exports the counts the output keeps in `adjustments` (the build context's).
    pub fn with_adjustments(mut self, adjustments: Arc<Adjustments>) -> Self {
        self.adjustments = adjustments;
        self
    }

    /// The output's `batch.max_age` when the config sets none.
    pub fn default_max_age(&self) -> Duration {
        self.default_max_age
    }

    pub(crate) fn start(self, cx: DriverContext) -> DriverFuture {
        (self.start)(cx)
    }
}

/// The verdict on one request.
pub(super) enum Verdict {
    Delivered,
    Rejected(Rejection),
    Partial(usize, Rejection),
    /// The shutdown deadline passed before delivery.
    Abandoned,
}

async fn run<O: Output>(mut output: O, cx: DriverContext) {
    if let Some(first) = output.lane_output() {
        return super::lanes::run(output, first, cx).await;
    }
    loop {
        let slices = tokio::select! {
            biased;
            _ = cx.hard_stop.cancelled() => break,
            next = cx.buffer.next_request(&cx.settings.batch) => match next {
                Some(slices) => slices,
                None => break,
            },
        };
        let verdict = deliver(&mut output, &slices, &cx).await;
        settle(slices, verdict, &cx);
    }
    abandon_rest(&cx);
    output.shutdown().await;
}

/// At the deadline: stops the buffer and settles what it still queued as abandoned.
pub(super) fn abandon_rest(cx: &DriverContext) {
    let left = cx.buffer.stop();
    if left.is_empty() {
        return;
    }
    let n: usize = left.iter().map(Slice::len).sum();
    if cx.durable {
        tracing::info!(output = %cx.name, records = n, "shutdown deadline passed; undelivered records stay in the disk buffer for the next start");
    } else {
        tracing::warn!(output = %cx.name, records = n, "shutdown deadline passed; dropping undelivered records");
    }
    settle(left, Verdict::Abandoned, cx);
}

pub(super) async fn deliver<O: Output>(
    output: &mut O,
    slices: &[Slice],
    cx: &DriverContext,
) -> Verdict {
    let request = match output.encode(&Records::new(slices)) {
        Ok(request) => request,
        Err(rejection) => return Verdict::Rejected(rejection),
    };
    let verdict = attempt(output, &request, cx).await;
    output.reuse(request);
    verdict
}

/// Sends `request` until it is delivered, refused, out of retries or abandoned at shutdown.
async fn attempt<O: Output>(output: &mut O, request: &O::Request, cx: &DriverContext) -> Verdict {
    let timeout = cx.settings.request_timeout.0;
    let mut backoff = Backoff::new(&cx.settings.retry);
    loop {
        let send = tokio::time::timeout(timeout, output.send(request));
        let outcome = tokio::select! {
            biased;
            _ = cx.hard_stop.cancelled() => return Verdict::Abandoned,
            outcome = send => outcome.unwrap_or_else(|_| Outcome::Retry {
                after: None,
                reason: format!("no answer within request_timeout ({})", cx.settings.request_timeout),
            }),
        };
        let (after, reason) = match outcome {
            Outcome::Delivered => {
                count_sent::<O>(cx, request);
                return Verdict::Delivered;
            }
            Outcome::PartiallyRejected { count, rejection } => {
                count_sent::<O>(cx, request);
                return Verdict::Partial(count, rejection);
            }
            Outcome::Rejected(rejection) => {
                cx.metrics.errors.add(1);
                return Verdict::Rejected(rejection);
            }
            Outcome::Retry { after, reason } => (after, reason),
        };
        cx.metrics.errors.add(1);
        if backoff.fail() {
            return Verdict::Rejected(Rejection::new(
                "retries_exhausted",
                format!("gave up after {} attempts: {reason}", backoff.attempts()),
            ));
        }
        let delay = backoff.delay(after);
        cx.metrics.retries.add(1);
        tracing::warn!(output = %cx.name, attempt = backoff.attempts(), retry_in = ?delay, %reason, "send failed; will retry");
        tokio::select! {
            biased;
            _ = cx.hard_stop.cancelled() => return Verdict::Abandoned,
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

fn count_sent<O: Output>(cx: &DriverContext, request: &O::Request) {
    cx.metrics.requests.add(1);
    cx.metrics.bytes_sent.add(O::request_bytes(request) as u64);
}

/// Applies a verdict to every slice: ledger (one lock), acknowledgements, latency, room.
pub(super) fn settle(slices: Vec<Slice>, verdict: Verdict, cx: &DriverContext) {
    let total: usize = slices.iter().map(Slice::len).sum();
    // With a partial rejection the destination does not say which records it refused; the
    // last `count` are charged, so counts stay exact even if attribution is approximate.
    let mut rejected_left = match &verdict {
        Verdict::Partial(count, _) => (*count).min(total),
        _ => 0,
    };
    if let Verdict::Rejected(r) | Verdict::Partial(_, r) = &verdict {
        tracing::warn!(output = %cx.name, code = r.code, records = if rejected_left > 0 { rejected_left } else { total }, reason = %r.message, "destination rejected records for good");
    }
    let now = tokio::time::Instant::now();
    let mut entries: Vec<(RouteId, u64, Settled)> = Vec::with_capacity(slices.len() + 1);
    let (mut records, mut bytes) = (0, 0);
    for slice in slices.into_iter().rev() {
        let n = slice.len();
        records += n;
        bytes += slice.bytes();
        let route = cx.routes[slice.batch.input].expect("output receives only routed inputs");
        cx.metrics.delivery_latency.observe(
            now.saturating_duration_since(slice.batch.received_at),
            n as u64,
        );
        let (rejected, how) = match &verdict {
            Verdict::Delivered => (0, Settled::Delivered),
            Verdict::Rejected(r) => (n, Settled::Rejected(r.code)),
            Verdict::Abandoned if cx.durable => {
                // Still in the disk buffer, so still buffered; the abandoned verdict keeps
                // the buffer from counting it delivered.
                if let Some(ack) = slice.ack {
                    ack.abandoned(n as u64, "kept in the disk buffer for the next start");
                }
                continue;
            }
            Verdict::Abandoned => (n, Settled::Dropped("shutdown")),
            Verdict::Partial(_, r) => {
                let here = rejected_left.min(n);
                rejected_left -= here;
                if let (Some(letters), true) = (&cx.dead_letters, here > 0) {
                    let refused = &slice.records()[n - here..];
                    letters.write(&cx.name, slice.batch.input_name(), r, false, refused);
                }
                if here > 0 {
                    entries.push((route, here as u64, Settled::Rejected(r.code)));
                }
                entries.push((route, (n - here) as u64, Settled::Delivered));
                if let Some(ack) = slice.ack {
                    ack.rejected(here as u64, &r.message);
                }
                continue;
            }
        };
        if let (Some(letters), Verdict::Rejected(r)) = (&cx.dead_letters, &verdict) {
            letters.write(&cx.name, slice.batch.input_name(), r, true, slice.records());
        }
        entries.push((route, n as u64, how));
        if let Some(ack) = slice.ack {
            match (&verdict, how) {
                (_, Settled::Delivered) => ack.delivered(),
                (Verdict::Rejected(r), _) => ack.rejected(rejected as u64, &r.message),
                _ => ack.abandoned(rejected as u64, "shutdown deadline passed before delivery"),
            }
        }
    }
    cx.ledger.settle(entries);
    cx.buffer.release(records, bytes);
}

impl Default for DriverSettings {
    fn default() -> Self {
        DriverSettings {
            batch: BatchSettings::default(),
            retry: RetrySettings::default(),
            request_timeout: HumanDuration(Duration::from_secs(30)),
            dead_letter: None,
        }
    }
}
