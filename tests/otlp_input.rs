//! The OTLP input end to end: every transport and encoding, acknowledgements, overload,
//! bad input, authentication and TLS.

use crate::support::otlp::{Capture, Logferry, full_request, grpc_export, grpc_raw, post};
use crate::support::{eventually, http_get, metric_value, syslog::certs};
use prost::Message;
use std::sync::Arc;
use std::time::Duration;

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

fn body(r: &serde_json::Value) -> &str {
    r["body"]["stringValue"].as_str().unwrap_or("")
}

#[test]
fn grpc_and_http_protobuf_and_json_arrive_with_every_field() {
    let mut lf = Logferry::receiver("");
    let (grpc, http) = (lf.grpc_port(), lf.http_port());

    let ok = grpc_export(grpc, full_request("grpc", 3), false, &[]).unwrap();
    assert_eq!(ok.partial_success, None);
    grpc_export(grpc, full_request("grpc-gzip", 3), true, &[]).unwrap();
    let proto = full_request("proto", 3).encode_to_vec();
    let answer = post(
        http,
        &[("content-type", "application/x-protobuf")],
        proto.clone(),
    );
    assert_eq!(answer.status, 200);
    assert_eq!(answer.headers["content-type"], "application/x-protobuf");
    let answer = post(
        http,
        &[
            ("content-type", "application/x-protobuf"),
            ("content-encoding", "gzip"),
        ],
        gzip(&proto),
    );
    assert_eq!(answer.status, 200);
    let json = serde_json::to_vec(&full_request("json", 3)).unwrap();
    let answer = post(http, &[("content-type", "application/json")], json.clone());
    assert_eq!((answer.status, answer.json()), (200, serde_json::json!({})));
    let answer = post(
        http,
        &[
            ("content-type", "application/json; charset=utf-8"),
            ("content-encoding", "gzip"),
        ],
        gzip(&json),
    );
    assert_eq!(answer.status, 200);

    let records = lf.records(18);
    for tag in ["grpc", "grpc-gzip", "proto", "json"] {
        for i in 0..3 {
            let want = format!("{tag} {i}");
            assert!(records.iter().any(|r| body(r) == want), "missing {want}");
        }
    }
    // Every field as sent (the file output writes the record as OTLP/JSON).
    let r = records.iter().find(|r| body(r) == "json 2").unwrap();
    assert_eq!(r["timeUnixNano"], "1700000000000000002");
    assert_eq!(r["observedTimeUnixNano"], "1700000000500000002");
    assert_eq!(r["severityNumber"], 17);
    assert_eq!(r["severityText"], "ERROR");
    assert_eq!(r["traceId"], "0102030405060708090a0b0c0d0e0f10");
    assert_eq!(r["spanId"], "0102030405060708");
    assert_eq!(r["flags"], 1);
    assert_eq!(r["eventName"], "test.event");
    assert_eq!(r["droppedAttributesCount"], 2);
    let attrs = r["attributes"].to_string();
    for piece in [
        r#"{"key":"i","value":{"intValue":"2"}}"#,
        r#"{"key":"pi","value":{"doubleValue":3.25}}"#,
        r#"{"key":"raw","value":{"bytesValue":"AJ//"}}"#,
        r#""nested","value":{"stringValue":"Ω"}"#,
    ] {
        assert!(attrs.contains(piece), "{piece} not in {attrs}");
    }
    assert_eq!(
        r["resource"]["attributes"][0]["value"]["stringValue"],
        "json"
    );
    assert_eq!(r["scope"]["name"], "test.scope");
}

