//! The file tailer's delivery promises under stress: `kill -9` restarts, real `logrotate`
//! in every mode, and a stalled destination.

use crate::support::file::{append, bodies, lines, start, tailer, wait_bodies};
use crate::support::{Setup, eventually};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// A writer appends while logferry is killed with SIGKILL and restarted, again and again:
/// no line is lost, and duplicates stay within what was in flight at each kill.
#[test]
fn kill_9_and_restart_lose_nothing() {
    let setup = tailer("");
    let log = setup.path("logs/app.log");
    let total = 6000;
    let writer = {
        let log = log.clone();
        std::thread::spawn(move || {
            for chunk in 0..60 {
                append(&log, &lines("line", chunk * 100..chunk * 100 + 100));
                std::thread::sleep(Duration::from_millis(25));
            }
        })
    };
    for _ in 0..4 {
        let mut running = start(&setup);
        std::thread::sleep(Duration::from_millis(350));
        running.child.kill().unwrap();
        running.child.wait().unwrap();
    }
    writer.join().unwrap();
    let mut running = start(&setup);
    let got = eventually(Duration::from_secs(30), "every line", || {
        let b = bodies(&setup);
        let unique: std::collections::HashSet<&String> = b.iter().collect();
        (unique.len() >= total).then_some(b.clone())
    });
    running.stop_and_collect_logs();
    let unique: std::collections::HashSet<&String> = got.iter().collect();
    assert_eq!(unique.len(), total, "no line lost");
    let duplicates = got.len() - total;
    // At most the lines in flight (unacknowledged: 3072 per file) at each of the 4 kills.
    assert!(duplicates <= 4 * 3072, "{duplicates} duplicates");
    eprintln!(
        "kill -9 x4: {} lines written, {} delivered, {duplicates} duplicates",
        total,
        got.len()
    );
}

fn logrotate_bin() -> &'static str {
    if Path::new("/usr/sbin/logrotate").exists() {
        "/usr/sbin/logrotate"
    } else {
        "logrotate"
    }
}

