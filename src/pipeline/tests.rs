//! Engine behaviour: fan-out, batching, back-pressure, drops, retries, acknowledgements,
//! shutdown, and the ledger balancing through all of them. Time is paused, never slept.

use super::testing::{ChannelInput, OutputProbe, ScriptedOutput};
use super::*;
use crate::ack::{AckReceiver, AckToken, Delivery};
use crate::batch::Batch;
use crate::config::{ByteSize, HumanDuration};
use crate::input::BuiltInput;
use crate::output::{Outcome, Rejection};
use crate::record::{AnyValue, LogRecord, Str};
use std::sync::atomic::Ordering;
use tokio::sync::mpsc;

pub(super) fn records(n: usize, tag: &str) -> Vec<LogRecord> {
    (0..n)
        .map(|i| LogRecord::new(AnyValue::String(Str::from(format!("{tag}-{i}"))), 1))
        .collect()
}

pub(super) fn bodies(records: &[LogRecord]) -> Vec<String> {
    records
        .iter()
        .map(|r| r.body.as_str().unwrap().to_string())
        .collect()
}

pub(super) struct OutputCase {
    pub(super) script: Vec<Outcome>,
    pub(super) stalled: bool,
    pub(super) takes: Vec<usize>,
    pub(super) buffer: BufferSettings,
    pub(super) driver: DriverSettings,
}

impl OutputCase {
    pub(super) fn new(takes: Vec<usize>) -> Self {
        OutputCase {
            script: Vec::new(),
            stalled: false,
            takes,
            buffer: BufferSettings::default(),
            driver: DriverSettings::default(),
        }
    }
}

pub(super) fn start(
    inputs: usize,
    outputs: Vec<OutputCase>,
) -> (Vec<mpsc::Sender<Batch>>, Pipeline, Vec<OutputProbe>) {
    start_limited(inputs, outputs, None)
}

pub(super) fn start_limited(
    inputs: usize,
    outputs: Vec<OutputCase>,
    budget: Option<std::sync::Arc<MemoryBudget>>,
) -> (Vec<mpsc::Sender<Batch>>, Pipeline, Vec<OutputProbe>) {
    let mut senders = Vec::new();
    let mut input_specs = Vec::new();
    for i in 0..inputs {
        let (tx, input) = ChannelInput::new();
        senders.push(tx);
        input_specs.push(InputSpec {
            name: format!("in{i}"),
            built: BuiltInput::new(input),
        });
    }
    let mut probes = Vec::new();
    let mut output_specs = Vec::new();
    for (i, case) in outputs.into_iter().enumerate() {
        let (output, probe) = ScriptedOutput::new(case.script, case.stalled);
        probes.push(probe);
        output_specs.push(OutputSpec {
            name: format!("out{i}"),
            built: BuiltOutput::new(output),
            takes: case.takes,
            buffer: case.buffer,
            driver: case.driver,
            data_dir: std::env::temp_dir(),
        });
    }
    let pipeline =
        Pipeline::start_limited(input_specs, output_specs, budget).expect("memory buffers open");
    (senders, pipeline, probes)
}

pub(super) async fn send_acked(tx: &mpsc::Sender<Batch>, records: Vec<LogRecord>) -> AckReceiver {
    let (token, rx) = AckToken::new(records.len());
    tx.send(Batch::new(records).with_ack(token)).await.unwrap();
    rx
}

pub(super) fn settle_time() -> tokio::time::Sleep {
    tokio::time::sleep(std::time::Duration::from_secs(5))
}

