//! SIGHUP reloads the config file: a valid config replaces the running pipeline once its
//! outputs drained; an invalid one is refused with the reason logged and the running
//! config keeps working.

use crate::support::{Running, bodies, eventually, http_get, wait_exit};
use std::io::Write;
use std::time::Duration;

fn config(port: u16, out: &std::path::Path) -> String {
    format!(
        r#"
        [admin]
        listen = "127.0.0.1:0"
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
    let metrics = http_get(&admin, "/metrics").1;
    assert!(
        metrics.contains(
            "logferry_records_total{input=\"syslog\",output=\"out\",outcome=\"delivered\"} 1"
        ),
        "{metrics}"
    );

    running.terminate();
    let status = wait_exit(&mut running.child, Duration::from_secs(30));
    assert!(status.success(), "{status:?}");
}
