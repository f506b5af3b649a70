//! The file tailer end to end: appends, rotation, truncation, restarts, long lines, many
//! files, bad input, multiline and wake-ups.

use crate::support::file::{append, bodies, lines, start, tailer, wait_bodies};
use crate::support::{Setup, eventually, ndjson};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

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

/// `read_gzip`: compressed files are read once; a rotation compressed after its lines were
/// read is recognized by its content and not read again.
#[test]
fn compressed_files_are_read_once() {
    use flate2::{Compression, write::GzEncoder};
    let setup = Setup::new(
        r#"
        data_dir = "@DIR@/state"
        [admin]
        listen = "127.0.0.1:0"
        [inputs.app]
        type = "file"
        include = ["@DIR@/logs/*.log", "@DIR@/logs/*.gz"]
        read_gzip = true
        poll_interval = "20ms"
        discovery_interval = "100ms"
        rotate_wait = "200ms"
        checkpoint_interval = "100ms"
        [outputs.out]
        type = "file"
        inputs = ["app"]
        path = "@DIR@/out.ndjson"
        "#,
    );
    std::fs::create_dir_all(setup.path("logs")).unwrap();
    let gz = |path: &std::path::Path, text: &str| {
        let mut e = GzEncoder::new(std::fs::File::create(path).unwrap(), Compression::fast());
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap();
    };
    gz(&setup.path("logs/old.log.gz"), &lines("old", 0..300));
    let log = setup.path("logs/app.log");
    append(&log, &lines("app", 0..50));
    let mut running = start(&setup);
    wait_bodies(&setup, 350);
    // app.log is rotated and compressed: the same lines, now in app.log.1.gz.
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::remove_file(&log).unwrap();
    gz(&setup.path("logs/app.log.1.gz"), &text);
    append(&log, &lines("new", 0..5));
    let got = wait_bodies(&setup, 355);
    std::thread::sleep(Duration::from_millis(500));
    let logs = running.stop_and_collect_logs();
    let got_after = bodies(&setup);
    assert_eq!(
        got_after.len(),
        355,
        "nothing read twice: {:?}\n{}",
        &got_after[got.len().min(got_after.len())..],
        logs.join("\n")
    );
    // And after a restart, nothing again.
    let mut running = start(&setup);
    std::thread::sleep(Duration::from_millis(500));
    running.stop_and_collect_logs();
    assert_eq!(bodies(&setup).len(), 355);
}

/// A symlinked path is followed to its file; replacing the link's target is a rotation.
#[test]
fn symlinked_paths_follow_their_target() {
    let setup = tailer("");
    let real = setup.path("real-1.txt");
    append(&real, &lines("one", 0..3));
    std::os::unix::fs::symlink(&real, setup.path("logs/app.log")).unwrap();
    let mut running = start(&setup);
    wait_bodies(&setup, 3);
    append(&real, &lines("one", 3..5));
    wait_bodies(&setup, 5);
    // Point the link at a new file, as some deployment tools do on rotation.
    let next = setup.path("real-2.txt");
    append(&next, &lines("two", 0..4));
    let tmp = setup.path("logs/app.log.tmp");
    std::os::unix::fs::symlink(&next, &tmp).unwrap();
    std::fs::rename(&tmp, setup.path("logs/app.log")).unwrap();
    let got = wait_bodies(&setup, 9);
    running.stop_and_collect_logs();
    let mut want: Vec<String> = lines("one", 0..5).lines().map(String::from).collect();
    want.extend(lines("two", 0..4).lines().map(String::from));
    assert_eq!(got, want);
}

/// `log.record.uid` is the same for a line read again after a lost checkpoint, even when the
/// file was still shorter than the fingerprint when it was first read.
#[test]
fn record_uids_are_stable_across_a_re_read() {
    let setup = tailer("record_uid = true");
    let log = setup.path("logs/app.log");
    append(&log, "a\nb\n");
    let uids = |setup: &crate::support::Setup| -> Vec<(String, String)> {
        let text = std::fs::read_to_string(setup.path("out.ndjson")).unwrap();
        ndjson(&text)
            .iter()
            .map(|r| {
                let uid = r["attributes"]
                    .as_array()
                    .and_then(|a| a.iter().find(|kv| kv["key"] == "log.record.uid"))
                    .map(|kv| kv["value"]["stringValue"].as_str().unwrap().to_string())
                    .unwrap();
                (r["body"]["stringValue"].as_str().unwrap().to_string(), uid)
            })
            .collect()
    };
    let mut running = start(&setup);
    wait_bodies(&setup, 2);
    running.stop_and_collect_logs();
    let first = uids(&setup);
    // The checkpoint is lost (as in a crash before it was written); the file has grown.
    std::fs::remove_dir_all(setup.path("state")).unwrap();
    append(&log, "c\n");
    let mut running = start(&setup);
    wait_bodies(&setup, 5);
    running.stop_and_collect_logs();
    let second = uids(&setup);
    assert_eq!(
        &second[2..4],
        &first[..],
        "a and b read again keep their uids"
    );
    assert_ne!(second[4].1, second[3].1);
}

/// `ignore_older`: files not modified for longer are left alone; fresh ones are read.
#[test]
fn ignore_older_leaves_old_files_alone() {
    let setup = tailer(r#"ignore_older = "1h""#);
    append(&setup.path("logs/old.log"), "stale\n");
    let status = std::process::Command::new("touch")
        .args(["-d", "2 days ago"])
        .arg(setup.path("logs/old.log"))
        .status()
        .unwrap();
    assert!(status.success());
    append(&setup.path("logs/fresh.log"), "fresh\n");
    let mut running = start(&setup);
    wait_bodies(&setup, 1);
    std::thread::sleep(Duration::from_millis(300));
    running.stop_and_collect_logs();
    assert_eq!(bodies(&setup), ["fresh"]);
}