#[tokio::test(start_paused = true)]
async fn fans_out_every_record_to_every_output_in_order_without_copies() {
    let (tx, pipeline, probes) = start(1, vec![OutputCase::new(vec![0]), OutputCase::new(vec![0])]);
    let acks = vec![
        send_acked(&tx[0], records(3, "a")).await,
        send_acked(&tx[0], records(2, "b")).await,
    ];
    for ack in acks {
        assert_eq!(ack.wait().await, Delivery::Delivered);
    }
    let (a, b) = (probes[0].all_sent(), probes[1].all_sent());
    assert_eq!(bodies(&a), ["a-0", "a-1", "a-2", "b-0", "b-1"]);
    assert_eq!(bodies(&a), bodies(&b));
    // Both outputs saw the same record storage: fan-out shares, it does not copy.
    let ptr = |r: &LogRecord| match &r.body {
        AnyValue::String(s) => s.as_bytes().as_ptr(),
        _ => unreachable!(),
    };
    assert!(a.iter().zip(&b).all(|(x, y)| ptr(x) == ptr(y)));
    drop(tx);
    let snapshot = pipeline.ledger();
    snapshot.check_balance().unwrap();
    assert_eq!(snapshot.route("in0", "out1").unwrap().delivered, 5);
    assert!(
        pipeline
            .shutdown(std::time::Duration::from_secs(1))
            .await
            .is_empty()
    );
}

#[tokio::test(start_paused = true)]
async fn routes_only_the_inputs_an_output_takes() {
    let (tx, pipeline, probes) = start(
        2,
        vec![OutputCase::new(vec![0]), OutputCase::new(vec![0, 1])],
    );
    send_acked(&tx[0], records(1, "x")).await.wait().await;
    send_acked(&tx[1], records(1, "y")).await.wait().await;
    assert_eq!(bodies(&probes[0].all_sent()), ["x-0"]);
    assert_eq!(bodies(&probes[1].all_sent()), ["x-0", "y-0"]);
    assert!(pipeline.ledger().route("in1", "out0").is_none());
    pipeline.ledger().check_balance().unwrap();
}