#[test]
fn bad_requests_get_clear_errors_and_good_ones_still_arrive() {
    let mut lf = Logferry::receiver(r#"max_request_bytes = "64KiB""#);
    let (grpc, http) = (lf.grpc_port(), lf.http_port());
    let proto = [("content-type", "application/x-protobuf")];
    let json = [("content-type", "application/json")];

    post(http, &proto, full_request("before", 1).encode_to_vec());

    let bad = post(http, &proto, b"\x0a\xff\xff\xff\xff\x0f garbage".to_vec());
    assert_eq!(bad.status, 400);
    let status = logferry_status(&bad.body);
    assert!(status.contains("invalid protobuf"), "{status}");

    let bad = post(
        http,
        &json,
        br#"{"resourceLogs": [{"scopeLogs": 7}]}"#.to_vec(),
    );
    assert_eq!(bad.status, 400);
    let message = bad.json()["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("invalid OTLP/JSON") && message.contains("column"),
        "{message}"
    );

    let bad = post(
        http,
        &[proto[0], ("content-encoding", "gzip")],
        b"not gzip".to_vec(),
    );
    assert_eq!(bad.status, 400);
    assert!(logferry_status(&bad.body).contains("invalid gzip"));

    let truncated = full_request("cut", 5).encode_to_vec();
    let bad = post(http, &proto, truncated[..truncated.len() - 3].to_vec());
    assert_eq!(bad.status, 400);

    let huge = full_request("huge", 2000).encode_to_vec();
    assert!(huge.len() > 64 << 10);
    let too_big = post(http, &proto, huge.clone());
    assert_eq!(too_big.status, 413);
    // A small gzip body that inflates past the limit is refused too.
    let bomb = post(
        http,
        &[proto[0], ("content-encoding", "gzip")],
        gzip(&vec![0u8; 1 << 20]),
    );
    assert_eq!(bomb.status, 413);

    let wrong_type = post(http, &[("content-type", "text/plain")], b"hello".to_vec());
    assert_eq!(wrong_type.status, 415);

    let status = grpc_raw(grpc, b"\x0a\xff\xff\xff\xff\x0f".to_vec());
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("invalid protobuf"), "{status:?}");
    let status = grpc_raw(grpc, huge);
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");

    grpc_export(grpc, full_request("after", 1), false, &[]).unwrap();
    let records = lf.records(2);
    let bodies: Vec<&str> = records.iter().map(body).collect();
    assert_eq!(bodies, ["before 0", "after 0"]);

    let admin = lf.running.admin_address();
    let (_, metrics) = http_get(&admin, "/metrics");
    let errors = metric_value(&metrics, "logferry_input_errors_total{input=\"otel\"}");
    assert_eq!(errors, Some(9), "{metrics}");
}

fn logferry_status(body: &[u8]) -> String {
    logferry_rpc_status(body)
}

/// The message of a protobuf `google.rpc.Status` error body.
fn logferry_rpc_status(body: &[u8]) -> String {
    #[derive(Clone, PartialEq, prost::Message)]
    struct Status {
        #[prost(int32, tag = "1")]
        code: i32,
        #[prost(string, tag = "2")]
        message: String,
    }
    Status::decode(body)
        .expect("a google.rpc.Status body")
        .message
}

#[test]
fn credentials_are_required_when_configured() {
    let mut lf = Logferry::receiver(
        r#"auth = { bearer_token = "s3cret", headers = { "x-tenant" = "blue" } }"#,
    );
    let (grpc, http) = (lf.grpc_port(), lf.http_port());
    let request = || full_request("auth", 1);
    let status = grpc_export(grpc, request(), false, &[]).unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    let status = grpc_export(
        grpc,
        request(),
        false,
        &[("authorization", "Bearer s3cret")],
    )
    .unwrap_err();
    assert_eq!(
        status.code(),
        tonic::Code::Unauthenticated,
        "x-tenant missing"
    );
    let creds = [("authorization", "Bearer s3cret"), ("x-tenant", "blue")];
    grpc_export(grpc, request(), false, &creds).unwrap();
    let proto = ("content-type", "application/x-protobuf");
    assert_eq!(post(http, &[proto], request().encode_to_vec()).status, 401);
    let answer = post(
        http,
        &[proto, creds[0], creds[1]],
        request().encode_to_vec(),
    );
    assert_eq!(answer.status, 200);
    assert_eq!(lf.records(2).len(), 2);
}

