//! The Loki output against a Loki stand-in that decodes Loki's own schema and enforces its
//! rules (tests/support/loki.rs), fed through logferry's OTLP/HTTP input so every field and
//! timestamp is known. Cross-checked with two independent Loki clients.

use crate::support::loki::{Fault, LokiServer, Rules, Stored};
use crate::support::otlp::{Logferry, post};
use crate::support::{eventually, http_get, metric_value};
use serde_json::json;
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

/// A logferry with an OTLP/HTTP input `otel` and a Loki output `loki` (extra keys given).
fn logferry(server: &LokiServer, output_extra: &str) -> Logferry {
    Logferry::start(&format!(
        r#"
        [admin]
        listen = "127.0.0.1:0"
        [inputs.otel]
        type = "otlp"
        http = "127.0.0.1:0"
        [outputs.loki]
        type = "loki"
        inputs = ["otel"]
        endpoint = "{}"
        retry = {{ initial_backoff = "100ms", max_backoff = "1s" }}
        {batch}
        {output_extra}
        "#,
        server.endpoint(),
        batch = if output_extra.contains("batch =") {
            ""
        } else {
            "batch = { max_age = \"50ms\" }"
        },
    ))
}

/// One record to send: resource host and tenant, body, time, attributes.
#[derive(Clone)]
struct Rec {
    host: String,
    tenant: String,
    body: String,
    ts: u64,
    attrs: Vec<(&'static str, String)>,
}

fn rec(host: &str, body: &str, ts: u64) -> Rec {
    Rec {
        host: host.into(),
        tenant: String::new(),
        body: body.into(),
        ts,
        attrs: Vec::new(),
    }
}

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// An OTLP/JSON request, one resource per record.
fn otlp_json(records: &[Rec]) -> Vec<u8> {
    let resource_logs: Vec<_> = records
        .iter()
        .map(|r| {
            let mut resource = vec![json!({"key":"host.name","value":{"stringValue":r.host}})];
            if !r.tenant.is_empty() {
                resource.push(json!({"key":"tenant","value":{"stringValue":r.tenant}}));
            }
            let attrs: Vec<_> = r
                .attrs
                .iter()
                .map(|(k, v)| json!({"key":k,"value":{"stringValue":v}}))
                .collect();
            json!({"resource":{"attributes":resource},"scopeLogs":[{"logRecords":[{
                "timeUnixNano": r.ts.to_string(),
                "severityNumber": 9,
                "body":{"stringValue":r.body},
                "attributes": attrs,
                "traceId": "5b8efff798038103d269b633813fc60c"
            }]}]})
        })
        .collect();
    serde_json::to_vec(&json!({ "resourceLogs": resource_logs })).unwrap()
}

/// Posts records and waits for logferry's answer (sent once the output settled them).
fn send(lf: &mut Logferry, records: &[Rec]) -> serde_json::Value {
    let answer = post(
        lf.http_port(),
        &[("content-type", "application/json")],
        otlp_json(records),
    );
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    answer.json()
}

fn metrics(lf: &mut Logferry) -> String {
    http_get(&lf.running.admin_address(), "/metrics").1
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn assert_unique(stored: &[Stored]) {
    let mut seen = HashSet::new();
    for e in stored {
        assert!(
            seen.insert((&e.tenant, &e.labels, e.ts, &e.line)),
            "sent twice: {e:?}"
        );
    }
}

fn check_every_field(encoding: &str) {
    let server = LokiServer::start(Rules::default());
    let mut lf = logferry(
        &server,
        &format!(
            r#"{encoding}
            labels = {{ job = "test", host = "{{{{ resource.host.name }}}}", app = "{{{{ attributes.syslog.appname }}}}", level = "{{{{ severity }}}}" }}
            structured_metadata = {{ trace_id = "{{{{ trace_id }}}}", pid = "{{{{ attributes.syslog.procid }}}}" }}"#
        ),
    );
    let t0 = now_ns();
    let mut records = Vec::new();
    for i in 0..150u64 {
        let mut r = rec(
            &format!("web-{}", i % 3),
            &format!("line {i} \"quoted\""),
            t0 + i,
        );
        r.attrs = vec![
            ("syslog.appname", format!("app{}", i % 2)),
            ("syslog.procid", i.to_string()),
        ];
        records.push(r);
    }
    send(&mut lf, &records);
    let stored = server.wait_stored(150, Duration::from_secs(30));
    assert_eq!(stored.len(), 150);
    assert_unique(&stored);
    for e in &stored {
        let i: u64 = e.line.split(' ').nth(1).unwrap().parse().unwrap();
        assert_eq!(e.line, format!("line {i} \"quoted\""));
        assert_eq!(e.ts, (t0 + i) as i128);
        let host = format!("web-{}", i % 3);
        let app = format!("app{}", i % 2);
        assert_eq!(
            e.labels,
            labels(&[
                ("app", &app),
                ("host", &host),
                ("job", "test"),
                ("level", "info")
            ])
        );
        assert_eq!(
            e.metadata,
            [
                ("pid".to_string(), i.to_string()),
                (
                    "trace_id".to_string(),
                    "5b8efff798038103d269b633813fc60c".to_string()
                )
            ]
        );
    }
    // Each stream's entries arrived in time order.
    let mut newest: BTreeMap<&BTreeMap<String, String>, i128> = BTreeMap::new();
    for e in &stored {
        let n = newest.entry(&e.labels).or_insert(i128::MIN);
        assert!(e.ts >= *n);
        *n = e.ts;
    }
    assert!(server.refusals().is_empty(), "{:?}", server.refusals());
}

#[test]
fn every_line_label_metadata_and_timestamp_arrives_protobuf() {
    check_every_field("");
}

#[test]
fn every_line_label_metadata_and_timestamp_arrives_json_gzip() {
    check_every_field("encoding = \"json\"\ncompression = \"gzip\"");
}

#[test]
fn throttling_server_errors_and_slow_answers_lose_and_repeat_nothing() {
    let server = LokiServer::start(Rules::default());
    server.fault(
        "",
        [
            Fault::Status(429, Some(1)),
            Fault::Status(429, None),
            Fault::Status(500, None),
            Fault::Status(503, None),
            Fault::Status(502, None),
            Fault::Delay(Duration::from_millis(700)),
        ],
    );
    let mut lf = logferry(&server, "labels = { job = \"t\" }");
    let t0 = now_ns();
    let records: Vec<Rec> = (0..300)
        .map(|i| rec("h", &format!("r{i}"), t0 + i))
        .collect();
    let answer = send(&mut lf, &records);
    assert!(answer.get("partialSuccess").is_none(), "{answer}");
    let stored = server.wait_stored(300, Duration::from_secs(30));
    assert_eq!(stored.len(), 300);
    assert_unique(&stored);
    // Five failed attempts, then the delayed one that stored everything.
    assert_eq!(server.requests(), 6);
    let m = metrics(&mut lf);
    assert!(metric_value(&m, "logferry_output_retries_total{output=\"loki\"}").unwrap() >= 5);
    assert_eq!(
        metric_value(
            &m,
            "logferry_records_total{input=\"otel\",output=\"loki\",outcome=\"delivered\"}"
        ),
        Some(300)
    );
}

#[test]
fn a_request_sent_as_several_pushes_resumes_where_it_failed() {
    let server = LokiServer::start(Rules::default());
    // The second push of the request fails twice; the first must not be sent again.
    server.fault(
        "",
        [
            Fault::Pass,
            Fault::Status(500, None),
            Fault::Status(503, None),
        ],
    );
    let mut lf = logferry(
        &server,
        "labels = { job = \"t\", host = \"{{ resource.host.name }}\" }\nmax_request_bytes = \"4KiB\"\nbatch = { max_records = 1000, max_age = \"200ms\" }",
    );
    let t0 = now_ns();
    let records: Vec<Rec> = (0..200)
        .map(|i| {
            rec(
                &format!("h{}", i % 4),
                &format!("{i:03}{}", "x".repeat(100)),
                t0 + i,
            )
        })
        .collect();
    send(&mut lf, &records);
    let stored = server.wait_stored(200, Duration::from_secs(30));
    assert_eq!(stored.len(), 200);
    assert_unique(&stored);
    // 200 × ~120 bytes in 4 KiB pushes: several pushes, plus the two failed attempts.
    assert!(server.requests() >= 8, "{}", server.requests());
}

#[test]
fn a_400_is_counted_by_reason_dead_lettered_and_never_sent_again() {
    let server = LokiServer::start(Rules {
        order_window: Some(Duration::ZERO),
        max_line_bytes: 1000,
        ..Rules::default()
    });
    let mut lf = logferry(
        &server,
        "labels = { job = \"t\" }\nout_of_order = \"accept\"\ndead_letter = { path = \"@DIR@/dead.ndjson\" }",
    );
    let t0 = now_ns();
    send(&mut lf, &[rec("h", "new", t0)]);
    // Older than what the stream has: Loki (strict order) refuses it; the newer one is kept.
    let answer = send(
        &mut lf,
        &[
            rec("h", "late", t0 - 5_000_000_000),
            rec("h", "newer", t0 + 1),
        ],
    );
    assert_eq!(
        answer["partialSuccess"]["rejectedLogRecords"], "1",
        "{answer}"
    );
    // Too old for Loki (8 days), and a line over Loki's limit.
    send(&mut lf, &[rec("h", "ancient", t0 - 8 * 86_400_000_000_000)]);
    send(&mut lf, &[rec("h", &"L".repeat(2000), t0 + 2)]);
    let stored = server.wait_stored(2, Duration::from_secs(10));
    let lines: Vec<&str> = stored.iter().map(|e| e.line.as_str()).collect();
    assert_eq!(lines, ["new", "newer"]);
    // Every 400 was final: one push each, no retry.
    assert_eq!(server.requests(), 4);
    let m = metrics(&mut lf);
    for (reason, n) in [("out_of_order", 1), ("too_old", 1), ("line_too_long", 1)] {
        assert_eq!(
            metric_value(
                &m,
                &format!(
                    "logferry_records_rejected_total{{input=\"otel\",output=\"loki\",reason=\"{reason}\"}}"
                )
            ),
            Some(n),
            "{reason}\n{m}"
        );
    }
    let dead = std::fs::read_to_string(lf.setup.path("dead.ndjson")).unwrap();
    let dead: Vec<serde_json::Value> = dead
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let reasons: Vec<(&str, &str)> = dead
        .iter()
        .map(|d| {
            (
                d["reason"].as_str().unwrap(),
                d["record"]["body"]["stringValue"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        reasons[..2],
        [("out_of_order", "newer"), ("too_old", "ancient")]
    );
    assert_eq!(reasons[2].0, "line_too_long");
    assert!(
        dead[0]["message"]
            .as_str()
            .unwrap()
            .contains("total ignored: 1 out of 2")
    );
    let logs = lf.running.stop_and_collect_logs().join("\n");
    assert!(logs.contains("entry out of order"), "{logs}");
}

#[test]
fn by_default_a_late_entry_is_moved_forward_so_a_strict_loki_takes_it() {
    let server = LokiServer::start(Rules {
        order_window: Some(Duration::ZERO),
        ..Rules::default()
    });
    let mut lf = logferry(&server, "labels = { job = \"t\" }");
    let t0 = now_ns();
    send(&mut lf, &[rec("h", "a", t0)]);
    send(
        &mut lf,
        &[rec("h", "b", t0 - 1_000_000_000), rec("h", "c", t0 + 5)],
    );
    let stored = server.wait_stored(3, Duration::from_secs(10));
    let got: Vec<(&str, i128)> = stored.iter().map(|e| (e.line.as_str(), e.ts)).collect();
    assert_eq!(
        got,
        [("a", t0 as i128), ("b", t0 as i128), ("c", t0 as i128 + 5)]
    );
    assert!(server.refusals().is_empty());
    let m = metrics(&mut lf);
    assert_eq!(
        metric_value(
            &m,
            "logferry_output_records_adjusted_total{output=\"loki\",reason=\"timestamp_rewritten\"}"
        ),
        Some(1)
    );
}

#[test]
fn a_hundred_thousand_hosts_stay_within_max_streams() {
    let server = LokiServer::start(Rules::default());
    let mut lf = logferry(
        &server,
        "labels = { job = \"t\", host = \"{{ resource.host.name }}\" }\nmax_streams = 1000\nbatch = { max_records = 5000, max_age = \"100ms\" }",
    );
    let t0 = now_ns();
    for chunk in 0..20u64 {
        let records: Vec<Rec> = (0..5000)
            .map(|i| {
                let n = chunk * 5000 + i;
                rec(&format!("host-{n}"), "x", t0 + n)
            })
            .collect();
        send(&mut lf, &records);
    }
    let stored = server.wait_stored(100_000, Duration::from_secs(60));
    let streams: HashSet<&BTreeMap<String, String>> = stored.iter().map(|e| &e.labels).collect();
    assert_eq!(streams.len(), 1001);
    let overflow = labels(&[("host", "__overflow__"), ("job", "t")]);
    assert!(streams.contains(&overflow));
    assert_eq!(
        stored.iter().filter(|e| e.labels == overflow).count(),
        99_000
    );
    let m = metrics(&mut lf);
    assert_eq!(
        metric_value(
            &m,
            "logferry_output_records_adjusted_total{output=\"loki\",reason=\"label_overflow\"}"
        ),
        Some(99_000)
    );
}

#[test]
fn a_throttled_tenant_does_not_stall_the_others() {
    let server = LokiServer::start(Rules {
        require_tenant: true,
        ..Rules::default()
    });
    server.fault("slow", (0..4).map(|_| Fault::Status(429, Some(1))));
    let mut lf = logferry(
        &server,
        "labels = { job = \"t\" }\ntenant_id = \"{{ resource.tenant }}\"",
    );
    let port = lf.http_port();
    let t0 = now_ns();
    let with_tenant = |tenant: &str, n: u64| -> Vec<Rec> {
        (0..n)
            .map(|i| Rec {
                tenant: tenant.into(),
                ..rec("h", &format!("{tenant}-{i}"), t0 + i)
            })
            .collect()
    };
    let started = Instant::now();
    let slow = with_tenant("slow", 10);
    let slow = std::thread::spawn(move || {
        post(
            port,
            &[("content-type", "application/json")],
            otlp_json(&slow),
        )
        .status
    });
    std::thread::sleep(Duration::from_millis(200));
    send(&mut lf, &with_tenant("fast", 10));
    assert_eq!(slow.join().unwrap(), 200);
    // Four 429s with `Retry-After: 1` held the slow tenant back at least 3 s …
    assert!(started.elapsed() >= Duration::from_secs(3));
    let stored = server.stored();
    assert_eq!(stored.len(), 20);
    for e in &stored {
        assert_eq!(e.line.split('-').next().unwrap(), e.tenant);
    }
    let fast_last = stored
        .iter()
        .filter(|e| e.tenant == "fast")
        .map(|e| e.at)
        .max()
        .unwrap();
    let slow_first = stored
        .iter()
        .filter(|e| e.tenant == "slow")
        .map(|e| e.at)
        .min()
        .unwrap();
    // … while the fast tenant, sent after it, was stored before any of it.
    assert!(fast_last < slow_first);
}

#[test]
fn a_missing_tenant_or_dead_loki_is_reported_and_the_records_kept_until_it_is_back() {
    let server = LokiServer::start(Rules {
        require_tenant: true,
        ..Rules::default()
    });
    // No tenant: Loki answers 401, rejected for good with Loki's words.
    let mut lf = logferry(&server, "labels = { job = \"t\" }");
    let answer = send(&mut lf, &[rec("h", "a", now_ns())]);
    assert_eq!(
        answer["partialSuccess"]["rejectedLogRecords"], "1",
        "{answer}"
    );
    assert!(
        answer["partialSuccess"]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("no org id")
    );
    drop(lf);

    // A Loki that is down, then up: nothing is lost.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut lf = Logferry::start(&format!(
        r#"
        [admin]
        listen = "127.0.0.1:0"
        [inputs.otel]
        type = "otlp"
        http = "127.0.0.1:0"
        [outputs.loki]
        type = "loki"
        inputs = ["otel"]
        endpoint = "http://127.0.0.1:{port}"
        tenant_id = "team-a"
        labels = {{ job = "t" }}
        retry = {{ initial_backoff = "100ms", max_backoff = "300ms" }}
        "#
    ));
    let http = lf.http_port();
    let sender = std::thread::spawn(move || {
        post(
            http,
            &[("content-type", "application/json")],
            otlp_json(&[rec("h", "kept", now_ns())]),
        )
        .status
    });
    let logs = lf.running.wait_log("will retry");
    assert!(logs.contains(&format!("127.0.0.1:{port}")), "{logs}");
    let server = crate::support::loki::LokiServer::start_on(port, Rules::default());
    assert_eq!(sender.join().unwrap(), 200);
    let stored = eventually(Duration::from_secs(10), "the kept record", || {
        let s = server.stored();
        (!s.is_empty()).then_some(s)
    });
    assert_eq!(
        (stored[0].line.as_str(), stored[0].tenant.as_str()),
        ("kept", "team-a")
    );
}

#[test]
fn https_with_a_private_ca_and_basic_auth() {
    use base64::Engine;
    let dir = tempfile::tempdir().unwrap();
    let certs = crate::support::syslog::certs(dir.path());
    let want = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("loki-user:s3cret")
    );
    let server = LokiServer::start_tls(
        Rules {
            authorization: Some(want),
            ..Rules::default()
        },
        &certs.join("server.pem"),
        &certs.join("server.key"),
    );
    let config = |password: &str| {
        format!(
            r#"
            [admin]
            listen = "127.0.0.1:0"
            [inputs.otel]
            type = "otlp"
            http = "127.0.0.1:0"
            [outputs.loki]
            type = "loki"
            inputs = ["otel"]
            endpoint = "https://localhost:{}"
            labels = {{ job = "tls" }}
            basic_auth = {{ user = "loki-user", password = "{password}" }}
            tls = {{ ca_file = "{}" }}
            "#,
            server.port,
            certs.join("ca.pem").display()
        )
    };
    let mut lf = Logferry::start(&config("s3cret"));
    send(&mut lf, &[rec("h", "over tls", now_ns())]);
    let stored = server.wait_stored(1, Duration::from_secs(10));
    assert_eq!(stored[0].line, "over tls");
    // A wrong password: Loki's 401 rejects the records, with its words.
    let mut lf = Logferry::start(&config("wrong"));
    let answer = send(&mut lf, &[rec("h", "refused", now_ns())]);
    assert_eq!(
        answer["partialSuccess"]["rejectedLogRecords"], "1",
        "{answer}"
    );
    assert!(
        answer["partialSuccess"]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("HTTP 401: authorization required")
    );
    assert_eq!(server.stored().len(), 1);
}