#[tokio::test(start_paused = true)]
async fn cuts_requests_by_records_and_by_age() {
    let mut case = OutputCase::new(vec![0]);
    case.driver.batch.max_records = 4;
    case.driver.batch.max_age = HumanDuration(std::time::Duration::from_secs(2));
    let (tx, pipeline, probes) = start(1, vec![case]);
    let t0 = tokio::time::Instant::now();
    let ack = send_acked(&tx[0], records(10, "r")).await;
    assert_eq!(ack.wait().await, Delivery::Delivered);
    let sizes: Vec<usize> = probes[0]
        .attempts
        .lock()
        .unwrap()
        .iter()
        .map(Vec::len)
        .collect();
    assert_eq!(sizes, [4, 4, 2]);
    // The last two waited for max_age, not for more records.
    assert!(t0.elapsed() >= std::time::Duration::from_secs(2));
    pipeline.ledger().check_balance().unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_stalled_output_makes_the_input_wait_with_memory_bounded() {
    let mut case = OutputCase::new(vec![0]);
    case.stalled = true;
    case.buffer.max_records = 10;
    let (tx, pipeline, probes) = start(1, vec![case]);
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let feeder = {
        let (tx, sent) = (tx[0].clone(), sent.clone());
        tokio::spawn(async move {
            for i in 0..40 {
                tx.send(Batch::new(records(5, &format!("b{i}"))))
                    .await
                    .unwrap();
                sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        })
    };
    settle_time().await;
    let held = pipeline
        .telemetry()
        .output("out0")
        .unwrap()
        .buffer_records
        .get();
    let sent_while_stalled = sent.load(std::sync::atomic::Ordering::SeqCst);
    assert!(held <= 10, "buffer holds {held} records, limit 10");
    assert!(
        sent_while_stalled < 20,
        "input kept sending ({sent_while_stalled} batches) into a stalled output"
    );
    assert!(!feeder.is_finished());
    pipeline.ledger().check_balance().unwrap();

    probes[0].gate.as_ref().unwrap().add_permits(1000);
    feeder.await.unwrap();
    drop(tx);
    let snapshot = {
        let mut pipeline = pipeline;
        pipeline.inputs_finished().await;
        let telemetry = pipeline.telemetry();
        assert!(
            pipeline
                .shutdown(std::time::Duration::from_secs(60))
                .await
                .is_empty()
        );
        telemetry.ledger()
    };
    snapshot.check_balance().unwrap();
    assert_eq!(snapshot.route("in0", "out0").unwrap().delivered, 200);
    assert_eq!(probes[0].all_sent().len(), 200);
}

#[tokio::test(start_paused = true)]
async fn drop_newest_drops_and_counts_what_does_not_fit() {
    let mut case = OutputCase::new(vec![0]);
    case.stalled = true;
    case.buffer.max_records = 10;
    case.buffer.when_full = WhenFull::DropNewest;
    let (tx, pipeline, probes) = start(1, vec![case]);
    let mut acks = Vec::new();
    for i in 0..5 {
        acks.push(send_acked(&tx[0], records(5, &format!("b{i}"))).await);
    }
    settle_time().await;
    probes[0].gate.as_ref().unwrap().add_permits(100);
    let verdicts: Vec<Delivery> = futures_join(acks).await;
    assert_eq!(verdicts.iter().filter(|d| d.is_delivered()).count(), 2);
    for d in &verdicts[2..] {
        assert!(
            matches!(d, Delivery::Rejected { records: 5, reason } if reason.contains("buffer full")),
            "{d:?}"
        );
    }
    let snapshot = pipeline.ledger();
    snapshot.check_balance().unwrap();
    let route = snapshot.route("in0", "out0").unwrap();
    assert_eq!((route.delivered, route.dropped), (10, 15));
    assert_eq!(route.dropped_by["buffer_full"], 15);
}

async fn futures_join(acks: Vec<AckReceiver>) -> Vec<Delivery> {
    let mut out = Vec::new();
    for ack in acks {
        out.push(ack.wait().await);
    }
    out
}

#[tokio::test(start_paused = true)]
async fn retries_with_backoff_and_honours_the_retry_after_hint() {
    let mut case = OutputCase::new(vec![0]);
    case.script = vec![
        Outcome::Retry {
            after: None,
            reason: "connection refused".into(),
        },
        Outcome::Retry {
            after: Some(std::time::Duration::from_secs(7)),
            reason: "429".into(),
        },
    ];
    case.driver.batch.max_age = HumanDuration(std::time::Duration::ZERO);
    let (tx, pipeline, probes) = start(1, vec![case]);
    let t0 = tokio::time::Instant::now();
    assert_eq!(
        send_acked(&tx[0], records(3, "r")).await.wait().await,
        Delivery::Delivered
    );
    let waited = t0.elapsed();
    let initial = RetrySettings::default().initial_backoff.0;
    assert!(
        waited >= std::time::Duration::from_secs(7) + initial / 2,
        "waited only {waited:?}"
    );
    assert!(
        waited
            <= std::time::Duration::from_secs(7) + initial + std::time::Duration::from_millis(10)
    );
    assert_eq!(probes[0].attempt_count(), 3);
    assert_eq!(
        probes[0].reused.load(Ordering::Relaxed),
        1,
        "the request is handed back once, after its last attempt"
    );
    let metrics = pipeline.telemetry();
    let m = metrics.output("out0").unwrap();
    assert_eq!(
        (m.retries.get(), m.errors.get(), m.requests.get()),
        (2, 2, 1)
    );
    pipeline.ledger().check_balance().unwrap();
}

#[tokio::test(start_paused = true)]
async fn gives_up_after_max_attempts_and_on_timeouts() {
    let mut case = OutputCase::new(vec![0]);
    case.stalled = true; // every send hangs
    case.driver.retry.max_attempts = 2;
    case.driver.request_timeout = HumanDuration(std::time::Duration::from_secs(1));
    let (tx, pipeline, _probes) = start(1, vec![case]);
    let verdict = send_acked(&tx[0], records(4, "r")).await.wait().await;
    assert!(
        matches!(&verdict, Delivery::Rejected { records: 4, reason } if reason.contains("request_timeout")),
        "{verdict:?}"
    );
    let snapshot = pipeline.ledger();
    snapshot.check_balance().unwrap();
    assert_eq!(
        snapshot.route("in0", "out0").unwrap().rejected_by["retries_exhausted"],
        4
    );
}

#[tokio::test(start_paused = true)]
async fn acknowledges_rejections_per_output_and_partial_rejections() {
    let mut rejecting = OutputCase::new(vec![0]);
    rejecting.script = vec![Outcome::Rejected(Rejection::new(
        "http_400",
        "line too long",
    ))];
    let mut partial = OutputCase::new(vec![0]);
    partial.script = vec![Outcome::PartiallyRejected {
        count: 2,
        rejection: Rejection::new("partial", "2 records refused"),
    }];
    let (tx, pipeline, _) = start(1, vec![OutputCase::new(vec![0]), rejecting, partial]);
    let verdict = send_acked(&tx[0], records(5, "r")).await.wait().await;
    // 5 rejected by one output + 2 by another, capped at the batch size.
    assert!(
        matches!(&verdict, Delivery::Rejected { records: 5, .. }),
        "{verdict:?}"
    );
    let snapshot = pipeline.ledger();
    snapshot.check_balance().unwrap();
    let (ok, rej, part) = (
        snapshot.route("in0", "out0").unwrap(),
        snapshot.route("in0", "out1").unwrap(),
        snapshot.route("in0", "out2").unwrap(),
    );
    assert_eq!(ok.delivered, 5);
    assert_eq!((rej.rejected, rej.rejected_by["http_400"]), (5, 5));
    assert_eq!((part.delivered, part.rejected), (3, 2));

    let verdict = send_acked(&tx[0], records(1, "s")).await.wait().await;
    assert_eq!(
        verdict,
        Delivery::Delivered,
        "scripts are used up: all deliver"
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_drains_queued_records_before_the_deadline() {
    let mut case = OutputCase::new(vec![0]);
    case.driver.batch.max_age = HumanDuration(std::time::Duration::from_secs(3600));
    let (tx, pipeline, probes) = start(1, vec![case]);
    let ack = send_acked(&tx[0], records(3, "r")).await;
    settle_time().await;
    assert_eq!(probes[0].attempt_count(), 0, "waiting for max_age");
    let telemetry = pipeline.telemetry();
    assert!(
        pipeline
            .shutdown(std::time::Duration::from_secs(10))
            .await
            .is_empty()
    );
    assert_eq!(ack.wait().await, Delivery::Delivered);
    assert_eq!(
        telemetry.ledger().route("in0", "out0").unwrap().delivered,
        3
    );
}

#[tokio::test(start_paused = true)]
async fn the_shutdown_deadline_drops_and_counts_what_could_not_be_delivered() {
    let mut case = OutputCase::new(vec![0]);
    case.stalled = true;
    case.buffer.max_records = 4;
    case.buffer.max_bytes = ByteSize(1 << 30);
    let (tx, pipeline, _) = start(1, vec![case]);
    let first = send_acked(&tx[0], records(4, "a")).await;
    let second = send_acked(&tx[0], records(4, "b")).await;
    settle_time().await;
    let telemetry = pipeline.telemetry();
    let started = tokio::time::Instant::now();
    assert!(
        pipeline
            .shutdown(std::time::Duration::from_secs(2))
            .await
            .is_empty()
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    for ack in [first, second] {
        // Given up at the deadline: the inputs are told to send these again.
        assert!(matches!(
            ack.wait().await,
            Delivery::Abandoned { records: 4, .. }
        ));
    }
    let snapshot = telemetry.ledger();
    snapshot.check_balance().unwrap();
    let route = snapshot.route("in0", "out0").unwrap();
    assert_eq!((route.dropped_by["shutdown"], route.buffered), (8, 0));
}

/// One topology through every path a record can take, checking the ledger after each step:
/// delivered, rejected, dropped as buffer_full, still buffered, dropped at shutdown.
#[tokio::test(start_paused = true)]
async fn the_ledger_balances_at_every_step_through_every_path() {
    let mut rejecting = OutputCase::new(vec![0]);
    rejecting.script = vec![Outcome::Rejected(Rejection::new("http_400", "bad"))];
    let mut stalled = OutputCase::new(vec![0, 1]);
    stalled.stalled = true;
    stalled.buffer.max_records = 6;
    stalled.buffer.when_full = WhenFull::DropNewest;
    let (tx, pipeline, _) = start(2, vec![OutputCase::new(vec![0]), rejecting, stalled]);
    let telemetry = pipeline.telemetry();
    let check = |step: &str| {
        let snapshot = telemetry.ledger();
        snapshot
            .check_balance()
            .unwrap_or_else(|e| panic!("after {step}: {e}"));
        snapshot
    };

    // The stalled output still holds this batch, so its ack stays open: wait for the others.
    let _pending = send_acked(&tx[0], records(4, "a")).await;
    settle_time().await;
    let s = check("first batch");
    assert_eq!(s.route("in0", "out0").unwrap().delivered, 4);
    assert_eq!(s.route("in0", "out1").unwrap().rejected, 4);
    assert_eq!(s.route("in0", "out2").unwrap().buffered, 4);

    let dropped = send_acked(&tx[1], records(4, "b")).await;
    assert!(!dropped.wait().await.is_delivered());
    let s = check("overflow");
    assert_eq!(s.route("in1", "out2").unwrap().dropped_by["buffer_full"], 4);

    send_acked(&tx[1], records(2, "c")).await;
    settle_time().await;
    let s = check("still buffered");
    assert_eq!(s.route("in1", "out2").unwrap().buffered, 2);

    assert!(
        pipeline
            .shutdown(std::time::Duration::from_secs(1))
            .await
            .is_empty()
    );
    let s = check("shutdown");
    let route = s.route("in0", "out2").unwrap();
    assert_eq!((route.dropped_by["shutdown"], route.buffered), (4, 0));
    let route = s.route("in1", "out2").unwrap();
    assert_eq!((route.dropped, route.buffered), (6, 0));
    assert_eq!(s.received("in0") + s.received("in1"), 10);
}

/// Regression: with a buffer no bigger than a request, a blocked producer used to wait for
/// `max_age` on every request (the queue never reached a full request while one was in
/// flight), turning a 1 s max_age into a 1 s stall per request.
#[tokio::test(start_paused = true)]
async fn a_blocked_producer_does_not_wait_for_max_age() {
    let mut case = OutputCase::new(vec![0]);
    case.buffer.max_records = 10;
    case.driver.batch.max_records = 10;
    case.driver.batch.max_age = HumanDuration(std::time::Duration::from_secs(3600));
    let (tx, pipeline, probes) = start(1, vec![case]);
    let t0 = tokio::time::Instant::now();
    let mut acks = Vec::new();
    for i in 0..20 {
        acks.push(send_acked(&tx[0], records(4, &format!("b{i}"))).await);
    }
    drop(tx);
    let acks = acks.split_off(0);
    let mut verdicts = Vec::new();
    for ack in acks.into_iter().take(18) {
        verdicts.push(ack.wait().await);
    }
    assert!(verdicts.iter().all(Delivery::is_delivered));
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(1),
        "stalled for {:?}",
        t0.elapsed()
    );
    assert!(probes[0].all_sent().len() >= 72);
    pipeline.ledger().check_balance().unwrap();
}

#[tokio::test(start_paused = true)]
async fn records_refused_for_good_go_to_the_dead_letter_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dead.ndjson");
    let mut case = OutputCase::new(vec![0]);
    case.script = vec![
        Outcome::Rejected(Rejection::new("http_400", "bad labels")),
        Outcome::PartiallyRejected {
            count: 1,
            rejection: Rejection::new("too_old", "entry too old"),
        },
    ];
    case.driver.dead_letter = Some(DeadLetterSettings { path: path.clone() });
    let (tx, pipeline, _probes) = start(1, vec![case]);
    let first = send_acked(&tx[0], records(2, "a")).await;
    assert!(matches!(first.wait().await, Delivery::Rejected { .. }));
    let second = send_acked(&tx[0], records(3, "b")).await;
    assert!(matches!(second.wait().await, Delivery::Rejected { .. }));
    let letters: Vec<serde_json::Value> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let seen: Vec<(String, String)> = letters
        .iter()
        .map(|l| {
            (
                l["reason"].as_str().unwrap().to_string(),
                l["record"]["body"]["stringValue"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    let want = [("http_400", "a-0"), ("http_400", "a-1"), ("too_old", "b-2")];
    assert_eq!(
        seen,
        want.map(|(r, b)| (r.to_string(), b.to_string())).to_vec()
    );
    assert_eq!(letters[0]["input"], "in0");
    assert_eq!(letters[0]["output"], "out0");
    let snapshot = pipeline.ledger();
    snapshot.check_balance().unwrap();
    assert_eq!(snapshot.route("in0", "out0").unwrap().rejected, 3);
    assert_eq!(snapshot.route("in0", "out0").unwrap().delivered, 2);
}
