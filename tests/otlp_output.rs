//! The OTLP output end to end: retries through a destination's bad moments, final
//! rejections, and logferry → logferry chains that lose nothing.

use crate::support::free_port;
use crate::support::otlp::{Capture, Logferry, full_request, grpc_export};
use crate::support::{Running, Setup, eventually, http_get, metric_value};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

/// logferry reading stdin lines into an OTLP output aimed at `endpoint`.
fn stdin_to_otlp(protocol: &str, endpoint: &str, extra: &str) -> (Setup, Running) {
    let batch = if extra.contains("batch") {
        ""
    } else {
        r#"batch = { max_records = 100, max_age = "20ms" }"#
    };
    let setup = Setup::new(&format!(
        r#"
        shutdown_timeout = "20s"
        [admin]
        listen = "127.0.0.1:0"
        [inputs.lines]
        type = "stdin"
        [outputs.otlp]
        type = "otlp"
        inputs = ["lines"]
        protocol = "{protocol}"
        endpoint = "{endpoint}"
        {batch}
        retry = {{ initial_backoff = "20ms", max_backoff = "200ms" }}
        {extra}
        "#
    ));
    let mut running = Running::start(&setup.config);
    running.wait_log("logferry started");
    (setup, running)
}

fn feed(running: &mut Running, lines: impl Iterator<Item = String>) {
    let stdin = running.child.stdin.as_mut().unwrap();
    for line in lines {
        writeln!(stdin, "{line}").unwrap();
    }
    stdin.flush().unwrap();
}

#[test]
fn a_destination_that_fails_for_a_while_loses_nothing() {
    for protocol in ["http/protobuf", "http/json"] {
        // 503 with Retry-After, then 429, then 502, then success.
        let capture = Capture::start(Arc::new(|n| match n {
            0 => (503, vec![("retry-after", "0".into())], b"busy".to_vec()),
            1 => (429, vec![], Vec::new()),
            2 => (502, vec![], Vec::new()),
            _ => (200, vec![], Vec::new()),
        }));
        let endpoint = format!("http://127.0.0.1:{}", capture.port);
        let (_setup, mut running) = stdin_to_otlp(protocol, &endpoint, "");
        feed(&mut running, (0..1000).map(|i| format!("line {i}")));
        // End of input: logferry drains and exits by itself.
        drop(running.child.stdin.take());
        running.wait_log("stopped cleanly");
        let logs = running.seen.clone();
        let bodies = capture.bodies();
        let want: Vec<String> = (0..1000).map(|i| format!("line {i}")).collect();
        let mut got = bodies.clone();
        got.sort_by_key(|b| b[5..].parse::<u32>().unwrap());
        got.dedup();
        assert_eq!(got, want, "{protocol}: {}", logs.join("\n"));
        assert!(
            logs.iter()
                .any(|l| l.contains("will retry") && l.contains("HTTP 503: busy")),
            "{protocol}: the server's words are logged"
        );
    }
}

