//! The disk buffer from the outside: a destination down while records keep coming (all
//! acknowledged once stored), a restart, a torn segment tail, `logferry buffer verify`, and
//! delivery in order once a destination takes them. Then a full disk, for the disk buffer
//! and for the file output, on a small tmpfs.

use crate::support::numbered::{bulk_send, delivered};
use crate::support::{Running, Setup, bin, eventually, free_port, http_get, metric_value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn config(port: u16, output: &str) -> String {
    format!(
        r#"
        data_dir = "@DIR@/data"
        shutdown_timeout = "1s"
        [admin]
        listen = "127.0.0.1:0"
        [inputs.es]
        type = "elasticsearch"
        listen = "127.0.0.1:{port}"
        [outputs.out]
        inputs = ["es"]
        buffer = {{ type = "disk", max_bytes = "64MiB" }}
        retry = {{ initial_backoff = "50ms", max_backoff = "200ms" }}
        {output}
        "#
    )
}

fn buffer_cli(setup: &Setup, action: &str) -> (bool, String) {
    let out = Command::new(bin())
        .args(["buffer", action, "--config"])
        .arg(&setup.config)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn stores_while_the_destination_is_down_and_delivers_in_order_after_a_restart() {
    let port = free_port();
    let dead = "type = \"otlp\"\nprotocol = \"http/protobuf\"\nendpoint = \"http://127.0.0.1:9\"";
    let setup = Setup::new(&config(port, dead));
    let mut running = Running::start(&setup.config);
    running.listening("http://");
    // The destination refuses connections; every request is still answered 200 once stored.
    for r in 0..50 {
        assert!(
            bulk_send(port, r * 100..(r + 1) * 100),
            "request {r} not accepted"
        );
    }
    let admin = running.admin_address();
    let (_, metrics) = http_get(&admin, "/metrics");
    let on_disk = metric_value(
        &metrics,
        "logferry_output_buffer_disk_bytes{output=\"out\"}",
    );
    assert!(on_disk.unwrap() > 100_000, "{metrics}");
    let logs = running.stop_and_collect_logs();
    // Not delivered, not dropped: still buffered, on disk.
    assert!(
        logs.iter()
            .any(|l| l.contains("final record count") && l.contains("\"buffered\":5000")),
        "{logs:#?}"
    );

    let (ok, report) = buffer_cli(&setup, "verify");
    assert!(ok, "{report}");
    assert!(report.contains("5000 undelivered"), "{report}");

    // A crash tore the end of the newest segment that has entries.
    let dir = setup.path("data/buffers/out");
    let newest = newest_segment_with_entries(&dir);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&newest)
        .unwrap();
    std::io::Write::write_all(&mut file, &[0x40, 0, 0, 0, 1, 2]).unwrap();
    let (ok, report) = buffer_cli(&setup, "verify");
    assert!(!ok, "verify must fail on corruption: {report}");
    assert!(report.contains("CORRUPT"), "{report}");
    let (ok, _) = buffer_cli(&setup, "inspect");
    assert!(ok, "inspect reports corruption but succeeds");

    // The destination is now a file: everything stored arrives, once and in order.
    let file = "type = \"file\"\npath = \"@DIR@/out.ndjson\"";
    std::fs::write(
        &setup.config,
        config(port, file).replace("@DIR@", setup.dir.path().to_str().unwrap()),
    )
    .unwrap();
    let mut running = Running::start(&setup.config);
    running.wait_log("set aside");
    running.wait_log("replaying undelivered records");
    let out = setup.path("out.ndjson");
    let got = eventually(Duration::from_secs(30), "5000 records", || {
        let got = delivered(&out);
        (got.len() >= 5000).then_some(got)
    });
    assert_eq!(got, (0..5000).collect::<Vec<_>>(), "in order, once each");
    running.stop_and_collect_logs();
    let (ok, report) = buffer_cli(&setup, "verify");
    assert!(ok, "{report}");
    assert!(report.contains(" 0 undelivered"), "{report}");
}

fn newest_segment_with_entries(dir: &Path) -> PathBuf {
    let mut segments: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .filter(|p| std::fs::metadata(p).unwrap().len() > 8)
        .collect();
    segments.sort();
    segments.pop().expect("a segment with entries")
}

/// A small tmpfs, unmounted when dropped. Needs root (the test command runs as root; a
/// mount failure fails the test rather than skipping it).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: PathBuf, size: &str) -> Tmpfs {
        std::fs::create_dir_all(&at).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&at)
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mounting a tmpfs at {} failed ({status}); the disk-full tests need root",
            at.display()
        );
        Tmpfs(at)
    }

    /// Fills what is left with a file; removing it frees the space again.
    fn fill(&self) -> PathBuf {
        let path = self.0.join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 4096];
        while std::io::Write::write_all(&mut file, &chunk).is_ok() {}
        // Tail bytes smaller than a chunk.
        while std::io::Write::write_all(&mut file, &[0]).is_ok() {}
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Sends `ids` until accepted (a 429 means "later"), in a thread.
fn send_until_accepted(port: u16, ids: std::ops::Range<usize>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !bulk_send(port, ids.clone()) {
            std::thread::sleep(Duration::from_millis(100));
        }
    })
}

