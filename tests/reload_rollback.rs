//! Reloads that fail while they are applied, and signals that arrive during a reload.
//!
//! A new disk buffer that cannot be opened after its predecessor was released (here: a
//! directory where a segment file should be) fails the reload; logferry then goes back to
//! the previous config, which must run and take records again. When the previous config
//! cannot run either, logferry stops with an error instead of running half a config.

use crate::support::{Running, bodies, eventually, http_get, metric_value, wait_exit};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

fn config(admin: u16, port: u16, out: &Path, data_dir: &Path) -> String {
    format!(
        r#"
        shutdown_timeout = "3s"
        [admin]
        listen = "127.0.0.1:{admin}"
        [inputs.syslog]
        type = "syslog"
        listen = ["tcp://127.0.0.1:{port}"]
        [outputs.out]
        type = "file"
        inputs = ["syslog"]
        path = "{}"
        data_dir = "{}"
        buffer = {{ type = "disk", max_bytes = "64MiB" }}
        "#,
        out.display(),
        data_dir.display()
    )
}

/// A directory named as a segment: opening the buffer in `data_dir` fails reading it.
fn break_buffer(data_dir: &Path) {
    let dir = data_dir.join("buffers/out/00000000000000099999.seg");
    std::fs::create_dir_all(dir).unwrap();
}

fn line(message: &str) -> String {
    format!("<13>1 2026-11-29T10:00:00Z host app - - - {message}\n")
}

fn wait_bodies(path: &Path, n: usize) -> Vec<String> {
    eventually(Duration::from_secs(20), "messages in the output", || {
        let got = bodies(&std::fs::read_to_string(path).unwrap_or_default());
        (got.len() >= n).then_some(got)
    })
}

/// `logferry reload --config FILE`: (exit status, what it printed).
fn reload(path: &Path) -> (Option<i32>, String) {
    let out = std::process::Command::new(crate::support::bin())
        .args(["reload", "--config"])
        .arg(path)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

#[test]
fn a_reload_that_fails_while_applied_restores_the_previous_config() {
    let dir = tempfile::tempdir().unwrap();
    let (port, admin) = (crate::support::free_port(), crate::support::free_port());
    let out = dir.path().join("out.ndjson");
    let (good, bad) = (dir.path().join("good"), dir.path().join("bad"));
    let path = dir.path().join("logferry.toml");
    std::fs::write(&path, config(admin, port, &out, &good)).unwrap();
    let mut running = Running::start(&path);
    running.wait_log("syslog listening");
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.write_all(line("before").as_bytes()).unwrap();
    wait_bodies(&out, 1);

    // The new config moves the buffer to a directory whose lock can be had (so the reload
    // starts) but whose segments cannot be read (so the new buffer fails to open).
    break_buffer(&bad);
    std::fs::write(&path, config(admin, port, &out, &bad)).unwrap();
    let (code, text) = reload(&path);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("previous config was restored") && text.contains("read a segment"),
        "{text}"
    );
    running.wait_log("the previous config was restored and runs");

    // The input never stopped: the same connection goes on, and the restored output
    // delivers.
    conn.write_all(line("after").as_bytes()).unwrap();
    assert_eq!(wait_bodies(&out, 2), ["before", "after"]);
    let metrics = http_get(&format!("127.0.0.1:{admin}"), "/metrics").1;
    let failed = metrics
        .lines()
        .find(|l| l.starts_with("logferry_config_reloads_total{outcome=\"failed\"}"));
    assert_eq!(
        failed,
        Some("logferry_config_reloads_total{outcome=\"failed\"} 1")
    );
    assert_eq!(
        metric_value(&metrics, "logferry_config_last_reload_successful"),
        Some(0)
    );
    drop(conn);
    running.terminate();
    let status = wait_exit(&mut running.child, Duration::from_secs(30));
    assert!(status.success(), "{status:?}");
}

#[test]
fn logferry_stops_when_neither_the_new_nor_the_previous_config_can_run() {
    let dir = tempfile::tempdir().unwrap();
    let (port, admin) = (crate::support::free_port(), crate::support::free_port());
    let (a, b) = (dir.path().join("a.ndjson"), dir.path().join("b.ndjson"));
    let data = dir.path().join("data");
    let path = dir.path().join("logferry.toml");
    std::fs::write(&path, config(admin, port, &a, &data)).unwrap();
    let mut running = Running::start(&path);
    running.wait_log("syslog listening");
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.write_all(line("delivered before").as_bytes()).unwrap();
    wait_bodies(&a, 1);

    // The running buffer does not look at its directory again; a successor (and the
    // previous config, on the same directory) must, and fails.
    break_buffer(&data);
    std::fs::write(&path, config(admin, port, &b, &data)).unwrap();
    let (code, text) = reload(&path);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("logferry is stopping"), "{text}");
    running.wait_log("the previous config could not be restored either; stopping");
    let status = wait_exit(&mut running.child, Duration::from_secs(30));
    assert_eq!(status.code(), Some(1), "a failed stop is not a clean one");
    assert_eq!(
        bodies(&std::fs::read_to_string(&a).unwrap()),
        ["delivered before"]
    );
}

/// SIGHUPs that arrive while a reload is being applied are merged into one more reload
/// after it: not lost (the file may have changed again meanwhile), not repeated per signal.
#[test]
fn signals_during_a_reload_merge_into_one_more_reload() {
    let dir = tempfile::tempdir().unwrap();
    let (port, admin) = (crate::support::free_port(), crate::support::free_port());
    let data = dir.path().join("data");
    let path = dir.path().join("logferry.toml");
    // An OTLP output towards a closed port holds its record, so replacing it takes until
    // the drain deadline (3 s): long enough to signal during it.
    let otlp = |endpoint_port: u16| {
        config(admin, port, Path::new("/dev/null"), &data).replace(
            "type = \"file\"",
            &format!(
                "type = \"otlp\"\nprotocol = \"http/protobuf\"\nendpoint = \"http://127.0.0.1:{endpoint_port}\""
            ),
        ).replace("path = \"/dev/null\"", "")
    };
    std::fs::write(&path, otlp(9)).unwrap();
    let mut running = Running::start(&path);
    running.wait_log("syslog listening");
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.write_all(line("held").as_bytes()).unwrap();
    // The old output must hold the record before the reload starts, or replacing it is
    // quick and the signals below each make a reload of their own.
    running.wait_log("send failed; will retry");
    let hup = || {
        let pid = running.child.id().to_string();
        let status = std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap();
        assert!(status.success());
    };
    std::fs::write(&path, otlp(10)).unwrap();
    hup();
    let started = std::time::Instant::now();
    running.wait_log("reload: config valid");
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(50));
        let pid = running.child.id().to_string();
        std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap();
    }
    let address = format!("127.0.0.1:{admin}");
    let applied = |metrics: &str| {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix("logferry_config_reloads_total{outcome=\"applied\"} "))
            .and_then(|v| v.parse::<u64>().ok())
    };
    eventually(Duration::from_secs(20), "two reloads applied", || {
        (applied(&http_get(&address, "/metrics").1) == Some(2)).then_some(())
    });
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "the first reload waited for the drain deadline"
    );
    // No third one follows.
    std::thread::sleep(Duration::from_secs(2));
    let metrics = http_get(&address, "/metrics").1;
    assert_eq!(applied(&metrics), Some(2), "{metrics}");
    drop(conn);
    running.terminate();
    let status = wait_exit(&mut running.child, Duration::from_secs(30));
    assert!(status.success(), "{status:?}");
}
