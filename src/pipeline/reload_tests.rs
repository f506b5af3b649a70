//! The engine across a reload and under one memory limit: only what changed is replaced,
//! nothing in flight is lost, and the budget is shared by every buffer. Time is paused.

use super::testing::{ChannelInput, ScriptedOutput};
use super::tests::{OutputCase, bodies, records, send_acked, settle_time, start, start_limited};
use super::*;
use crate::ack::Delivery;
use crate::batch::Batch;
use crate::input::BuiltInput;

/// `memory_limit` is one budget across outputs: a stalled output that spends it holds back
/// an input feeding another output whose own buffer still has room.
#[tokio::test(start_paused = true)]
async fn the_memory_limit_is_shared_by_every_buffer() {
    let mut stalled = OutputCase::new(vec![0]);
    stalled.stalled = true;
    let budget = std::sync::Arc::new(MemoryBudget::new(256 * 1024));
    let (tx, pipeline, probes) = start_limited(
        2,
        vec![stalled, OutputCase::new(vec![1])],
        Some(budget.clone()),
    );
    // A few hundred bytes per record: 256 KiB is spent after several hundred.
    let feeder = {
        let tx = tx[0].clone();
        tokio::spawn(async move {
            for i in 0..100 {
                tx.send(Batch::new(records(50, &format!("a{i}"))))
                    .await
                    .unwrap();
            }
        })
    };
    settle_time().await;
    assert!(!feeder.is_finished(), "the stalled output took everything");
    let used = budget.used();
    assert!(
        used <= 256 * 1024 + MemoryBudget::charge(50, 50 * 100),
        "{used} bytes held"
    );
    let text = pipeline.telemetry().render_prometheus();
    assert!(
        text.contains("logferry_memory_limit_bytes 262144"),
        "{text}"
    );
    // The other output is free, but the budget is spent: its input waits too.
    let other = send_acked(&tx[1], records(50, "b")).await;
    let mut other = Box::pin(other.wait());
    assert!(
        tokio::time::timeout(std::time::Duration::from_secs(5), &mut other)
            .await
            .is_err(),
        "delivered past the memory limit"
    );
    // Room comes back: everything moves.
    probes[0].gate.as_ref().unwrap().add_permits(10_000);
    assert_eq!(other.await, Delivery::Delivered);
    feeder.await.unwrap();
    drop(tx);
    let mut pipeline = pipeline;
    pipeline.inputs_finished().await;
    let telemetry = pipeline.telemetry();
    assert!(
        pipeline
            .shutdown(std::time::Duration::from_secs(60))
            .await
            .is_empty()
    );
    let snapshot = telemetry.ledger();
    snapshot.check_balance().unwrap();
    assert_eq!(snapshot.route("in0", "out0").unwrap().delivered, 5000);
    assert_eq!(budget.used(), 0, "every byte given back");
}

/// A reload under load: an unchanged input keeps running (its channel never closes), an
/// unchanged output keeps its requests, a changed output is replaced after draining, and a
/// replaced input's successor takes over. Nothing is lost or duplicated, and the ledger
/// balances throughout.
#[tokio::test(start_paused = true)]
async fn a_reload_replaces_only_what_changed_and_loses_nothing() {
    let (tx, mut pipeline, probes) = start(
        2,
        vec![OutputCase::new(vec![0, 1]), OutputCase::new(vec![0])],
    );
    let feeder = {
        let tx = tx[0].clone();
        tokio::spawn(async move {
            let mut acks = Vec::new();
            for i in 0..200 {
                acks.push(send_acked(&tx, records(5, &format!("k{i}"))).await);
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            acks
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    // New config: in0 and out0 unchanged; in1 replaced; out1 replaced, now taking in0 and in1.
    let (tx1_new, input1_new) = ChannelInput::new();
    let (out1_new, probe1_new) = ScriptedOutput::new(Vec::new(), false);
    let inputs = vec![
        InputSpec {
            name: "in0".into(),
            built: BuiltInput::new(ChannelInput::new().1),
        },
        InputSpec {
            name: "in1".into(),
            built: BuiltInput::new(input1_new),
        },
    ];
    let outputs = vec![
        OutputSpec {
            name: "out0".into(),
            built: BuiltOutput::new(ScriptedOutput::new(Vec::new(), false).0),
            takes: vec![0, 1],
            buffer: BufferSettings::default(),
            driver: DriverSettings::default(),
            data_dir: std::env::temp_dir(),
        },
        OutputSpec {
            name: "out1".into(),
            built: BuiltOutput::new(out1_new),
            takes: vec![0, 1],
            buffer: BufferSettings::default(),
            driver: DriverSettings::default(),
            data_dir: std::env::temp_dir(),
        },
    ];
    let keep = Keep {
        inputs: ["in0".to_string()].into(),
        outputs: ["out0".to_string()].into(),
    };
    let report = pipeline
        .reload(inputs, outputs, &keep, std::time::Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(report.inputs_started, ["in1"]);
    assert_eq!(report.outputs_started, ["out1"]);
    assert_eq!(report.outputs_stopped, ["out1"]);
    pipeline.ledger().check_balance().unwrap();
    // The replaced input's successor is live and routed to both outputs.
    send_acked(&tx1_new, records(3, "z")).await.wait().await;

    for ack in feeder.await.unwrap() {
        assert_eq!(ack.wait().await, Delivery::Delivered);
    }
    drop(tx);
    drop(tx1_new);
    let snapshot = pipeline.ledger();
    snapshot.check_balance().unwrap();
    assert!(
        pipeline
            .shutdown(std::time::Duration::from_secs(10))
            .await
            .is_empty()
    );

    let expected: Vec<String> = (0..200)
        .flat_map(|i| bodies(&records(5, &format!("k{i}"))))
        .collect();
    // out0 was never interrupted: every record once, in order.
    let out0: Vec<String> = bodies(&probes[0].all_sent())
        .into_iter()
        .filter(|b| b.starts_with('k'))
        .collect();
    assert_eq!(out0, expected);
    // out1: the old instance up to the switch, the new one after; together, once each.
    let mut out1 = bodies(&probes[1].all_sent());
    let before = out1.len();
    out1.extend(
        bodies(&probe1_new.all_sent())
            .into_iter()
            .filter(|b| b.starts_with('k')),
    );
    assert!(
        before > 0 && before < 1000,
        "the switch happened mid-stream ({before})"
    );
    assert_eq!(out1, expected);
    assert_eq!(
        bodies(&probe1_new.all_sent())
            .iter()
            .filter(|b| b.starts_with('z'))
            .count(),
        3
    );
}