#[test]
fn a_final_rejection_is_counted_and_not_retried() {
    let capture = Capture::start(Arc::new(|_| {
        (
            400,
            vec![("content-type", "application/json".into())],
            br#"{"code":3,"message":"schema mismatch in field 6"}"#.to_vec(),
        )
    }));
    let endpoint = format!("http://127.0.0.1:{}", capture.port);
    let (_setup, mut running) = stdin_to_otlp("http/protobuf", &endpoint, "");
    let admin = running.admin_address();
    feed(&mut running, (0..10).map(|i| format!("bad {i}")));
    eventually(Duration::from_secs(20), "10 rejected records", || {
        let (_, metrics) = http_get(&admin, "/metrics");
        let name = r#"logferry_records_total{input="lines",output="otlp",outcome="rejected"}"#;
        (metric_value(&metrics, name) == Some(10)).then_some(())
    });
    let line = running.wait_log("destination rejected records for good");
    assert!(line.contains("schema mismatch in field 6"), "{line}");
    assert!(line.contains("http_400"), "{line}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(capture.bodies().is_empty(), "nothing was accepted");
    let requests = capture.requests.lock().unwrap().len();
    assert_eq!(requests, 0, "the 400s were not stored");
    drop(running.child.stdin.take());
    running.stop_and_collect_logs();
}

/// Normalizes what regrouping may change: nothing, for one resource and one scope.
fn records_of(requests: &[ExportLogsServiceRequest]) -> ExportLogsServiceRequest {
    let mut all = requests[0].clone();
    for r in &requests[1..] {
        let more = r.resource_logs[0].scope_logs[0].log_records.clone();
        all.resource_logs[0].scope_logs[0].log_records.extend(more);
    }
    all
}

/// client → logferry A (gRPC in, gRPC out) → logferry B (gRPC in, HTTP out) → capture:
/// every field of every record, resource and scope arrives unchanged, even though B starts
/// after A has begun retrying.
#[test]
fn logferry_to_logferry_is_lossless_and_survives_a_late_receiver() {
    let capture = Capture::start(Arc::new(|_| (200, vec![], Vec::new())));
    let mut a = Logferry::start(
        r#"
        [admin]
        listen = "127.0.0.1:0"
        [inputs.otel]
        type = "otlp"
        grpc = "127.0.0.1:0"
        [outputs.next]
        type = "otlp"
        inputs = ["otel"]
        protocol = "grpc"
        endpoint = "http://127.0.0.1:@PORT@"
        batch = { max_age = "10ms" }
        retry = { initial_backoff = "50ms", max_backoff = "200ms" }
        "#
        .replace("@PORT@", &free_port().to_string())
        .as_str(),
    );
    // B gets the port A is aimed at once A has failed to reach it.
    let b_port: u16 = std::fs::read_to_string(&a.setup.config)
        .unwrap()
        .split("http://127.0.0.1:")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let a_grpc = a.grpc_port();
    let sent = full_request("chain", 50);
    let client = {
        let sent = sent.clone();
        std::thread::spawn(move || grpc_export(a_grpc, sent, true, &[]))
    };
    a.running.wait_log("will retry");
    let _b = Logferry::start(&format!(
        r#"
        [admin]
        listen = "127.0.0.1:0"
        [inputs.otel]
        type = "otlp"
        grpc = "127.0.0.1:{b_port}"
        [outputs.last]
        type = "otlp"
        inputs = ["otel"]
        protocol = "http/protobuf"
        endpoint = "http://127.0.0.1:{}"
        batch = {{ max_age = "10ms" }}
        "#,
        capture.port
    ));
    let answer = client
        .join()
        .unwrap()
        .expect("A answers once B has the records");
    assert_eq!(answer.partial_success, None);
    let requests = eventually(Duration::from_secs(20), "50 records at the capture", || {
        let requests = capture.requests.lock().unwrap().clone();
        let n: usize = requests
            .iter()
            .map(|r| r.resource_logs[0].scope_logs[0].log_records.len())
            .sum();
        (n >= 50).then_some(requests)
    });
    assert_eq!(records_of(&requests), sent);
}

/// `https://` endpoints: logferry → logferry over TLS with a private CA (`tls.ca_file`), for
/// gRPC and HTTP/protobuf, and a client certificate where the receiver requires one.
#[test]
fn tls_destinations_with_a_private_ca_and_client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let certs = crate::support::syslog::certs(dir.path());
    let c = |f: &str| certs.join(f).display().to_string();
    let mut receiver = Logferry::receiver(&format!(
        r#"tls = {{ cert_file = "{}", key_file = "{}", client_ca_file = "{}" }}"#,
        c("server.pem"),
        c("server.key"),
        c("ca.pem")
    ));
    let grpc = crate::support::otlp::port_of(&receiver.running.listening("grpcs://"));
    let http = crate::support::otlp::port_of(&receiver.running.listening("https://"));
    for (protocol, port) in [("grpc", grpc), ("http/protobuf", http)] {
        let (_setup, mut running) = stdin_to_otlp(
            protocol,
            &format!("https://localhost:{port}"),
            &format!(
                r#"tls = {{ ca_file = "{}", cert_file = "{}", key_file = "{}" }}"#,
                c("ca.pem"),
                c("client.pem"),
                c("client.key")
            ),
        );
        feed(&mut running, (0..20).map(|i| format!("{protocol} {i}")));
        drop(running.child.stdin.take());
        running.wait_log("stopped cleanly");
    }
    let records = receiver.records(40);
    for want in ["grpc 19", "http/protobuf 0"] {
        assert!(
            records.iter().any(|r| r["body"]["stringValue"] == want),
            "{want} missing"
        );
    }
}

/// A destination's `partial_success` is reported as that many rejected records.
#[test]
fn partial_success_counts_as_rejected() {
    use prost::Message;
    let capture = Capture::start(Arc::new(|_| {
        let response = opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse {
            partial_success: Some(
                opentelemetry_proto::tonic::collector::logs::v1::ExportLogsPartialSuccess {
                    rejected_log_records: 3,
                    error_message: "3 entries too old".into(),
                },
            ),
        };
        (
            200,
            vec![("content-type", "application/x-protobuf".into())],
            response.encode_to_vec(),
        )
    }));
    let endpoint = format!("http://127.0.0.1:{}", capture.port);
    let (_setup, mut running) = stdin_to_otlp(
        "http/protobuf",
        &endpoint,
        "batch = { max_records = 10, max_age = \"5s\" }",
    );
    let admin = running.admin_address();
    feed(&mut running, (0..10).map(|i| format!("p {i}")));
    let line = eventually(Duration::from_secs(20), "3 rejected, 7 delivered", || {
        let (_, metrics) = http_get(&admin, "/metrics");
        let count = |outcome: &str| {
            let name = format!(
                r#"logferry_records_total{{input="lines",output="otlp",outcome="{outcome}"}}"#
            );
            metric_value(&metrics, &name)
        };
        (count("rejected")? == 3 && count("delivered")? == 7).then(|| metrics.clone())
    });
    assert!(
        line.contains("partial_success"),
        "the reason is counted: {line}"
    );
    drop(running.child.stdin.take());
    running.wait_log("stopped cleanly");
}
