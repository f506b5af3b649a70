//! The Filebeat-compatible inputs against real clients (installed or built by
//! `tests/peers/beats/setup.sh`): Filebeat 7.17.29 itself, built from its Go module, with
//! `output.elasticsearch` and `output.logstash` (each across a logferry restart); the official
//! Elasticsearch clients for Python (helpers.bulk / streaming_bulk) and Node; and pylogbeat.

use crate::support::{Running, bodies, eventually, ndjson};
use crate::support::{free_port, peers_cache};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/peers/beats")
        .join(name)
}

fn python(name: &str) -> Command {
    let mut cmd = Command::new(peers_cache().join("beats").join("py/bin/python"));
    cmd.arg(script(name));
    cmd
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("spawn peer");
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// logferry with both inputs on fixed ports, appending to `out` (kept across restarts).
fn logferry(dir: &Path, es: u16, beats: u16) -> Running {
    let config = dir.join("logferry.toml");
    std::fs::write(
        &config,
        format!(
            r#"
            data_dir = "{dir}/state"
            [admin]
            listen = "127.0.0.1:0"
            [inputs.es]
            type = "elasticsearch"
            listen = "127.0.0.1:{es}"
            [inputs.beats]
            type = "beats"
            listen = "127.0.0.1:{beats}"
            [outputs.out]
            type = "file"
            inputs = ["es", "beats"]
            path = "{dir}/out.ndjson"
            "#,
            dir = dir.display()
        ),
    )
    .unwrap();
    let mut running = Running::start(&config);
    running.wait_log("Beats listening");
    running
}

fn records(dir: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("out.ndjson")).unwrap_or_default();
    ndjson(&text[..text.rfind('\n').map_or(0, |i| i + 1)])
}

fn wait_records(dir: &Path, n: usize) -> Vec<serde_json::Value> {
    eventually(Duration::from_secs(90), &format!("{n} records"), || {
        let r = records(dir);
        (r.len() >= n).then_some(r)
    })
}

fn attr<'a>(attrs: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
    attrs
        .as_array()
        .and_then(|a| a.iter().find(|kv| kv["key"] == key))
        .map(|kv| &kv["value"])
        .unwrap_or(&serde_json::Value::Null)
}

#[test]
fn the_python_and_node_elasticsearch_clients_bulk_into_logferry() {
    let dir = tempfile::tempdir().unwrap();
    let (es, beats) = (free_port(), free_port());
    let _lf = logferry(dir.path(), es, beats);
    let url = format!("http://127.0.0.1:{es}");
    run(python("bulk.py").args([
        "--url",
        &url,
        "--count",
        "1500",
        "--chunk-size",
        "500",
        "--host-name",
        "py-host",
    ]));
    run(python("bulk.py").args([
        "--url",
        &url,
        "--count",
        "500",
        "--start",
        "1500",
        "--streaming",
        "--index-in-path",
        "--gzip",
        "--index",
        "py-stream",
    ]));
    run(Command::new("node")
        .arg(script("bulk.mjs"))
        .args([
            "--url",
            &url,
            "--count",
            "1000",
            "--start",
            "2000",
            "--index",
            "node-logs",
        ])
        .env("BEATS_NODE_DIR", peers_cache().join("beats").join("node")));
    let records = wait_records(dir.path(), 3000);
    assert_eq!(records.len(), 3000);
    let mut seen: Vec<String> =
        bodies(&std::fs::read_to_string(dir.path().join("out.ndjson")).unwrap());
    seen.sort_by_key(|b| b.trim_start_matches("doc-").parse::<usize>().unwrap());
    let want: Vec<String> = (0..3000).map(|i| format!("doc-{i}")).collect();
    assert_eq!(seen, want);
    for r in &records {
        let i: i64 = r["body"]["stringValue"].as_str().unwrap()[4..]
            .parse()
            .unwrap();
        assert_eq!(attr(&r["attributes"], "n")["intValue"], i.to_string());
        assert!(r["timeUnixNano"].as_str().is_some(), "{r}");
        let index = &attr(&r["attributes"], "elasticsearch.index")["stringValue"];
        match i {
            0..1500 => assert_eq!(
                attr(&r["resource"]["attributes"], "host.name")["stringValue"],
                "py-host"
            ),
            1500..2000 => assert_eq!(index, "py-stream"),
            _ => assert_eq!(index, "node-logs"),
        }
    }
}

