//! The disk buffer inside a running pipeline: acknowledged once stored, replayed after a
//! restart, corrupt data set aside, full disks and full buffers holding the input back.
//! Real files and real time (the blocking file work does not mix with paused time).

use super::segment;
use crate::ack::{AckToken, Delivery};
use crate::batch::Batch;
use crate::config::ByteSize;
use crate::input::BuiltInput;
use crate::output::Outcome;
use crate::pipeline::testing::{ChannelInput, OutputProbe, ScriptedOutput};
use crate::pipeline::{
    BufferKind, BufferSettings, BuiltOutput, DriverSettings, Fsync, InputSpec, OutputSpec,
    Pipeline, StartError, WhenFull, disk_buffer_dir,
};
use crate::record::{AnyValue, LogRecord};
use std::path::Path;
use std::time::Duration;
use tokio::sync::mpsc;

fn records(n: usize, tag: &str) -> Vec<LogRecord> {
    (0..n)
        .map(|i| {
            LogRecord::new(
                AnyValue::from(format!("{tag}-{i:05} {}", "x".repeat(100))),
                7,
            )
        })
        .collect()
}

fn bodies(records: &[LogRecord]) -> Vec<String> {
    records
        .iter()
        .map(|r| {
            r.body.as_str().unwrap()[..r.body.as_str().unwrap().find(' ').unwrap()].to_string()
        })
        .collect()
}

fn disk(max_bytes: u64) -> BufferSettings {
    BufferSettings {
        kind: BufferKind::Disk,
        max_bytes: ByteSize(max_bytes),
        fsync: Fsync::Interval,
        ..BufferSettings::default()
    }
}

fn start(
    data_dir: &Path,
    buffer: BufferSettings,
    script: Vec<Outcome>,
    stalled: bool,
) -> Result<(mpsc::Sender<Batch>, Pipeline, OutputProbe), StartError> {
    let (tx, input) = ChannelInput::new();
    let (output, probe) = ScriptedOutput::new(script, stalled);
    let mut driver = DriverSettings::default();
    driver.batch.max_age = crate::config::HumanDuration(Duration::from_millis(20));
    driver.retry.initial_backoff = crate::config::HumanDuration(Duration::from_millis(10));
    driver.retry.max_backoff = crate::config::HumanDuration(Duration::from_millis(50));
    let pipeline = Pipeline::start(
        vec![InputSpec {
            name: "in".into(),
            built: BuiltInput::new(input),
        }],
        vec![OutputSpec {
            name: "out".into(),
            built: BuiltOutput::new(output),
            takes: vec![0],
            buffer,
            driver,
            data_dir: data_dir.to_owned(),
        }],
    )?;
    Ok((tx, pipeline, probe))
}

async fn send(tx: &mpsc::Sender<Batch>, records: Vec<LogRecord>) -> crate::ack::AckReceiver {
    let (token, rx) = AckToken::new(records.len());
    tx.send(Batch::new(records).with_ack(token)).await.unwrap();
    rx
}

async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .unwrap_or_else(|_| panic!("{what}: no result within 10 s"))
}

