//! The Elasticsearch bulk API input end to end, with requests written from Filebeat's and
//! the clients' documented wire behaviour (../shared/PROTOCOLS.md §1): the connect sequence,
//! `_bulk` bodies with `filter_path`, gzip, per-item failures, back-pressure and credentials.
//! The real clients and Filebeat are in `tests/filebeat_peers.rs`.

use crate::support::otlp::{Answer, Logferry, request};
use crate::support::{http_get, metric_value};
use std::io::Write;

fn receiver(extra: &str) -> (Logferry, String) {
    let mut lf = Logferry::start(&format!(
        r#"
        [admin]
        listen = "127.0.0.1:0"
        [inputs.es]
        type = "elasticsearch"
        listen = "127.0.0.1:0"
        {extra}
        [outputs.out]
        type = "file"
        inputs = ["es"]
        path = "@DIR@/out.ndjson"
        "#
    ));
    let url = format!("http://{}", lf.running.listening("http://"));
    (lf, url)
}

const FILEBEAT: &[(&str, &str)] = &[
    ("content-type", "application/json; charset=UTF-8"),
    ("accept", "application/json"),
    (
        "user-agent",
        "Elastic-Filebeat/7.17.29 (linux; amd64; 2a7f; 2025-01-01 00:00:00 +0000 UTC)",
    ),
    ("x-elastic-product-origin", "beats"),
];

fn bulk(url: &str, body: &str, gzip: bool) -> Answer {
    let mut headers = FILEBEAT.to_vec();
    let body = if gzip {
        headers.push(("content-encoding", "gzip"));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(body.as_bytes()).unwrap();
        gz.finish().unwrap()
    } else {
        body.as_bytes().to_vec()
    };
    request(
        "POST",
        &format!("{url}/_bulk?filter_path=errors,items.*.error,items.*.status"),
        &headers,
        body,
    )
}

fn filebeat_event(i: usize) -> String {
    format!(
        concat!(
            "{{\"create\":{{\"_index\":\"filebeat-7.17.29\"}}}}\n",
            "{{\"@timestamp\":\"2026-11-29T08:00:{:02}.{:03}Z\",\"log\":{{\"offset\":{},\"file\":{{\"path\":\"/var/log/app.log\"}}}},",
            "\"message\":\"line {}\",\"input\":{{\"type\":\"filestream\"}},\"ecs\":{{\"version\":\"1.12.0\"}},",
            "\"host\":{{\"name\":\"web-1\"}},\"agent\":{{\"type\":\"filebeat\",\"version\":\"7.17.29\",\"name\":\"web-1\"}},",
            "\"fields\":{{\"env\":\"prod\"}},\"tags\":[\"t1\"]}}\n"
        ),
        i % 60,
        i % 1000,
        i * 100,
        i
    )
}

fn attr<'a>(attrs: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
    attrs
        .as_array()
        .and_then(|a| a.iter().find(|kv| kv["key"] == key))
        .map(|kv| &kv["value"])
        .unwrap_or(&serde_json::Value::Null)
}

#[test]
fn filebeats_connect_sequence_is_answered_as_elasticsearch_would() {
    let (_lf, url) = receiver("");
    let root = request("GET", &format!("{url}/"), FILEBEAT, vec![]);
    assert_eq!(root.status, 200);
    assert_eq!(root.headers["x-elastic-product"], "Elasticsearch");
    assert_eq!(root.json()["version"]["number"], "8.17.0");
    // A newer Beat gets its own version back, so its "too old" check passes.
    let newer = request(
        "GET",
        &format!("{url}/"),
        &[("user-agent", "Elastic-Filebeat/8.19.4 (linux; amd64; x; y)")],
        vec![],
    );
    assert_eq!(newer.json()["version"]["number"], "8.19.4");
    assert_eq!(request("HEAD", &format!("{url}/"), &[], vec![]).status, 200);
    let license = request(
        "GET",
        &format!("{url}/_license?human=false"),
        FILEBEAT,
        vec![],
    );
    assert_eq!(license.json()["license"]["status"], "active");
    assert_eq!(license.json()["license"]["type"], "basic");
    let xpack = request("GET", &format!("{url}/_xpack"), FILEBEAT, vec![]);
    assert_eq!(xpack.json()["features"]["ilm"]["available"], false);
    for (method, path) in [
        ("GET", "/_ilm/policy/filebeat"),
        ("PUT", "/_ilm/policy/filebeat"),
        ("HEAD", "/_index_template/filebeat-8.17.0"),
        ("PUT", "/_index_template/filebeat-8.17.0"),
        ("GET", "/_data_stream/filebeat-8.17.0"),
        ("PUT", "/_data_stream/filebeat-8.17.0"),
        ("PUT", "/_template/filebeat-7.17.29"),
        ("GET", "/_alias/filebeat-7.17.29"),
    ] {
        let a = request(method, &format!("{url}{path}"), FILEBEAT, b"{}".to_vec());
        assert_eq!(a.status, 200, "{method} {path}");
        assert_eq!(a.headers["x-elastic-product"], "Elasticsearch");
    }
    let cat = request(
        "GET",
        &format!("{url}/_cat/templates/filebeat-7.17.29"),
        FILEBEAT,
        vec![],
    );
    assert!(String::from_utf8_lossy(&cat.body).contains("filebeat-7.17.29"));
}

