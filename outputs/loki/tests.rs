//! Encoding checks: pushes decoded with prost messages written from Loki's `push.proto`
//! (not with our encoder's own code), ordering, the cardinality guard and request splitting.

#[path = "../../tests/support/loki_proto.rs"]
mod proto;

use super::*;
use crate::batch::OwnedRecords;
use crate::output::OutputBuildContext;
use crate::record::{Resource, Str};
use prost::Message;

fn output(extra: &str) -> (LokiOutput, Arc<Adjustments>) {
    let text = format!(
        "endpoint = \"http://127.0.0.1:1\"\nlabels = {{ job = \"test\", host = \"{{{{ resource.host.name }}}}\" }}\n{extra}"
    );
    let config: LokiConfig = toml::from_str(&text).unwrap();
    let adjustments = Arc::new(Adjustments::default());
    let cx = OutputBuildContext {
        name: "loki".into(),
        data_dir: "/tmp".into(),
        adjustments: Arc::clone(&adjustments),
    };
    (config.build(&cx).unwrap(), adjustments)
}

fn record(host: &str, body: &str, time: u64) -> LogRecord {
    let mut r = LogRecord::new(AnyValue::from(body.to_string()), 7);
    r.time_unix_nano = time;
    r.resource = Arc::new(Resource {
        attributes: vec![(Str::from("host.name"), AnyValue::from(host.to_string()))],
        ..Resource::default()
    });
    r
}

fn decode(push: &Push) -> Vec<proto::PushRequest> {
    push.bodies
        .iter()
        .map(|b| {
            let raw = snap::raw::Decoder::new().decompress_vec(&b.bytes).unwrap();
            proto::PushRequest::decode(raw.as_slice()).unwrap()
        })
        .collect()
}

fn encode(out: &mut LokiOutput, records: Vec<LogRecord>) -> Push {
    let owned = OwnedRecords::new([("syslog", records)]);
    out.encode(&owned.records()).unwrap()
}

/// (labels, [(ns, line)]) per stream, over every body.
fn streams(push: &Push) -> Vec<(String, Vec<(i128, String)>)> {
    decode(push)
        .into_iter()
        .flat_map(|r| r.streams)
        .map(|s| {
            let entries = s
                .entries
                .iter()
                .map(|e| {
                    let t = e.timestamp.clone().unwrap_or_default();
                    (
                        t.seconds as i128 * 1_000_000_000 + t.nanos as i128,
                        e.line.clone(),
                    )
                })
                .collect();
            (s.labels, entries)
        })
        .collect()
}

#[test]
fn protobuf_push_decodes_with_the_loki_schema() {
    let (mut out, _) = output(
        "structured_metadata = { trace_id = \"{{ trace_id }}\" }\nattributes_as_metadata = true",
    );
    let mut a = record("web-1", "hello", 1_700_000_000_123_456_789);
    a.trace_id = bytes::Bytes::from_static(&[0xab; 16]);
    a.attributes = vec![(Str::from("syslog.appname"), AnyValue::from("sshd"))];
    let b = record("web \"2\"", "line\nwith break", 1_700_000_001_000_000_000);
    let push = encode(&mut out, vec![a, b]);
    let requests = decode(&push);
    assert_eq!(requests.len(), 1);
    let s = &requests[0].streams;
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].labels, r#"{host="web-1", job="test"}"#);
    assert_eq!(s[1].labels, r#"{host="web \"2\"", job="test"}"#);
    let e = &s[0].entries[0];
    let ts = e.timestamp.clone().unwrap();
    assert_eq!((ts.seconds, ts.nanos), (1_700_000_000, 123_456_789));
    assert_eq!(e.line, "hello");
    let meta: Vec<(&str, &str)> = e
        .structured_metadata
        .iter()
        .map(|p| (p.name.as_str(), p.value.as_str()))
        .collect();
    assert_eq!(
        meta,
        [
            ("trace_id", "abababababababababababababababab"),
            ("syslog_appname", "sshd")
        ]
    );
    assert_eq!(s[1].entries[0].line, "line\nwith break");
    assert!(s[1].entries[0].structured_metadata.is_empty());
}

#[test]
fn json_push_has_loki_json_shape() {
    let (mut out, _) = output(
        "encoding = \"json\"\ncompression = \"none\"\nstructured_metadata = { sev = \"{{ severity }}\" }",
    );
    let mut r = record("h", "hi", 1_500_000_000_000_000_001);
    r.severity_number = 9;
    let push = encode(
        &mut out,
        vec![r, record("h", "there", 1_500_000_000_000_000_002)],
    );
    let v: serde_json::Value = serde_json::from_slice(&push.bodies[0].bytes).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"streams":[{"stream":{"host":"h","job":"test"},"values":[
            ["1500000000000000001","hi",{"sev":"info"}],
            ["1500000000000000002","there"]
        ]}]})
    );
}