#[test]
fn tls_and_client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let certs = certs(dir.path());
    let c = |f: &str| certs.join(f).display().to_string();
    let mut lf = Logferry::receiver(&format!(
        r#"tls = {{ cert_file = "{}", key_file = "{}", client_ca_file = "{}" }}"#,
        c("server.pem"),
        c("server.key"),
        c("ca.pem")
    ));
    let https = lf.running.listening("https://");
    let grpcs = lf.running.listening("grpcs://");
    let curl = |address: &str, path: &str, client_cert: bool, body: &[u8]| {
        let file = dir.path().join("body.bin");
        std::fs::write(&file, body).unwrap();
        let mut cmd = std::process::Command::new("curl");
        cmd.args([
            "-sS",
            "--cacert",
            &c("ca.pem"),
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
        ]);
        if client_cert {
            cmd.args(["--cert", &c("client.pem"), "--key", &c("client.key")]);
        }
        if path.contains("LogsService") {
            let mut framed = vec![0u8];
            framed.extend_from_slice(&(body.len() as u32).to_be_bytes());
            framed.extend_from_slice(body);
            std::fs::write(&file, framed).unwrap();
            cmd.args([
                "--http2",
                "-H",
                "content-type: application/grpc",
                "-H",
                "te: trailers",
            ]);
        } else {
            cmd.args(["-H", "content-type: application/x-protobuf"]);
        }
        let url = format!(
            "https://localhost:{}{path}",
            address.rsplit(':').next().unwrap()
        );
        cmd.args(["--data-binary", &format!("@{}", file.display()), &url]);
        let out = cmd.output().expect("curl");
        (
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let body = full_request("tls", 1).encode_to_vec();
    let (code, _) = curl(&https, "/v1/logs", true, &body);
    assert_eq!(code, "200");
    let (code, _) = curl(
        &grpcs,
        "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
        true,
        &full_request("grpcs", 1).encode_to_vec(),
    );
    assert_eq!(code, "200");
    // Without a client certificate the handshake fails; nothing is written.
    let (code, err) = curl(&https, "/v1/logs", false, &body);
    assert_ne!(code, "200", "{err}");
    let records = lf.records(2);
    assert!(records.iter().any(|r| body_is(r, "tls 0")));
    assert!(records.iter().any(|r| body_is(r, "grpcs 0")));
}

fn body_is(r: &serde_json::Value, text: &str) -> bool {
    body(r) == text
}

/// A full pipeline answers "retry later" instead of buffering without bound.
#[test]
fn overload_is_answered_with_retry_later() {
    let mut lf = Logferry::start(
        r#"
        shutdown_timeout = "1s"
        [admin]
        listen = "127.0.0.1:0"
        [inputs.otel]
        type = "otlp"
        grpc = "127.0.0.1:0"
        http = "127.0.0.1:0"
        queue_wait = "100ms"
        [outputs.dead]
        type = "otlp"
        inputs = ["otel"]
        endpoint = "http://127.0.0.1:1"
        buffer = { max_records = 4 }
        batch = { max_records = 4 }
        "#,
    );
    let (grpc, http) = (lf.grpc_port(), lf.http_port());
    // Each request waits for an acknowledgement that cannot come; the pipeline fills.
    let mut waiting = Vec::new();
    for i in 0..12 {
        let body = full_request(&format!("r{i}"), 4).encode_to_vec();
        waiting.push(std::thread::spawn(move || {
            post(http, &[("content-type", "application/x-protobuf")], body)
        }));
        std::thread::sleep(Duration::from_millis(30));
    }
    let refused = eventually(Duration::from_secs(20), "a refused request", || {
        let i = waiting.iter().position(|t| t.is_finished())?;
        Some(waiting.swap_remove(i).join().unwrap())
    });
    assert_eq!(refused.status, 503);
    assert_eq!(refused.headers["retry-after"], "1");
    let status = grpc_export(grpc, full_request("g", 4), false, &[]).unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    let delay = logferry::net::grpc::retry_delay(status.details());
    assert_eq!(delay, Some(Duration::from_secs(1)));

    let admin = lf.running.admin_address();
    let (_, metrics) = http_get(&admin, "/metrics");
    let refused = metric_value(&metrics, "logferry_input_refused_total{input=\"otel\"}");
    assert!(refused.is_some_and(|n| n > 0), "{metrics}");
    lf.running.terminate();
    for t in waiting {
        let _ = t.join();
    }
}

/// Records a destination refuses for good come back to the sender as `partial_success`.
#[test]
fn downstream_rejections_become_partial_success() {
    let capture = Capture::start(Arc::new(|_| {
        (
            400,
            vec![("content-type", "application/json".into())],
            br#"{"code":3,"message":"entry too far behind"}"#.to_vec(),
        )
    }));
    let mut lf = Logferry::start(&format!(
        r#"
        [admin]
        listen = "127.0.0.1:0"
        [inputs.otel]
        type = "otlp"
        http = "127.0.0.1:0"
        [outputs.picky]
        type = "otlp"
        inputs = ["otel"]
        protocol = "http/protobuf"
        endpoint = "http://127.0.0.1:{}"
        batch = {{ max_age = "10ms" }}
        "#,
        capture.port
    ));
    let http = lf.http_port();
    let json = serde_json::to_vec(&full_request("p", 5)).unwrap();
    let answer = post(http, &[("content-type", "application/json")], json);
    assert_eq!(answer.status, 200);
    let partial = &answer.json()["partialSuccess"];
    assert_eq!(partial["rejectedLogRecords"], "5");
    let message = partial["errorMessage"].as_str().unwrap();
    assert!(message.contains("entry too far behind"), "{message}");
}