#[test]
fn a_full_disk_holds_the_disk_buffer_back_and_it_recovers_when_space_returns() {
    let port = free_port();
    let file = "type = \"file\"\npath = \"@DIR@/out.ndjson\"";
    let setup = Setup::new(&config(port, file));
    let fs = Tmpfs::mount(setup.path("data"), "2m");
    let mut running = Running::start(&setup.config);
    running.listening("http://");
    assert!(bulk_send(port, 0..100), "accepted while there is room");
    let filler = fs.fill();
    let sender = send_until_accepted(port, 100..1100);
    running.wait_log("disk buffer: cannot write");
    let admin = running.admin_address();
    let errors = || {
        let (_, metrics) = http_get(&admin, "/metrics");
        metric_value(
            &metrics,
            "logferry_output_buffer_write_errors_total{output=\"out\"}",
        )
        .unwrap_or(0)
    };
    eventually(Duration::from_secs(10), "write errors counted", || {
        (errors() >= 2).then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !sender.is_finished(),
        "accepted although nothing could be stored"
    );
    let out = setup.path("out.ndjson");
    assert_eq!(
        delivered(&out).len(),
        100,
        "only what was stored is delivered"
    );

    std::fs::remove_file(filler).unwrap();
    sender.join().unwrap();
    let got = eventually(Duration::from_secs(30), "1100 records", || {
        let got = delivered(&out);
        (got.len() >= 1100).then_some(got)
    });
    assert_eq!(got, (0..1100).collect::<Vec<_>>());
    running.stop_and_collect_logs();
    let (ok, report) = buffer_cli(&setup, "verify");
    assert!(ok, "no corruption after the full disk: {report}");
    drop(fs);
}

#[test]
fn a_full_disk_makes_the_file_output_retry_without_torn_lines() {
    let port = free_port();
    let setup = Setup::new(&format!(
        r#"
        shutdown_timeout = "5s"
        [admin]
        enabled = false
        [inputs.es]
        type = "elasticsearch"
        listen = "127.0.0.1:{port}"
        [outputs.out]
        type = "file"
        inputs = ["es"]
        path = "@DIR@/outfs/out.ndjson"
        retry = {{ initial_backoff = "50ms", max_backoff = "200ms", max_attempts = 0 }}
        "#
    ));
    let fs = Tmpfs::mount(setup.path("outfs"), "1m");
    let mut running = Running::start(&setup.config);
    running.listening("http://");
    assert!(bulk_send(port, 0..100));
    let filler = fs.fill();
    let sender = send_until_accepted(port, 100..600);
    let line = running.wait_log("send failed; will retry");
    assert!(line.contains("No space left on device"), "{line}");
    std::thread::sleep(Duration::from_millis(500));
    assert!(!sender.is_finished(), "acknowledged although not written");

    std::fs::remove_file(filler).unwrap();
    sender.join().unwrap();
    let out = setup.path("outfs/out.ndjson");
    let got = eventually(Duration::from_secs(30), "600 records", || {
        let got = delivered(&out);
        (got.len() >= 600).then_some(got)
    });
    assert_eq!(got, (0..600).collect::<Vec<_>>(), "once each, in order");
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(crate::support::ndjson(&text).len(), 600, "every line whole");
    running.stop_and_collect_logs();
    drop(fs);
}