#[test]
fn pylogbeat_windows_are_acknowledged_after_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let (es, beats) = (free_port(), free_port());
    let _lf = logferry(dir.path(), es, beats);
    // One connection, sequence numbers running on across windows (pylogbeat's way).
    run(python("beats.py").args([
        "--host",
        "127.0.0.1",
        "--port",
        &beats.to_string(),
        "--count",
        "1000",
        "--batch",
        "100",
    ]));
    run(python("beats.py").args([
        "--host",
        "127.0.0.1",
        "--port",
        &beats.to_string(),
        "--count",
        "300",
        "--start",
        "1000",
        "--batch",
        "100",
        "--fresh-connection",
    ]));
    let records = wait_records(dir.path(), 1300);
    let mut seen = bodies(&std::fs::read_to_string(dir.path().join("out.ndjson")).unwrap());
    seen.sort_by_key(|b| b.trim_start_matches("event-").parse::<usize>().unwrap());
    assert_eq!(
        seen,
        (0..1300).map(|i| format!("event-{i}")).collect::<Vec<_>>()
    );
    assert_eq!(records.len(), 1300);
}

/// Filebeat tails a file into logferry; logferry is stopped and restarted mid-run; every
/// line arrives exactly once with its file path, offset and host.
fn filebeat_across_a_restart(mode: &str) {
    let filebeat = peers_cache()
        .join("beats")
        .join("filebeat-v7.17.29/filebeat");
    assert!(
        filebeat.exists(),
        "{} missing: tests/peers/beats/setup.sh builds it",
        filebeat.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let (es, beats) = (free_port(), free_port());
    let log = dir.path().join("app.log");
    let write_lines = |range: std::ops::Range<usize>| {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        for i in range {
            writeln!(f, "{mode} line {i:05} {}", "x".repeat(80)).unwrap();
        }
    };
    write_lines(0..3000);
    let mut lf = logferry(dir.path(), es, beats);
    let target = match mode {
        "elasticsearch" => format!("http://127.0.0.1:{es}"),
        _ => format!("127.0.0.1:{beats}"),
    };
    let fb_dir = dir.path().join("filebeat");
    let mut fb: Child = Command::new(script("filebeat.sh"))
        .args([
            mode,
            &target,
            log.to_str().unwrap(),
            fb_dir.to_str().unwrap(),
        ])
        .env("FILEBEAT_BIN", &filebeat)
        .env("FILEBEAT_BULK_MAX_SIZE", "200")
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(dir.path().join("filebeat.log")).unwrap(),
        ))
        .spawn()
        .unwrap();
    wait_records(dir.path(), 500);
    // Stop logferry mid-run (clean stop: in-flight requests are answered first).
    let _ = lf.stop_and_collect_logs();
    drop(lf);
    std::thread::sleep(Duration::from_secs(2));
    let _lf = logferry(dir.path(), es, beats);
    write_lines(3000..5000);
    let records = eventually(Duration::from_secs(120), "5000 lines", || {
        let r = records(dir.path());
        (r.len() >= 5000).then_some(r)
    });
    let _ = Command::new("kill").arg(fb.id().to_string()).status();
    let _ = fb.wait();
    let mut lines: Vec<String> = records
        .iter()
        .map(|r| r["body"]["stringValue"].as_str().unwrap().to_string())
        .collect();
    lines.sort();
    let want: Vec<String> = (0..5000)
        .map(|i| format!("{mode} line {i:05} {}", "x".repeat(80)))
        .collect();
    let log_text = std::fs::read_to_string(dir.path().join("filebeat.log")).unwrap_or_default();
    assert_eq!(
        lines.len(),
        5000,
        "duplicates or losses; filebeat log:\n{}",
        &log_text[log_text.len().saturating_sub(3000)..]
    );
    assert_eq!(lines, want);
    for r in &records {
        assert_eq!(
            attr(&r["attributes"], "log.file.path")["stringValue"],
            log.to_str().unwrap()
        );
        assert!(
            attr(&r["attributes"], "log.offset")["intValue"]
                .as_str()
                .is_some()
        );
        assert_eq!(
            attr(&r["resource"]["attributes"], "agent.type")["stringValue"],
            "filebeat"
        );
        assert!(
            attr(&r["resource"]["attributes"], "host.name")["stringValue"]
                .as_str()
                .is_some_and(|h| !h.is_empty())
        );
    }
}

#[test]
fn filebeat_output_elasticsearch_delivers_every_line_once_across_a_restart() {
    filebeat_across_a_restart("elasticsearch");
}

#[test]
fn filebeat_output_logstash_delivers_every_line_once_across_a_restart() {
    filebeat_across_a_restart("logstash");
}