/// Waits until the output has been sent at least `n` records.
async fn sent_at_least(probe: &OutputProbe, n: usize, what: &str) {
    within(what, async {
        while probe.all_sent().len() < n {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

/// Fills a buffer in `dir` with `batches` batches of 50 whose output never answers, and
/// stops at a short deadline: everything stays on disk.
async fn fill(dir: &Path, batches: usize) {
    let (tx, pipeline, _probe) = start(dir, disk(64 << 20), Vec::new(), true).unwrap();
    for b in 0..batches {
        let ack = send(&tx, records(50, &format!("b{b}"))).await;
        // Acknowledged although the output has sent nothing: it is on disk.
        assert_eq!(within("ack", ack.wait()).await, Delivery::Delivered);
    }
    drop(tx);
    let snapshot = pipeline.ledger();
    snapshot.check_balance().unwrap();
    pipeline.shutdown(Duration::from_millis(200)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledges_once_stored_and_replays_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 4).await;
    let report = super::inspect(&disk_buffer_dir(dir.path(), "out")).unwrap();
    assert!(report.is_clean());
    assert_eq!(report.undelivered(), 200);

    let (tx, pipeline, probe) = start(dir.path(), disk(64 << 20), Vec::new(), false).unwrap();
    let expected: Vec<String> = (0..4)
        .flat_map(|b| bodies(&records(50, &format!("b{b}"))))
        .collect();
    sent_at_least(&probe, 200, "replay").await;
    assert_eq!(bodies(&probe.all_sent()), expected, "replayed in order");
    let snapshot = pipeline.ledger();
    let route = snapshot.route("in", "out").unwrap();
    assert_eq!((route.replayed, route.delivered), (200, 200));
    snapshot.check_balance().unwrap();
    drop(tx);
    pipeline.shutdown(Duration::from_secs(5)).await;

    // Delivered and recorded so: a third start replays nothing.
    let report = super::inspect(&disk_buffer_dir(dir.path(), "out")).unwrap();
    assert_eq!(report.undelivered(), 0, "{}", report.render());
    let (tx, pipeline, probe) = start(dir.path(), disk(64 << 20), Vec::new(), false).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(probe.all_sent().len(), 0);
    assert_eq!(pipeline.ledger().route("in", "out").unwrap().replayed, 0);
    drop(tx);
    pipeline.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_in_order_through_many_segments_and_deletes_them() {
    let dir = tempfile::tempdir().unwrap();
    // 1 MiB buffer: 256 KiB segments, so 30 batches of ~6 KiB each span several.
    let (tx, pipeline, probe) = start(dir.path(), disk(1 << 20), Vec::new(), false).unwrap();
    let mut acks = Vec::new();
    for b in 0..60 {
        acks.push(send(&tx, records(50, &format!("b{b}"))).await);
    }
    for ack in acks {
        assert_eq!(within("ack", ack.wait()).await, Delivery::Delivered);
    }
    sent_at_least(&probe, 3000, "delivery").await;
    let expected: Vec<String> = (0..60)
        .flat_map(|b| bodies(&records(50, &format!("b{b}"))))
        .collect();
    assert_eq!(bodies(&probe.all_sent()), expected);
    drop(tx);
    pipeline.shutdown(Duration::from_secs(5)).await;
    let dir = disk_buffer_dir(dir.path(), "out");
    let report = super::inspect(&dir).unwrap();
    assert_eq!(report.undelivered(), 0);
    assert_eq!(
        report.segments.len(),
        1,
        "delivered segments deleted: {}",
        report.render()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_tail_is_set_aside_and_the_entries_before_it_are_replayed() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 3).await;
    let buffer = disk_buffer_dir(dir.path(), "out");
    let (_, path) = segment::list(&buffer)
        .unwrap()
        .into_iter()
        .find(|(_, p)| std::fs::metadata(p).unwrap().len() > 8)
        .unwrap();
    // A crash in the middle of the third entry: cut it short.
    let len = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - 100)
        .unwrap();
    let report = super::inspect(&buffer).unwrap();
    assert!(!report.is_clean());
    assert_eq!(report.undelivered(), 100);
    assert!(report.render().contains("CORRUPT"), "{}", report.render());

    let (tx, pipeline, probe) = start(dir.path(), disk(64 << 20), Vec::new(), false).unwrap();
    sent_at_least(&probe, 100, "replay").await;
    let expected: Vec<String> = (0..2)
        .flat_map(|b| bodies(&records(50, &format!("b{b}"))))
        .collect();
    assert_eq!(bodies(&probe.all_sent()), expected);
    let telemetry = pipeline.telemetry();
    assert_eq!(telemetry.output("out").unwrap().buffer_corrupt.get(), 1);
    assert!(
        telemetry
            .render_prometheus()
            .contains("logferry_output_buffer_corrupt_total{output=\"out\"} 1")
    );
    drop(tx);
    pipeline.shutdown(Duration::from_secs(5)).await;
    let report = super::inspect(&buffer).unwrap();
    assert!(
        report.is_clean(),
        "cut back to whole entries: {}",
        report.render()
    );
    assert_eq!(report.set_aside.len(), 1, "{}", report.render());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_bit_loses_only_what_follows_it_in_its_segment() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 3).await;
    let buffer = disk_buffer_dir(dir.path(), "out");
    let (_, path) = segment::list(&buffer)
        .unwrap()
        .into_iter()
        .find(|(_, p)| std::fs::metadata(p).unwrap().len() > 8)
        .unwrap();
    let mut data = std::fs::read(&path).unwrap();
    // Inside the second entry's records.
    let third = data.len() / 2;
    data[third] ^= 0x10;
    std::fs::write(&path, &data).unwrap();
    // And a file that is not a segment at all is set aside whole.
    std::fs::write(buffer.join(segment::file_name(999)), b"garbage").unwrap();

    let (tx, pipeline, probe) = start(dir.path(), disk(64 << 20), Vec::new(), false).unwrap();
    sent_at_least(&probe, 50, "replay").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(bodies(&probe.all_sent()), bodies(&records(50, "b0")));
    let snapshot = pipeline.ledger();
    assert_eq!(snapshot.route("in", "out").unwrap().replayed, 50);
    snapshot.check_balance().unwrap();
    assert_eq!(
        pipeline
            .telemetry()
            .output("out")
            .unwrap()
            .buffer_corrupt
            .get(),
        2
    );
    drop(tx);
    pipeline.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_buffer_holds_the_input_back_or_drops_newest_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, pipeline, probe) = start(dir.path(), disk(1 << 20), Vec::new(), true).unwrap();
    // ~6 KiB per batch: 1 MiB holds about 170.
    let mut last = None;
    let mut stored = 0;
    for b in 0..400 {
        let ack = send(&tx, records(50, &format!("b{b}"))).await;
        match tokio::time::timeout(Duration::from_secs(1), ack.wait()).await {
            Ok(d) => {
                assert_eq!(d, Delivery::Delivered);
                stored += 1;
            }
            Err(_) => {
                last = Some(b);
                break;
            }
        }
    }
    assert!(last.is_some(), "the buffer never filled");
    assert!((100..300).contains(&stored), "stored {stored} batches");
    let disk_bytes = pipeline
        .telemetry()
        .output("out")
        .unwrap()
        .buffer_disk_bytes
        .get();
    assert!(disk_bytes <= 1 << 20, "{disk_bytes} bytes on disk");
    // The destination comes back: everything stored, and the held batch, is delivered.
    probe.gate.as_ref().unwrap().add_permits(10_000);
    drop(tx);
    let snapshot = pipeline.ledger();
    snapshot.check_balance().unwrap();
    pipeline.shutdown(Duration::from_secs(10)).await;
    assert_eq!(probe.all_sent().len(), (stored + 1) * 50);

    let dir = tempfile::tempdir().unwrap();
    let dropping = BufferSettings {
        when_full: WhenFull::DropNewest,
        ..disk(1 << 20)
    };
    let (tx, pipeline, _probe) = start(dir.path(), dropping, Vec::new(), true).unwrap();
    let mut rejected = 0;
    for b in 0..400 {
        let ack = send(&tx, records(50, &format!("b{b}"))).await;
        if let Delivery::Rejected { records, .. } = within("ack", ack.wait()).await {
            rejected += records;
        }
    }
    assert!(rejected > 0);
    let snapshot = pipeline.ledger();
    let route = snapshot.route("in", "out").unwrap();
    assert_eq!(route.dropped_by["buffer_full"], rejected);
    snapshot.check_balance().unwrap();
    drop(tx);
    pipeline.shutdown(Duration::from_millis(200)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buffer_in_use_is_refused_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, pipeline, _probe) = start(dir.path(), disk(1 << 20), Vec::new(), false).unwrap();
    let Err(err) = start(dir.path(), disk(1 << 20), Vec::new(), false) else {
        panic!("a second buffer on the same directory opened");
    };
    let text = err.to_string();
    assert!(
        text.contains("is in use (its lock file is held: by another logferry process"),
        "{text}"
    );
    assert!(text.contains("buffers/out"), "{text}");
    drop(tx);
    pipeline.shutdown(Duration::from_secs(5)).await;
    // Released at shutdown.
    let (tx, pipeline, _probe) = start(dir.path(), disk(1 << 20), Vec::new(), false).unwrap();
    drop(tx);
    pipeline.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_records_are_not_replayed_and_retried_ones_arrive_once() {
    let dir = tempfile::tempdir().unwrap();
    let script = vec![
        Outcome::Retry {
            after: None,
            reason: "busy".into(),
        },
        Outcome::Rejected(crate::output::Rejection::new("http_400", "bad")),
    ];
    let (tx, pipeline, probe) = start(dir.path(), disk(1 << 20), script, false).unwrap();
    let first = send(&tx, records(10, "a")).await;
    assert_eq!(within("ack", first.wait()).await, Delivery::Delivered);
    within("verdict", async {
        while pipeline.ledger().route("in", "out").unwrap().rejected < 10 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let second = send(&tx, records(10, "b")).await;
    within("ack", second.wait()).await;
    within("delivery", async {
        while pipeline.ledger().route("in", "out").unwrap().delivered < 10 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    drop(tx);
    pipeline.shutdown(Duration::from_secs(5)).await;
    assert_eq!(probe.attempt_count(), 3);
    let report = super::inspect(&disk_buffer_dir(dir.path(), "out")).unwrap();
    assert_eq!(report.undelivered(), 0, "{}", report.render());
}