#[test]
fn bulk_documents_arrive_mapped_and_every_item_is_answered() {
    let (lf, url) = receiver("");
    let body: String = (0..50).map(filebeat_event).collect();
    let plain = bulk(&url, &body, false);
    assert_eq!(plain.status, 200);
    let v = plain.json();
    assert_eq!(v["errors"], false);
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 50);
    assert!(items.iter().all(|i| i["create"]["status"] == 201));
    let body: String = (50..100).map(filebeat_event).collect();
    let gz = bulk(&url, &body, true);
    assert_eq!(gz.status, 200);
    assert_eq!(gz.json()["items"].as_array().unwrap().len(), 50);
    let records = lf.records(100);
    assert_eq!(records.len(), 100);
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r["body"]["stringValue"], format!("line {i}"));
        let want = 1_795_939_200_000_000_000u64
            + (i % 60) as u64 * 1_000_000_000
            + (i % 1000) as u64 * 1_000_000;
        assert_eq!(r["timeUnixNano"], want.to_string());
        assert_eq!(
            attr(&r["resource"]["attributes"], "host.name")["stringValue"],
            "web-1"
        );
        assert_eq!(
            attr(&r["resource"]["attributes"], "agent.type")["stringValue"],
            "filebeat"
        );
        let a = &r["attributes"];
        assert_eq!(attr(a, "log.file.path")["stringValue"], "/var/log/app.log");
        assert_eq!(attr(a, "log.offset")["intValue"], (i * 100).to_string());
        assert_eq!(attr(a, "input.type")["stringValue"], "filestream");
        assert_eq!(attr(a, "fields.env")["stringValue"], "prod");
        assert_eq!(
            attr(a, "tags")["arrayValue"]["values"][0]["stringValue"],
            "t1"
        );
        assert_eq!(
            attr(a, "elasticsearch.index")["stringValue"],
            "filebeat-7.17.29"
        );
    }
}

