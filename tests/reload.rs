//! Reloads (SIGHUP, and `logferry reload` through the admin endpoint): a valid config
//! replaces only the components that changed, an unchanged input keeps its connections and
//! nothing in flight is lost; an invalid one is refused with the reason logged, in the
//! metrics and in the reload command's exit status, and the running config keeps working.

use crate::support::{Running, bodies, eventually, http_get, wait_exit};
use std::io::Write;
use std::time::Duration;

fn config(port: u16, out: &std::path::Path) -> String {
    config_with_admin(port, 0, out)
}

fn config_with_admin(port: u16, admin: u16, out: &std::path::Path) -> String {
    format!(
        r#"
        [admin]
        listen = "127.0.0.1:{admin}"
        [inputs.syslog]
        type = "syslog"
        listen = ["tcp://127.0.0.1:{port}"]
        [outputs.out]
        type = "file"
        inputs = ["syslog"]
        path = "{}"
        "#,
        out.display()
    )
}

/// Sends one message, reconnecting as a syslog sender does while the listener restarts.
fn send(port: u16, message: &str) {
    let mut s = eventually(Duration::from_secs(10), "the syslog listener", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
    writeln!(s, "<13>1 2026-11-29T10:00:00Z host app - - - {message}").unwrap();
}

fn wait_body(path: &std::path::Path, message: &str) {
    eventually(Duration::from_secs(20), message, || {
        let text = std::fs::read_to_string(path).ok()?;
        bodies(&text).iter().any(|b| b == message).then_some(())
    });
}

fn hup(running: &Running) {
    let status = std::process::Command::new("kill")
        .args(["-HUP", &running.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn sighup_applies_a_valid_change_and_refuses_an_invalid_one() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (a, b) = (dir.path().join("a.ndjson"), dir.path().join("b.ndjson"));
    let path = dir.path().join("logferry.toml");
    std::fs::write(&path, config(port, &a)).unwrap();
    let mut running = Running::start(&path);
    running.wait_log("syslog listening");
    let admin = running.admin_address();
    send(port, "before any reload");
    wait_body(&a, "before any reload");

    // Invalid: refused with the reason, and the running config keeps working.
    std::fs::write(
        &path,
        config(port, &a).replace("type = \"file\"", "type = \"nope\""),
    )
    .unwrap();
    hup(&running);
    let refused = running.wait_log("reload refused");
    assert!(refused.contains("nope"), "{refused}");
    send(port, "after a refused reload");
    wait_body(&a, "after a refused reload");

    // Valid and changed: the new output takes over once the old pipeline drained.
    std::fs::write(&path, config(port, &b)).unwrap();
    hup(&running);
    running.wait_log("reloaded");
    eventually(Duration::from_secs(10), "ready after the reload", || {
        (http_get(&admin, "/ready").0 == 200).then_some(())
    });
    send(port, "after the reload");
    wait_body(&b, "after the reload");
    let in_a = bodies(&std::fs::read_to_string(&a).unwrap());
    assert_eq!(in_a, ["before any reload", "after a refused reload"]);
    // Counters go on across reloads.
    let metrics = http_get(&admin, "/metrics").1;
    assert!(
        metrics.contains(
            "logferry_records_total{input=\"syslog\",output=\"out\",outcome=\"delivered\"} 3"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("logferry_config_reloads_total{outcome=\"refused\"} 1")
            && metrics.contains("logferry_config_reloads_total{outcome=\"applied\"} 1")
            && metrics.contains("logferry_config_last_reload_successful 1"),
        "{metrics}"
    );

    running.terminate();
    let status = wait_exit(&mut running.child, Duration::from_secs(30));
    assert!(status.success(), "{status:?}");
}

/// Under load: one TCP connection keeps sending through two reloads that replace the output
/// (and one refused reload); the input is unchanged, so the connection is never broken,
/// and every message arrives once, in the old output or the new one.
#[test]
fn a_reload_under_load_keeps_unchanged_inputs_connected_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let port = crate::support::free_port();
    let admin = crate::support::free_port();
    let outs = [dir.path().join("a.ndjson"), dir.path().join("b.ndjson")];
    let path = dir.path().join("logferry.toml");
    std::fs::write(&path, config_with_admin(port, admin, &outs[0])).unwrap();
    let mut running = Running::start(&path);
    running.wait_log("syslog listening");
    let total = 3000;
    let sender = std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        for i in 0..total {
            // A broken connection fails the test: the input must not restart.
            writeln!(s, "<13>1 2026-11-29T10:00:00Z host app - - - m{i:05}").unwrap();
            if i % 50 == 0 {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    });
    let reload = |expect_ok: bool| {
        let out = std::process::Command::new(crate::support::bin())
            .args(["reload", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.success(), expect_ok, "{text}");
        text
    };
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&path, config_with_admin(port, admin, &outs[1])).unwrap();
    let text = reload(true);
    assert!(
        text.contains("outputs started [\"out\"]") && text.contains("inputs started []"),
        "{text}"
    );
    std::thread::sleep(Duration::from_millis(300));
    // Invalid here: the command says so without reaching logferry (exit 78).
    std::fs::write(&path, "[inputs.x]\ntype = \"nope\"\n").unwrap();
    let out = std::process::Command::new(crate::support::bin())
        .args(["reload", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    std::fs::write(&path, config_with_admin(port, admin, &outs[0])).unwrap();
    reload(true);
    sender.join().unwrap();
    let got = eventually(Duration::from_secs(30), "every message", || {
        let mut all: Vec<String> = outs
            .iter()
            .flat_map(|p| bodies(&std::fs::read_to_string(p).unwrap_or_default()))
            .collect();
        all.sort();
        (all.len() >= total).then_some(all)
    });
    let expected: Vec<String> = (0..total).map(|i| format!("m{i:05}")).collect();
    assert_eq!(got, expected, "every message once");
    let in_b = bodies(&std::fs::read_to_string(&outs[1]).unwrap());
    assert!(!in_b.is_empty(), "the replaced output took over");
    running.terminate();
    let status = wait_exit(&mut running.child, Duration::from_secs(30));
    assert!(status.success(), "{status:?}");
}
