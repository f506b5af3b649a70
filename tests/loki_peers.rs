//! Cross-check with independent Loki clients (installed by `tests/peers/loki/setup.sh`):
//! winston-loki (protobuf + snappy, and JSON) and python-logging-loki (JSON) push the same
//! lines to the Loki stand-in as logferry does; all must decode alike.

use crate::support::loki::{LokiServer, Rules, Stored};
use crate::support::otlp::{Logferry, post};
use crate::support::peers_cache;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/peers/loki")
        .join(name)
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

const N: usize = 30;

/// Per tenant, per line `line-<i>`: the labels job and n, and the metadata i and kind.
/// (line, job, n, metadata i and kind).
type Row = (String, String, String, Vec<(String, String)>);

fn view(stored: &[Stored], tenant: &str) -> Vec<Row> {
    let mut rows: Vec<_> = stored
        .iter()
        .filter(|e| e.tenant == tenant)
        .map(|e| {
            let meta = e
                .metadata
                .iter()
                .filter(|(k, _)| k == "i" || k == "kind")
                .cloned()
                .collect::<Vec<_>>();
            (
                e.line.clone(),
                e.labels["job"].clone(),
                e.labels["n"].clone(),
                meta,
            )
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn winston_loki_python_logging_loki_and_logferry_decode_alike() {
    let server = LokiServer::start(Rules::default());
    let endpoint = server.endpoint();
    let node = |tenant: &str, json: bool| {
        let mut cmd = Command::new("node");
        cmd.arg(script("push.mjs"))
            .args([
                "--endpoint",
                &endpoint,
                "--count",
                &N.to_string(),
                "--tenant",
                tenant,
            ])
            .env("LOKI_NODE_DIR", peers_cache().join("loki").join("node"));
        if json {
            cmd.arg("--json");
        }
        cmd
    };
    run(&mut node("winston-protobuf", false));
    run(&mut node("winston-json", true));
    run(
        Command::new(peers_cache().join("loki").join("py/bin/python"))
            .arg(script("push.py"))
            .args([
                "--endpoint",
                &endpoint,
                "--count",
                &N.to_string(),
                "--tenant",
                "python",
            ]),
    );

    // logferry, fed the same lines over OTLP, in both encodings.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let records: Vec<serde_json::Value> = (0..N)
        .map(|i| {
            let attr = |k: &str, v: String| serde_json::json!({"key": k, "value": {"stringValue": v}});
            serde_json::json!({
                "timeUnixNano": (now + i as u64).to_string(),
                "severityNumber": 9,
                "body": {"stringValue": format!("line-{i}")},
                "attributes": [attr("n", (i % 3).to_string()), attr("i", i.to_string()), attr("kind", "node".into())]
            })
        })
        .collect();
    let request = serde_json::json!({"resourceLogs": [{"scopeLogs": [{"logRecords": records}]}]});
    for (tenant, encoding) in [("logferry-protobuf", "protobuf"), ("logferry-json", "json")] {
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
            endpoint = "{endpoint}"
            tenant_id = "{tenant}"
            encoding = "{encoding}"
            labels = {{ job = "peer", n = "{{{{ attributes.n }}}}" }}
            structured_metadata = {{ i = "{{{{ attributes.i }}}}", kind = "{{{{ attributes.kind }}}}" }}
            "#
        ));
        let answer = post(
            lf.http_port(),
            &[("content-type", "application/json")],
            serde_json::to_vec(&request).unwrap(),
        );
        assert_eq!(answer.status, 200);
    }

    // Five senders: two winston-loki modes, python-logging-loki, logferry's two encodings.
    let stored = server.wait_stored(5 * N, Duration::from_secs(30));
    assert_eq!(stored.len(), 5 * N);
    assert!(server.refusals().is_empty(), "{:?}", server.refusals());
    let lines = |rows: &[Row]| {
        rows.iter()
            .map(|r| (r.0.clone(), r.1.clone(), r.2.clone()))
            .collect::<Vec<_>>()
    };
    let reference = view(&stored, "logferry-protobuf");
    assert_eq!(reference.len(), N);
    for i in 0..N {
        assert!(reference.contains(&(
            format!("line-{i}"),
            "peer".into(),
            (i % 3).to_string(),
            vec![("i".into(), i.to_string()), ("kind".into(), "node".into())]
        )));
    }
    // Same lines and labels whoever encoded them; metadata where the client sends it.
    assert_eq!(view(&stored, "logferry-json"), reference);
    assert_eq!(view(&stored, "winston-json"), reference);
    for tenant in ["winston-protobuf", "python"] {
        assert_eq!(lines(&view(&stored, tenant)), lines(&reference), "{tenant}");
    }
    // Every client's timestamps decode to about now.
    for e in &stored {
        let skew = (e.ts - now as i128).abs();
        assert!(skew < 120_000_000_000, "{e:?}");
    }
}