#[test]
fn a_bad_document_fails_its_item_only_and_bad_requests_are_refused_whole() {
    let (mut lf, url) = receiver("max_request_bytes = \"64KiB\"");
    let body = format!(
        "{}{}{}{}{}",
        filebeat_event(0),
        "{\"create\":{}}\nnot json at all\n",
        "{\"index\":{\"_index\":\"other\"}}\n{\"message\":\"via index\"}\n",
        "{\"delete\":{\"_id\":\"1\"}}\n",
        filebeat_event(1).trim_end()
    );
    let a = bulk(&url, &body, false);
    assert_eq!(a.status, 200);
    let v = a.json();
    assert_eq!(v["errors"], true);
    let statuses: Vec<u64> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            i.as_object().unwrap().values().next().unwrap()["status"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(statuses, [201, 400, 201, 400, 201]);
    assert_eq!(
        v["items"][1]["create"]["error"]["type"],
        "document_parsing_exception"
    );
    let records = lf.records(3);
    let bodies: Vec<&str> = records
        .iter()
        .map(|r| r["body"]["stringValue"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["line 0", "via index", "line 1"]);

    // Whole-request refusals, each named; good requests keep working between them.
    let not_json = bulk(&url, "this is not ndjson\n", false);
    assert_eq!(not_json.status, 400);
    assert!(
        not_json.json()["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("Malformed action/metadata line [1]")
    );
    let text = request(
        "POST",
        &format!("{url}/_bulk"),
        &[("content-type", "text/plain")],
        filebeat_event(2).into_bytes(),
    );
    assert_eq!(text.status, 406);
    let bad_gzip = request(
        "POST",
        &format!("{url}/_bulk"),
        &[
            ("content-type", "application/x-ndjson"),
            ("content-encoding", "gzip"),
        ],
        b"not gzip".to_vec(),
    );
    assert_eq!(bad_gzip.status, 400);
    assert!(
        bad_gzip.json()["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("gzip")
    );
    let huge: String = (0..1000).map(filebeat_event).collect();
    assert_eq!(bulk(&url, &huge, false).status, 413);
    let other = request(
        "POST",
        &format!("{url}/logs/_doc"),
        FILEBEAT,
        b"{}".to_vec(),
    );
    assert_eq!(other.status, 400);
    assert_eq!(bulk(&url, &filebeat_event(3), false).status, 200);
    // Into /{index}/_bulk: the path names the index.
    let into = request(
        "POST",
        &format!("{url}/app-logs/_bulk"),
        &[("content-type", "application/x-ndjson")],
        b"{\"create\":{}}\n{\"message\":\"into\"}\n".to_vec(),
    );
    assert_eq!(into.json()["items"][0]["create"]["_index"], "app-logs");
    let records = lf.records(5);
    assert_eq!(
        attr(&records[4]["attributes"], "elasticsearch.index")["stringValue"],
        "app-logs"
    );
    let m = http_get(&lf.running.admin_address(), "/metrics").1;
    assert!(metric_value(&m, "logferry_input_parse_failures_total{input=\"es\"}").unwrap() >= 3);
}

#[test]
fn credentials_are_required_when_configured() {
    use base64::Engine;
    let (_lf, url) =
        receiver("auth = { username = \"beat\", password = \"s3cret\", api_key = \"id1:key1\" }");
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let none = bulk(&url, &filebeat_event(0), false);
    assert_eq!(none.status, 401);
    assert!(
        none.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("Basic")
    );
    assert_eq!(request("GET", &format!("{url}/"), &[], vec![]).status, 401);
    for auth in [
        format!("Basic {}", b64("beat:s3cret")),
        format!("ApiKey {}", b64("id1:key1")),
    ] {
        let mut headers = FILEBEAT.to_vec();
        headers.push(("authorization", &auth));
        let a = request(
            "POST",
            &format!("{url}/_bulk"),
            &headers,
            filebeat_event(1).into_bytes(),
        );
        assert_eq!(a.status, 200, "{auth}");
    }
    let wrong = format!("Basic {}", b64("beat:nope"));
    let a = request(
        "GET",
        &format!("{url}/"),
        &[("authorization", &wrong)],
        vec![],
    );
    assert_eq!(a.status, 401);
}

#[test]
fn a_full_pipeline_answers_429_and_shutdown_503_so_clients_retry() {
    // The destination is down: two bulk requests wait for delivery, the limit of waiting
    // requests, so a third is told to back off at once.
    let mut lf = Logferry::start(
        r#"
        shutdown_timeout = "1s"
        [admin]
        listen = "127.0.0.1:0"
        [inputs.es]
        type = "elasticsearch"
        listen = "127.0.0.1:0"
        max_concurrent_requests = 2
        [outputs.down]
        type = "otlp"
        inputs = ["es"]
        protocol = "http/protobuf"
        endpoint = "http://127.0.0.1:9"
        "#,
    );
    let url = format!("http://{}", lf.running.listening("http://"));
    let admin = lf.running.admin_address();
    let body: String = (0..20).map(filebeat_event).collect();
    let waiting: Vec<_> = (0..2)
        .map(|_| {
            let (url, body) = (url.clone(), body.clone());
            std::thread::spawn(move || {
                let a = request("POST", &format!("{url}/_bulk"), FILEBEAT, body.into_bytes());
                (a.status, a.headers.get("retry-after").cloned())
            })
        })
        .collect();
    crate::support::eventually(
        std::time::Duration::from_secs(10),
        "40 records buffered",
        || {
            let m = http_get(&admin, "/metrics").1;
            (metric_value(&m, "logferry_input_records_received_total{input=\"es\"}")? >= 40)
                .then_some(())
        },
    );
    let refused = bulk(&url, &body, false);
    assert_eq!(refused.status, 429);
    assert_eq!(refused.headers["retry-after"], "1");
    assert_eq!(
        refused.json()["error"]["type"],
        "es_rejected_execution_exception"
    );
    let m = http_get(&admin, "/metrics").1;
    assert!(metric_value(&m, "logferry_input_refused_total{input=\"es\"}").unwrap() >= 1);
    // At shutdown the waiting requests are told to retry (their records were not delivered).
    lf.running.terminate();
    for handle in waiting {
        let (status, retry_after) = handle.join().unwrap();
        assert_eq!(status, 503);
        assert_eq!(retry_after.unwrap(), "1");
    }
}

#[test]
fn https_with_the_servers_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let certs = crate::support::syslog::certs(dir.path());
    let c = |f: &str| certs.join(f).display().to_string();
    let mut lf = Logferry::start(&format!(
        r#"
        [admin]
        listen = "127.0.0.1:0"
        [inputs.es]
        type = "elasticsearch"
        listen = "127.0.0.1:0"
        tls = {{ cert_file = "{}", key_file = "{}" }}
        [outputs.out]
        type = "file"
        inputs = ["es"]
        path = "@DIR@/out.ndjson"
        "#,
        c("server.pem"),
        c("server.key")
    ));
    let port = crate::support::otlp::port_of(&lf.running.listening("https://"));
    let ca = reqwest::Certificate::from_pem(&std::fs::read(certs.join("ca.pem")).unwrap()).unwrap();
    let runtime = crate::support::otlp::runtime();
    let client = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let (status, body) = runtime.block_on(async move {
        let r = client
            .post(format!("https://localhost:{port}/_bulk"))
            .header("content-type", "application/json")
            .body(filebeat_event(9))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    });
    assert_eq!(status, 200, "{body}");
    assert_eq!(lf.records(1)[0]["body"]["stringValue"], "line 9");
}
