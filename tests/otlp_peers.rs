//! The OTLP input and output against real OpenTelemetry software (installed by
//! `tests/peers/otlp/setup.sh`): the Python SDK (gRPC and HTTP/protobuf), the JS SDK (gRPC,
//! HTTP/JSON, HTTP/protobuf), grpcio with every field set, and the OpenTelemetry Collector
//! built from its Go modules, as a sender to logferry and as logferry's destination.

use crate::support::otlp::{Logferry, peers_dir};
use crate::support::{eventually, ndjson};
use crate::support::{free_port, peers_cache};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn python() -> PathBuf {
    peers_cache().join("otel-py/bin/python")
}

/// Runs a peer sender to completion; it must exit 0.
fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spawn peer");
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn py(script: &str) -> Command {
    let mut cmd = Command::new(python());
    cmd.arg(peers_dir().join(script));
    cmd
}

fn body(r: &serde_json::Value) -> &str {
    r["body"]["stringValue"].as_str().unwrap_or("")
}

fn attr<'a>(attrs: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
    attrs
        .as_array()
        .and_then(|a| a.iter().find(|kv| kv["key"] == key))
        .map(|kv| &kv["value"])
        .unwrap_or(&serde_json::Value::Null)
}

fn wait_port(port: u16) {
    eventually(
        Duration::from_secs(30),
        &format!("port {port} to accept"),
        || std::net::TcpStream::connect(("127.0.0.1", port)).ok(),
    );
}

/// A collector run by `otelcol.sh`, stopped (SIGTERM) when dropped.
struct Collector {
    child: Child,
    dir: tempfile::TempDir,
}

impl Collector {
    /// `otelcol.sh ARGS WORKDIR AFTER`.
    fn start(args: &[&str], after: &[&str], env: &[(&str, String)]) -> Collector {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("bash");
        cmd.arg(peers_dir().join("otelcol.sh"))
            .args(args)
            .arg(dir.path())
            .args(after);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("otelcol.sh");
        Collector { child, dir }
    }

    /// The log records the file exporter wrote, as OTLP/JSON requests.
    fn requests(&self) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(self.dir.path().join("out.json")).unwrap_or_default();
        ndjson(&text[..text.rfind('\n').map_or(0, |i| i + 1)])
    }

    fn wait_records(&self, n: usize) -> Vec<serde_json::Value> {
        eventually(
            Duration::from_secs(30),
            &format!("{n} records at the collector"),
            || {
                let requests = self.requests();
                let count: usize = requests.iter().map(|r| records_in(r).len()).sum();
                (count >= n).then_some(requests)
            },
        )
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("otelcol.log")).unwrap_or_default()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn records_in(request: &serde_json::Value) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for rl in request["resourceLogs"].as_array().into_iter().flatten() {
        for sl in rl["scopeLogs"].as_array().into_iter().flatten() {
            out.extend(sl["logRecords"].as_array().into_iter().flatten().cloned());
        }
    }
    out
}

#[test]
fn python_sdk_over_grpc_and_http() {
    let mut lf = Logferry::receiver("");
    let (grpc, http) = (lf.grpc_port(), lf.http_port());
    run(py("send.py")
        .args([
            "--protocol",
            "grpc",
            "--batch",
            "--count",
            "500",
            "--service",
            "py-grpc",
        ])
        .args(["--endpoint", &format!("http://127.0.0.1:{grpc}")]));
    run(py("send.py")
        .args([
            "--protocol",
            "http",
            "--gzip",
            "--count",
            "300",
            "--service",
            "py-http",
            "--start",
            "500",
        ])
        .args(["--endpoint", &format!("http://127.0.0.1:{http}")]));
    let records = lf.records(800);
    assert_eq!(records.len(), 800);
    for i in [0usize, 499, 500, 799] {
        let r = records
            .iter()
            .find(|r| body(r) == format!("record {i}"))
            .unwrap_or_else(|| panic!("record {i}"));
        let service = if i < 500 { "py-grpc" } else { "py-http" };
        assert_eq!(
            attr(&r["resource"]["attributes"], "service.name")["stringValue"],
            service
        );
        assert_eq!(
            attr(&r["resource"]["attributes"], "telemetry.sdk.language")["stringValue"],
            "python"
        );
        assert_eq!(r["scope"]["name"], "peer.python");
        assert_eq!(r["scope"]["version"], "1.0");
        assert_eq!(attr(&r["attributes"], "i")["intValue"], i.to_string());
        assert_eq!(attr(&r["attributes"], "kind")["stringValue"], "python");
        assert_eq!(attr(&r["attributes"], "ratio")["doubleValue"], 0.5);
        assert_eq!(attr(&r["attributes"], "ok")["boolValue"], true);
        assert_eq!(
            attr(&r["attributes"], "tags")["arrayValue"]["values"][1]["stringValue"],
            "b"
        );
        let severity = r["severityNumber"].as_i64().unwrap();
        assert!(severity == 9 || severity == 17, "{r}");
        assert!(r["observedTimeUnixNano"].as_str().is_some(), "{r}");
    }
}

