//! The file tailer's test helpers: a logferry tailing `@DIR@/logs/*.log` into NDJSON.

use super::{Running, Setup, eventually, ndjson};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// logferry tailing `@DIR@/logs/*.log` (extra input keys in `extra`) into `out.ndjson`.
pub fn tailer(extra: &str) -> Setup {
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

pub fn start(setup: &Setup) -> Running {
    let mut running = Running::start(&setup.config);
    running.wait_log("logferry started");
    running
}

pub fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// Every body written so far (whole lines only).
pub fn bodies(setup: &Setup) -> Vec<String> {
    let text = std::fs::read_to_string(setup.path("out.ndjson")).unwrap_or_default();
    let whole = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    ndjson(whole)
        .iter()
        .map(|r| r["body"]["stringValue"].as_str().unwrap_or("").to_string())
        .collect()
}

pub fn wait_bodies(setup: &Setup, n: usize) -> Vec<String> {
    eventually(Duration::from_secs(30), &format!("{n} lines"), || {
        let b = bodies(setup);
        (b.len() >= n).then_some(b)
    })
}

pub fn lines(prefix: &str, range: std::ops::Range<usize>) -> String {
    range.map(|i| format!("{prefix} {i}\n")).collect()
}
