//! Operating logferry: the admin endpoints while it runs, and SIGTERM draining.

use crate::support::{Running, Setup, bodies, eventually, http_get, wait_exit};
use std::io::Write;
use std::time::Duration;

fn config() -> Setup {
    Setup::new(
        r#"
        [admin]
        listen = "127.0.0.1:0"
        [inputs.in]
        type = "stdin"
        [outputs.out]
        type = "file"
        inputs = ["in"]
        path = "@DIR@/out.ndjson"
        batch = { max_age = "50ms" }
        [outputs.slow]
        type = "file"
        inputs = ["in"]
        path = "@DIR@/slow.ndjson"
        batch = { max_age = "1h" }
        "#,
    )
}

#[test]
fn admin_endpoints_report_health_metrics_and_a_balanced_ledger() {
    let setup = config();
    let mut running = Running::start(&setup.config);
    let address = running.admin_address();
    running.wait_log("logferry started");
    assert_eq!(http_get(&address, "/health").0, 200);
    assert_eq!(http_get(&address, "/ready").0, 200);

    let mut stdin = running.child.stdin.take().unwrap();
    stdin.write_all(b"one\ntwo\nthree\n").unwrap();
    stdin.flush().unwrap();
    eventually(Duration::from_secs(20), "3 lines in out.ndjson", || {
        let text = std::fs::read_to_string(setup.path("out.ndjson")).ok()?;
        (bodies(&text).len() == 3).then_some(())
    });

    let (status, metrics) = http_get(&address, "/metrics");
    assert_eq!(status, 200);
    for needle in [
        "logferry_input_records_received_total{input=\"in\"} 3",
        "logferry_input_bytes_received_total{input=\"in\"} 14",
        "logferry_records_total{input=\"in\",output=\"out\",outcome=\"delivered\"} 3",
        // The slow output still holds them: counted as buffered, not lost.
        "logferry_records_buffered{input=\"in\",output=\"slow\"} 3",
        "logferry_output_buffer_records{output=\"slow\"} 3",
        "logferry_output_delivery_latency_seconds_count{output=\"out\"} 3",
        "# TYPE logferry_output_delivery_latency_seconds histogram",
    ] {
        assert!(
            metrics.contains(needle),
            "missing {needle:?} in:\n{metrics}"
        );
    }
    let (status, ledger) = http_get(&address, "/ledger");
    assert_eq!(status, 200);
    let ledger: serde_json::Value = serde_json::from_str(&ledger).unwrap();
    assert_eq!(ledger["balanced"], true, "{ledger}");
    assert_eq!(ledger["received"]["in"], 3);

    running.terminate();
    let status = wait_exit(&mut running.child, Duration::from_secs(30));
    assert!(status.success());
    // SIGTERM drained the slow output instead of waiting for its max_age.
    let slow = std::fs::read_to_string(setup.path("slow.ndjson")).unwrap();
    assert_eq!(bodies(&slow), ["one", "two", "three"]);
    drop(stdin);
}

#[test]
fn sigterm_drains_and_exits_zero_while_input_is_still_open() {
    let setup = config();
    let mut running = Running::start(&setup.config);
    running.wait_log("logferry started");
    let mut stdin = running.child.stdin.take().unwrap();
    let lines: Vec<String> = (0..1000).map(|i| format!("l{i}")).collect();
    stdin
        .write_all((lines.join("\n") + "\n").as_bytes())
        .unwrap();
    stdin.flush().unwrap();
    eventually(Duration::from_secs(20), "lines in out.ndjson", || {
        let text = std::fs::read_to_string(setup.path("out.ndjson")).ok()?;
        (bodies(&text).len() == 1000).then_some(())
    });
    running.terminate();
    let status = wait_exit(&mut running.child, Duration::from_secs(30));
    assert!(status.success(), "{status:?}");
    running.wait_log("stopped cleanly");
    let slow = std::fs::read_to_string(setup.path("slow.ndjson")).unwrap();
    assert_eq!(bodies(&slow), lines);
    drop(stdin);
}