#[test]
fn a_stream_never_goes_back_in_time() {
    let (mut out, adjusted) = output("");
    let first = encode(
        &mut out,
        vec![record("h", "a", 2_000), record("h", "b", 1_000)],
    );
    let second = encode(
        &mut out,
        vec![record("h", "c", 1_500), record("h", "d", 3_000)],
    );
    assert_eq!(
        streams(&first)[0].1,
        [(2_000, "a".into()), (2_000, "b".into())]
    );
    assert_eq!(
        streams(&second)[0].1,
        [(2_000, "c".into()), (3_000, "d".into())]
    );
    assert_eq!(adjusted.get("timestamp_rewritten"), 2);

    let (mut out, adjusted) = output("out_of_order = \"accept\"");
    let push = encode(
        &mut out,
        vec![
            record("h", "a", 2_000),
            record("h", "b", 1_000),
            record("h", "c", 1_500),
        ],
    );
    assert_eq!(
        streams(&push)[0].1,
        [
            (1_000, "b".into()),
            (1_500, "c".into()),
            (2_000, "a".into())
        ]
    );
    assert_eq!(adjusted.get("timestamp_rewritten"), 0);
}

#[test]
fn past_max_streams_the_varied_label_overflows() {
    let (mut out, adjusted) = output("max_streams = 10");
    let records = (0..100)
        .map(|i| record(&format!("host-{i}"), "x", 1))
        .collect();
    let push = encode(&mut out, records);
    let labels: Vec<String> = streams(&push).into_iter().map(|s| s.0).collect();
    assert_eq!(labels.len(), 11);
    assert!(labels.contains(&r#"{host="__overflow__", job="test"}"#.to_string()));
    assert_eq!(adjusted.get("label_overflow"), 90);
    // A known host keeps its stream.
    let push = encode(&mut out, vec![record("host-3", "y", 2)]);
    assert_eq!(streams(&push)[0].0, r#"{host="host-3", job="test"}"#);
}

#[test]
fn big_requests_are_split_and_lines_capped() {
    let (mut out, adjusted) = output("max_request_bytes = \"4KiB\"\nmax_line_bytes = \"1KiB\"");
    let line = "x".repeat(300);
    let mut records: Vec<LogRecord> = (0..40)
        .map(|i| record(&format!("h{}", i % 3), &line, 1 + i))
        .collect();
    records.push(record("h0", &"y".repeat(5000), 100));
    let push = encode(&mut out, records);
    assert!(push.bodies.len() >= 3, "{}", push.bodies.len());
    let mut total = 0;
    for (body, request) in push.bodies.iter().zip(decode(&push)) {
        let n: usize = request.streams.iter().map(|s| s.entries.len()).sum();
        assert_eq!(n, body.entries);
        assert!(
            request.encoded_len() <= 4096 + 1100,
            "{}",
            request.encoded_len()
        );
        total += n;
    }
    assert_eq!(total, 41);
    let all = streams(&push);
    let longest = all.iter().flat_map(|s| s.1.iter()).map(|e| e.1.len()).max();
    assert_eq!(longest, Some(1024));
    assert_eq!(adjusted.get("line_truncated"), 1);
}

#[test]
fn label_names_are_sanitized_and_bad_configs_named() {
    let config: LokiConfig = toml::from_str(
        "endpoint = \"http://l:3100\"\nlabels = { \"k8s.pod\" = \"{{ input }}\", \"9x\" = \"a\" }",
    )
    .unwrap();
    let cx = OutputBuildContext {
        name: "loki".into(),
        data_dir: "/tmp".into(),
        adjustments: Arc::default(),
    };
    let mut out = config.build(&cx).unwrap();
    let push = encode(&mut out, vec![record("h", "x", 1)]);
    assert_eq!(streams(&push)[0].0, r#"{_9x="a", k8s_pod="syslog"}"#);
    assert_eq!(out.shared.url.as_str(), "http://l:3100/loki/api/v1/push");

    for (text, want) in [
        ("endpoint = \"l:3100\"\nlabels = { a = \"b\" }", "endpoint"),
        (
            "endpoint = \"http://l\"\nlabels = {}",
            "labels: expected at least one label",
        ),
        (
            "endpoint = \"http://l\"\nlabels = { a = \"{{ nope }}\" }",
            "labels.a: unknown template field",
        ),
        (
            "endpoint = \"http://l\"\nlabels = { a = \"b\" }\ncompression = \"gzip\"",
            "always snappy",
        ),
        (
            "endpoint = \"http://l\"\nlabels = { \"a.b\" = \"1\", a_b = \"2\" }",
            "another label",
        ),
    ] {
        let config: LokiConfig = toml::from_str(text).unwrap();
        let err = config.build(&cx).err().unwrap();
        assert!(err.contains(want), "{text}: {err}");
    }
}
