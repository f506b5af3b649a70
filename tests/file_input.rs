//! The file tailer end to end: appends, rotation, truncation, restarts (clean and `kill -9`),
//! real `logrotate`, and bad input.

use crate::support::{Running, Setup, eventually, ndjson};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// logferry tailing `@DIR@/logs/*.log` (extra input keys in `extra`) into `out.ndjson`.
fn tailer(extra: &str) -> Setup {
    let setup = Setup::new(&format!(
        r#"
        data_dir = "@DIR@/state"
        shutdown_timeout = "10s"
        [admin]
        listen = "127.0.0.1:0"
        [inputs.app]
        type = "file"
        include = ["@DIR@/logs/*.log"]
        poll_interval = "20ms"
        discovery_interval = "100ms"
        rotate_wait = "300ms"
        checkpoint_interval = "100ms"
        {extra}
        [outputs.out]
        type = "file"
        inputs = ["app"]
        path = "@DIR@/out.ndjson"
        "#
    ));
    std::fs::create_dir_all(setup.path("logs")).unwrap();
    setup
}

fn start(setup: &Setup) -> Running {
    let mut running = Running::start(&setup.config);
    running.wait_log("logferry started");
    running
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// Every body written so far (whole lines only).
fn bodies(setup: &Setup) -> Vec<String> {
    let text = std::fs::read_to_string(setup.path("out.ndjson")).unwrap_or_default();
    let whole = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    ndjson(whole)
        .iter()
        .map(|r| r["body"]["stringValue"].as_str().unwrap_or("").to_string())
        .collect()
}

fn wait_bodies(setup: &Setup, n: usize) -> Vec<String> {
    eventually(Duration::from_secs(30), &format!("{n} lines"), || {
        let b = bodies(setup);
        (b.len() >= n).then_some(b)
    })
}

fn lines(prefix: &str, range: std::ops::Range<usize>) -> String {
    range.map(|i| format!("{prefix} {i}\n")).collect()
}

#[test]
fn appends_rotation_truncation_and_new_files_are_read_once() {
    let setup = tailer("");
    let log = setup.path("logs/app.log");
    append(&log, &lines("one", 0..100));
    let mut running = start(&setup);
    wait_bodies(&setup, 100);
    // Rename-and-create: the old file's last lines, written after the rename, still count.
    append(&log, &lines("one", 100..150));
    let rotated = setup.path("logs/app.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    append(&rotated, &lines("one", 150..160));
    append(&log, &lines("two", 0..50));
    wait_bodies(&setup, 210);
    // Truncation in place (`> file`), then new content.
    std::fs::write(&log, "").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    append(&log, &lines("three", 0..20));
    // A file appearing under the glob; one without a final newline; one excluded by name.
    append(&setup.path("logs/new.log"), &lines("new", 0..10));
    let got = wait_bodies(&setup, 240);
    running.stop_and_collect_logs();
    let mut want: Vec<String> = lines("one", 0..160).lines().map(String::from).collect();
    want.extend(lines("two", 0..50).lines().map(String::from));
    want.extend(lines("three", 0..20).lines().map(String::from));
    want.extend(lines("new", 0..10).lines().map(String::from));
    let (mut got, mut want) = (got, want);
    got.sort();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn records_carry_the_file_and_long_lines_are_split() {
    let setup = tailer(
        r#"max_line_bytes = "100B"
        record_uid = true
        unterminated_line_timeout = "200ms""#,
    );
    let log = setup.path("logs/app.log");
    let long = "x".repeat(250);
    append(&log, &format!("short\r\n{long}\nbad \u{fffd} \n"));
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(b"invalid \xff\xfe bytes\nno newline at the end")
        .unwrap();
    let mut running = start(&setup);
    let got = wait_bodies(&setup, 7);
    running.stop_and_collect_logs();
    assert_eq!(got[0], "short", "CRLF is a line end");
    assert_eq!(got[1..4].concat(), long);
    assert_eq!(got[5], "invalid \u{fffd}\u{fffd} bytes");
    assert_eq!(got[6], "no newline at the end");
    let text = std::fs::read_to_string(setup.path("out.ndjson")).unwrap();
    let records = ndjson(&text);
    let attrs = records[1]["attributes"].to_string();
    assert!(
        attrs.contains(r#""log.truncated","value":{"boolValue":true}"#),
        "{attrs}"
    );
    assert!(attrs.contains("log.record.uid"), "{attrs}");
    let resource = records[0]["resource"]["attributes"].to_string();
    assert!(
        resource.contains(&format!(r#""stringValue":"{}""#, log.display())),
        "{resource}"
    );
    assert!(
        resource.contains(r#""log.file.name","value":{"stringValue":"app.log"}"#),
        "{resource}"
    );
    let uids: std::collections::HashSet<String> = records
        .iter()
        .map(|r| r["attributes"].to_string())
        .collect();
    assert_eq!(uids.len(), records.len(), "every line has its own uid");
}

#[test]
fn read_from_end_skips_what_was_there_but_not_what_comes() {
    let setup = tailer(r#"read_from = "end""#);
    let log = setup.path("logs/app.log");
    append(&log, &lines("old", 0..10));
    let mut running = start(&setup);
    running.wait_log("tailing");
    std::thread::sleep(Duration::from_millis(100));
    append(&log, &lines("new", 0..5));
    let got = wait_bodies(&setup, 5);
    running.stop_and_collect_logs();
    assert!(got.iter().all(|b| b.starts_with("new")), "{got:?}");
}

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
    // At most the lines in flight (unacknowledged) at each of the 4 kills.
    assert!(duplicates <= 4 * 2048, "{duplicates} duplicates");
    eprintln!(
        "kill -9 x4: {} lines written, {} delivered, {duplicates} duplicates",
        total,
        got.len()
    );
}

#[test]
fn a_checkpoint_survives_a_clean_restart_exactly() {
    let setup = tailer("");
    let log = setup.path("logs/app.log");
    append(&log, &lines("a", 0..500));
    let mut running = start(&setup);
    wait_bodies(&setup, 500);
    running.stop_and_collect_logs();
    append(&log, &lines("b", 0..500));
    let mut running = start(&setup);
    let got = wait_bodies(&setup, 1000);
    running.stop_and_collect_logs();
    assert_eq!(got.len(), 1000, "nothing read twice after a clean stop");
    let state: PathBuf = setup.path("state/file-checkpoints-app.json");
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(state).unwrap()).unwrap();
    assert_eq!(
        saved["files"][0]["offset"],
        std::fs::metadata(&log).unwrap().len()
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
/// lines: in each mode every line arrives exactly once. (In copytruncate modes the writer
/// pauses while logrotate runs: a line written between logrotate's copy and its truncate
/// is destroyed by logrotate itself, as its manual says, before any reader could see it.)
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
                    if reopen {
                        // Like an application that reopens its log for every write.
                        file = std::fs::OpenOptions::new()
                            .create(true)
                            .append(true)
                            .open(&log)
                            .unwrap();
                    }
                    let guard = pause.lock().unwrap();
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
            let _paused = (!reopen).then(|| pause.lock().unwrap());
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

/// 5,000 files with `max_open_files = 100`: idle files are closed and the rest get their
/// turn; every line of every file arrives once.
#[test]
fn thousands_of_files_with_few_descriptors() {
    let setup = tailer(
        r#"max_open_files = 100
        close_idle = "100ms""#,
    );
    for f in 0..5000 {
        append(
            &setup.path(&format!("logs/f{f}.log")),
            &format!("f{f} a\nf{f} b\n"),
        );
    }
    let mut running = start(&setup);
    let got = eventually(Duration::from_secs(60), "10,000 lines", || {
        let b = bodies(&setup);
        (b.len() >= 10_000).then_some(b)
    });
    // Files grow again after being closed: they are reopened at their position.
    for f in [0, 2500, 4999] {
        append(&setup.path(&format!("logs/f{f}.log")), &format!("f{f} c\n"));
    }
    let got_more = wait_bodies(&setup, 10_003);
    running.stop_and_collect_logs();
    let unique: std::collections::HashSet<&String> = got_more.iter().collect();
    assert_eq!(
        (got.len(), unique.len(), got_more.len()),
        (10_000, 10_003, 10_003)
    );
}

/// Binary garbage: NULs, invalid UTF-8, a 200 KB line without a newline between newlines.
#[test]
fn binary_garbage_is_kept_visibly_and_nothing_else_is_lost() {
    let setup = tailer(r#"max_line_bytes = "64KiB""#);
    let log = setup.path("logs/app.log");
    let mut data = b"before\n".to_vec();
    let mut x: u32 = 12345;
    for _ in 0..200_000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let b = (x & 0xff) as u8;
        data.push(if b == b'\n' { 0 } else { b });
    }
    data.extend_from_slice(b"\nafter\n");
    std::fs::write(&log, &data).unwrap();
    let mut running = start(&setup);
    let got = eventually(
        Duration::from_secs(30),
        "the line after the garbage",
        || {
            let b = bodies(&setup);
            b.iter().any(|l| l == "after").then_some(b)
        },
    );
    running.stop_and_collect_logs();
    assert_eq!(got.first().map(String::as_str), Some("before"));
    assert_eq!(got.last().map(String::as_str), Some("after"));
    // 200,000 bytes in pieces of at most 64 KiB, marked truncated, invalid bytes replaced.
    assert_eq!(got.len(), 2 + 4, "{} pieces", got.len() - 2);
    assert!(got[1].contains('\u{fffd}'));
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
    let received: u64 = metrics
        .lines()
        .find(|l| l.starts_with("logferry_records_total") && l.contains("outcome=\"buffered\""))
        .or_else(|| {
            metrics
                .lines()
                .find(|l| l.starts_with("logferry_records_buffered"))
        })
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0);
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

/// Stack traces become one record each, the last group is emitted after the timeout, and a
/// restart inside a group re-reads the whole group rather than half of it.
#[test]
fn multiline_groups_stack_traces() {
    let setup = tailer(r#"multiline = { start = "^\\d{4}-\\d{2}-\\d{2} ", timeout = "300ms" }"#);
    let log = setup.path("logs/app.log");
    append(
        &log,
        "2026-11-29 ERROR boom\njava.lang.IllegalStateException: x\n\tat a.B.c(B.java:1)\n\tat a.B.d(B.java:2)\n2026-11-29 INFO fine\n",
    );
    let mut running = start(&setup);
    let got = wait_bodies(&setup, 2);
    running.stop_and_collect_logs();
    assert_eq!(
        got,
        [
            "2026-11-29 ERROR boom\njava.lang.IllegalStateException: x\n\tat a.B.c(B.java:1)\n\tat a.B.d(B.java:2)",
            "2026-11-29 INFO fine"
        ]
    );
    // The checkpoint covers only whole groups: the open one was emitted by its timeout.
    append(&log, "2026-11-29 WARN next\n  detail\n");
    let mut running = start(&setup);
    let got = wait_bodies(&setup, 3);
    running.stop_and_collect_logs();
    assert_eq!(got[2], "2026-11-29 WARN next\n  detail");
}

/// With polling every 30 s, inotify still brings new lines and new files in at once.
#[test]
fn inotify_wakes_the_tailer_long_before_the_next_poll() {
    let setup = Setup::new(
        r#"
        data_dir = "@DIR@/state"
        [admin]
        listen = "127.0.0.1:0"
        [inputs.app]
        type = "file"
        include = ["@DIR@/logs/*.log"]
        poll_interval = "30s"
        discovery_interval = "30s"
        [outputs.out]
        type = "file"
        inputs = ["app"]
        path = "@DIR@/out.ndjson"
        "#,
    );
    std::fs::create_dir_all(setup.path("logs")).unwrap();
    let log = setup.path("logs/app.log");
    append(&log, "first\n");
    let mut running = start(&setup);
    wait_bodies(&setup, 1);
    let started = std::time::Instant::now();
    append(&log, "second\n");
    append(&setup.path("logs/new.log"), "in a new file\n");
    eventually(Duration::from_secs(10), "both lines", || {
        let b = bodies(&setup);
        (b.len() >= 3).then_some(())
    });
    assert!(started.elapsed() < Duration::from_secs(10));
    running.stop_and_collect_logs();
}