/// Real logrotate rotates `app.log` every 150 ms while a writer appends 3000 numbered
/// lines: in each mode every line arrives exactly once. (The writer pauses while logrotate
/// runs: in copytruncate modes a line written between logrotate's copy and its truncate is
/// destroyed by logrotate itself, as its manual says, before any reader could see it.)
#[test]
fn logrotate_in_every_mode_loses_and_repeats_nothing() {
    for (mode, directives, reopen) in [
        ("create", "create\nnocompress", true),
        ("create+compress", "create\ncompress", true),
        ("copytruncate", "copytruncate\nnocompress", false),
        (
            "copytruncate+delaycompress",
            "copytruncate\ncompress\ndelaycompress",
            false,
        ),
        ("copytruncate+compress", "copytruncate\ncompress", false),
    ] {
        let setup = tailer("");
        let log = setup.path("logs/app.log");
        append(&log, "");
        let conf = setup.path("logrotate.conf");
        std::fs::write(
            &conf,
            format!(
                "{} {{\n  rotate 1000\n  missingok\n  {directives}\n}}\n",
                log.display()
            ),
        )
        .unwrap();
        let mut running = start(&setup);
        running.wait_log("tailing");
        let total = 3000;
        let pause = std::sync::Arc::new(std::sync::Mutex::new(()));
        let writer = {
            let log = log.clone();
            let pause = std::sync::Arc::clone(&pause);
            std::thread::spawn(move || {
                let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
                for i in 0..total {
                    let guard = pause.lock().unwrap();
                    if reopen {
                        // Like an application that reopens its log for every write.
                        file = std::fs::OpenOptions::new()
                            .create(true)
                            .append(true)
                            .open(&log)
                            .unwrap();
                    }
                    file.write_all(format!("line {i}\n").as_bytes()).unwrap();
                    drop(guard);
                    if i % 10 == 0 {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                }
            })
        };
        let mut rotations = 0;
        while !writer.is_finished() {
            std::thread::sleep(Duration::from_millis(150));
            // The writer waits while logrotate runs: in copytruncate modes a line written
            // between the copy and the truncate would be destroyed by logrotate itself; in
            // create modes a writer re-creating the file between logrotate's rename and its
            // create makes logrotate fail ("File exists").
            let _paused = pause.lock().unwrap();
            let out = std::process::Command::new(logrotate_bin())
                .args(["-f", "-s"])
                .arg(setup.path("logrotate.state"))
                .arg(&conf)
                .output()
                .expect("logrotate");
            assert!(
                out.status.success(),
                "{mode}: logrotate: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            rotations += 1;
        }
        writer.join().unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while std::time::Instant::now() < deadline {
            let b = bodies(&setup);
            let unique: std::collections::HashSet<&String> = b.iter().collect();
            if unique.len() >= total {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(500));
        let logs = running.stop_and_collect_logs();
        let got = bodies(&setup);
        let unique: std::collections::HashSet<&String> = got.iter().collect();
        let missing: Vec<usize> = (0..total)
            .filter(|i| !unique.contains(&format!("line {i}")))
            .collect();
        assert!(
            missing.is_empty() && got.len() == total,
            "{mode}: {rotations} rotations, {} lines out, missing {missing:?}\n{}",
            got.len(),
            logs.iter()
                .filter(|l| l.contains("truncated"))
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
        let want: Vec<String> = (0..total).map(|i| format!("line {i}")).collect();
        let mut sorted = got.clone();
        sorted.sort_by_key(|b| b[5..].parse::<usize>().unwrap());
        assert_eq!(
            sorted, want,
            "{mode}: {rotations} rotations; every line exactly once"
        );
        assert!(rotations >= 3, "{mode}: only {rotations} rotations");
    }
}

/// A destination that is down: the tailer stops advancing (back-pressure), memory stays
/// bounded, and once the destination is back everything arrives.
#[test]
fn a_stalled_output_stops_the_tailer_and_it_catches_up() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let setup = Setup::new(&format!(
        r#"
        data_dir = "@DIR@/state"
        [admin]
        listen = "127.0.0.1:0"
        [inputs.app]
        type = "file"
        include = ["@DIR@/logs/*.log"]
        poll_interval = "20ms"
        checkpoint_interval = "100ms"
        [outputs.next]
        type = "otlp"
        inputs = ["app"]
        endpoint = "http://127.0.0.1:{port}"
        buffer = {{ max_records = 1000 }}
        batch = {{ max_records = 500, max_age = "10ms" }}
        retry = {{ initial_backoff = "50ms", max_backoff = "100ms" }}
        "#
    ));
    std::fs::create_dir_all(setup.path("logs")).unwrap();
    let log = setup.path("logs/app.log");
    append(&log, &lines("line", 0..50_000));
    let mut running = start(&setup);
    let admin = running.admin_address();
    std::thread::sleep(Duration::from_secs(2));
    let (_, metrics) = crate::support::http_get(&admin, "/metrics");
    let received = crate::support::metric_value(&metrics, "logferry_records_buffered").unwrap_or(0);
    // Bounded by the pipeline's queues (a few batches of 2048 lines), far from the 50,000
    // lines the file holds.
    assert!(
        received > 0 && received <= 8 * 2048,
        "held back: {received} records buffered"
    );
    let rss_kb: u64 = std::fs::read_to_string(format!("/proc/{}/status", running.child.id()))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    assert!(rss_kb < 100_000, "RSS {rss_kb} kB while stalled");
    let state = setup.path("state/file-checkpoints-app.json");
    let offset = |s: &Path| -> u64 {
        std::fs::read(s)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v["files"][0]["offset"].as_u64())
            .unwrap_or(0)
    };
    assert_eq!(offset(&state), 0, "nothing delivered, nothing checkpointed");
    // The destination comes back: a logferry with an OTLP input on that port.
    let receiver = Setup::new(&format!(
        r#"
        [admin]
        listen = "127.0.0.1:0"
        [inputs.otel]
        type = "otlp"
        grpc = "127.0.0.1:{port}"
        [outputs.out]
        type = "file"
        inputs = ["otel"]
        path = "@DIR@/out.ndjson"
        "#
    ));
    let mut back = start(&receiver);
    let got = wait_bodies(&receiver, 50_000);
    assert_eq!(got.len(), 50_000);
    eventually(Duration::from_secs(10), "the checkpoint at the end", || {
        (offset(&state) == std::fs::metadata(&log).unwrap().len()).then_some(())
    });
    running.stop_and_collect_logs();
    back.stop_and_collect_logs();
}

/// Lines still undelivered at the shutdown deadline are not checkpointed: after a restart
/// with a working destination they arrive.
#[test]
fn lines_abandoned_at_the_shutdown_deadline_are_read_again() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = |output: &str| {
        format!(
            r#"
            data_dir = "@DIR@/state"
            shutdown_timeout = "1s"
            [admin]
            listen = "127.0.0.1:0"
            [inputs.app]
            type = "file"
            include = ["@DIR@/logs/*.log"]
            poll_interval = "20ms"
            {output}
            "#
        )
    };
    let setup = Setup::new(&config(&format!(
        r#"[outputs.next]
        type = "otlp"
        inputs = ["app"]
        endpoint = "http://127.0.0.1:{dead}"
        retry = {{ initial_backoff = "50ms", max_backoff = "100ms" }}"#
    )));
    std::fs::create_dir_all(setup.path("logs")).unwrap();
    append(&setup.path("logs/app.log"), &lines("line", 0..100));
    let mut running = start(&setup);
    running.wait_log("will retry");
    running.stop_and_collect_logs();
    // Same state directory, a destination that works.
    let again = same_state(&setup, &config(FILE_OUTPUT));
    let mut running = start(&again);
    let got = wait_bodies(&again, 100);
    running.stop_and_collect_logs();
    assert_eq!(got.len(), 100);
}

/// `kill -9` while the tail of a copytruncated file is still being delivered from the copy:
/// after the restart the copy (which no pattern matches) is finished from its checkpoint.
#[test]
fn a_crash_during_copytruncate_recovery_loses_nothing() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = |output: &str| {
        format!(
            r#"
            data_dir = "@DIR@/state"
            [admin]
            listen = "127.0.0.1:0"
            [inputs.app]
            type = "file"
            include = ["@DIR@/logs/app.log"]
            poll_interval = "20ms"
            checkpoint_interval = "50ms"
            {output}
            "#
        )
    };
    let setup = Setup::new(&config(&format!(
        r#"[outputs.next]
        type = "otlp"
        inputs = ["app"]
        endpoint = "http://127.0.0.1:{dead}""#
    )));
    std::fs::create_dir_all(setup.path("logs")).unwrap();
    let log = setup.path("logs/app.log");
    append(&log, &lines("before", 0..200));
    let conf = setup.path("logrotate.conf");
    std::fs::write(
        &conf,
        format!("{} {{\n  rotate 5\n  copytruncate\n}}\n", log.display()),
    )
    .unwrap();
    let mut running = start(&setup);
    running.wait_log("tailing");
    std::thread::sleep(Duration::from_millis(200));
    let out = std::process::Command::new(logrotate_bin())
        .args(["-f", "-s"])
        .arg(setup.path("logrotate.state"))
        .arg(&conf)
        .output()
        .unwrap();
    assert!(out.status.success());
    append(&log, &lines("after", 0..10));
    running.wait_log("reading the rest of a file once");
    std::thread::sleep(Duration::from_millis(300));
    running.child.kill().unwrap();
    running.child.wait().unwrap();
    // Restart with a destination that works, same state.
    let again = same_state(&setup, &config(FILE_OUTPUT));
    let mut running = start(&again);
    let got = wait_bodies(&again, 210);
    running.stop_and_collect_logs();
    let unique: std::collections::HashSet<&String> = got.iter().collect();
    assert_eq!(unique.len(), 210, "{got:?}");
    assert_eq!(got.len(), 210, "nothing twice");
}

/// A file output into the new setup's own directory.
const FILE_OUTPUT: &str = r#"[outputs.out]
            type = "file"
            inputs = ["app"]
            path = "@DIR@/out.ndjson""#;

/// A new setup from `config` that reads `setup`'s logs and keeps its state directory (a
/// restart with another output).
fn same_state(setup: &Setup, config: &str) -> Setup {
    Setup::new(
        &config
            .replace("@DIR@/state", setup.path("state").to_str().unwrap())
            .replace("@DIR@/logs", setup.path("logs").to_str().unwrap()),
    )
}