#[test]
fn javascript_sdk_over_grpc_http_json_and_http_protobuf() {
    let mut lf = Logferry::receiver("");
    let (grpc, http) = (lf.grpc_port(), lf.http_port());
    let node = |protocol: &str, port: u16| {
        run(Command::new("node")
            .arg(peers_dir().join("send.mjs"))
            .args([
                "--protocol",
                protocol,
                "--count",
                "100",
                "--batch",
                "--service",
                protocol,
            ])
            .args(["--endpoint", &format!("http://127.0.0.1:{port}")]));
    };
    node("grpc", grpc);
    node("http-json", http);
    node("http-proto", http);
    let records = lf.records(300);
    for protocol in ["grpc", "http-json", "http-proto"] {
        let mine: Vec<_> = records
            .iter()
            .filter(|r| {
                attr(&r["resource"]["attributes"], "service.name")["stringValue"] == protocol
            })
            .collect();
        assert_eq!(mine.len(), 100, "{protocol}");
        let r = mine
            .iter()
            .find(|r| body(r) == "record 42")
            .expect("record 42");
        assert_eq!(
            attr(&r["attributes"], "i")["intValue"],
            "42",
            "{protocol}: {r}"
        );
        assert_eq!(
            attr(&r["attributes"], "kind")["stringValue"],
            "node",
            "{protocol}"
        );
        assert_eq!(
            attr(&r["resource"]["attributes"], "telemetry.sdk.language")["stringValue"],
            "nodejs"
        );
    }
}

/// What the collector makes of a request is the reference: the same grpcio request sent to
/// the collector directly and through logferry must come out identical.
#[test]
fn through_logferry_the_collector_sees_exactly_what_the_sender_sent() {
    for protocol in ["grpc", "http/protobuf", "http/json"] {
        let (c_grpc, c_http) = (free_port(), free_port());
        let collector = Collector::start(
            &["receive", &c_grpc.to_string(), &c_http.to_string()],
            &[],
            &[],
        );
        wait_port(c_grpc);
        let endpoint = if protocol == "grpc" { c_grpc } else { c_http };
        let mut lf = Logferry::start(&format!(
            r#"
            [admin]
            listen = "127.0.0.1:0"
            [inputs.otel]
            type = "otlp"
            grpc = "127.0.0.1:0"
            [outputs.collector]
            type = "otlp"
            inputs = ["otel"]
            protocol = "{protocol}"
            endpoint = "http://127.0.0.1:{endpoint}"
            batch = {{ max_age = "10ms" }}
            "#
        ));
        let lf_grpc = lf.grpc_port();
        let send = |port: u16, extra: &[&str]| {
            run(py("send_raw.py")
                .args([
                    "--endpoint",
                    &format!("127.0.0.1:{port}"),
                    "--count",
                    "20",
                    "--service",
                    "raw",
                ])
                .args(extra))
        };
        // Direct first, then through logferry: a success answer from logferry means the
        // collector already has the records.
        let answer = send(c_grpc, &["--kvlist-body"]);
        assert!(answer.contains("\"rejected_log_records\": 0"), "{answer}");
        collector.wait_records(20);
        let answer = send(lf_grpc, &["--kvlist-body", "--gzip"]);
        assert!(answer.contains("\"rejected_log_records\": 0"), "{answer}");
        let requests = collector.wait_records(40);
        let mut direct = requests[0].clone();
        let mut relayed: Vec<serde_json::Value> = requests[1..].to_vec();
        // logferry may split the 20 records over several requests; put them back together.
        let mut merged = relayed.remove(0);
        for more in relayed {
            let extra = records_in(&more);
            merged["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
                .as_array_mut()
                .unwrap()
                .extend(extra);
        }
        // Resource entity references (a Development-status field) are not carried.
        direct["resourceLogs"][0]["resource"]
            .as_object_mut()
            .unwrap()
            .remove("entityRefs");
        assert_eq!(
            merged,
            direct,
            "{protocol}: collector log:\n{}",
            collector.log()
        );
        drop(lf);
    }
}

/// The collector's own OTLP exporters (gRPC and HTTP) deliver to logferry's input.
#[test]
fn the_collector_delivers_to_logferry() {
    let mut lf = Logferry::receiver("");
    let (grpc, http) = (lf.grpc_port(), lf.http_port());
    for (mode, endpoint) in [
        ("grpc", format!("127.0.0.1:{grpc}")),
        ("http", format!("http://127.0.0.1:{http}")),
    ] {
        let port = free_port();
        let _collector = Collector::start(
            &["forward", &endpoint],
            &[mode],
            &[
                ("OTELCOL_GRPC_PORT", port.to_string()),
                ("OTELCOL_HTTP_PORT", "off".into()),
            ],
        );
        wait_port(port);
        run(py("send_raw.py").args([
            "--endpoint",
            &format!("127.0.0.1:{port}"),
            "--count",
            "25",
            "--service",
            mode,
        ]));
    }
    let records = lf.records(50);
    for mode in ["grpc", "http"] {
        let mine: Vec<_> = records
            .iter()
            .filter(|r| attr(&r["resource"]["attributes"], "service.name")["stringValue"] == mode)
            .collect();
        assert_eq!(mine.len(), 25, "{mode}");
        let r = mine.iter().find(|r| body(r) == "record 7").unwrap();
        assert_eq!(r["eventName"], "peer.raw.event");
        assert_eq!(r["flags"], 257);
        assert_eq!(r["droppedAttributesCount"], 3);
        assert_eq!(r["scope"]["name"], "peer.raw");
        assert_eq!(r["scope"]["droppedAttributesCount"], 2);
    }
}
