//! OTLP test helpers: a logferry with an OTLP input, clients that speak to it (reqwest for
//! OTLP/HTTP, tonic for gRPC), a capture server standing in for a destination with scripted
//! answers, and the real OpenTelemetry peers under `tests/peers/otlp`.

use super::{Running, Setup, eventually, ndjson};
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value::Value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The peer scripts.
pub fn peers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/otlp")
}

/// One runtime shared by the helpers' async clients and servers.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        // reqwest is built without a default TLS provider; logferry passes its own config.
        let _ = rustls::crypto::ring::default_provider().install_default();
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
}

/// A running logferry from `config` (use `@DIR@`), with its OTLP ports when it has them.
pub struct Logferry {
    pub setup: Setup,
    pub running: Running,
}

impl Logferry {
    pub fn start(config: &str) -> Logferry {
        let setup = Setup::new(config);
        let mut running = Running::start(&setup.config);
        running.wait_log("logferry started");
        Logferry { setup, running }
    }

    /// An OTLP input `otel` on ports 0 (extra keys in `input_extra`) → file `out.ndjson`.
    pub fn receiver(input_extra: &str) -> Logferry {
        Logferry::start(&format!(
            r#"
            [admin]
            listen = "127.0.0.1:0"
            [inputs.otel]
            type = "otlp"
            grpc = "127.0.0.1:0"
            http = "127.0.0.1:0"
            {input_extra}
            [outputs.out]
            type = "file"
            inputs = ["otel"]
            path = "@DIR@/out.ndjson"
            "#
        ))
    }

    pub fn grpc_port(&mut self) -> u16 {
        port(&self.running.listening("grpc://"))
    }

    pub fn http_port(&mut self) -> u16 {
        port(&self.running.listening("http://"))
    }

    /// Waits until at least `n` records are in `out.ndjson` and returns them.
    pub fn records(&self, n: usize) -> Vec<serde_json::Value> {
        let path = self.setup.path("out.ndjson");
        eventually(Duration::from_secs(30), &format!("{n} records"), || {
            let text = std::fs::read_to_string(&path).ok()?;
            let whole = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
            let records = ndjson(whole);
            (records.len() >= n).then_some(records)
        })
    }
}

/// The port of a `HOST:PORT` address.
pub fn port_of(address: &str) -> u16 {
    port(address)
}

fn port(address: &str) -> u16 {
    address.rsplit(':').next().unwrap().parse().unwrap()
}

/// An HTTP answer, reduced to what tests look at.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// `POST http://127.0.0.1:PORT/v1/logs` with the given headers and body.
pub fn post(port: u16, headers: &[(&str, &str)], body: Vec<u8>) -> Answer {
    request(
        "POST",
        &format!("http://127.0.0.1:{port}/v1/logs"),
        headers,
        body,
    )
}

/// Any HTTP request, reduced to its answer.
pub fn request(method: &str, url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Answer {
    let runtime = runtime(); // first: it installs the TLS provider reqwest needs
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = reqwest::Client::new()
        .request(method, url)
        .timeout(Duration::from_secs(30))
        .body(body);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    runtime.block_on(async move {
        let response = request.send().await.expect("HTTP request");
        Answer {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.bytes().await.unwrap().to_vec(),
        }
    })
}

/// gRPC `Export` to `127.0.0.1:PORT` (gzip when asked), with optional metadata.
pub fn grpc_export(
    port: u16,
    request: ExportLogsServiceRequest,
    gzip: bool,
    metadata: &[(&'static str, &str)],
) -> Result<ExportLogsServiceResponse, tonic::Status> {
    let metadata: Vec<(&'static str, String)> =
        metadata.iter().map(|(k, v)| (*k, v.to_string())).collect();
    runtime().block_on(async move {
        let mut client = LogsServiceClient::connect(format!("http://127.0.0.1:{port}"))
            .await
            .expect("gRPC connect");
        if gzip {
            client = client.send_compressed(tonic::codec::CompressionEncoding::Gzip);
        }
        let mut request = tonic::Request::new(request);
        for (k, v) in metadata {
            request.metadata_mut().insert(k, v.parse().unwrap());
        }
        client.export(request).await.map(|r| r.into_inner())
    })
}

/// gRPC `Export` of raw bytes (for malformed messages).
pub fn grpc_raw(port: u16, message: Vec<u8>) -> tonic::Status {
    let body = {
        let mut b = vec![0u8];
        b.extend_from_slice(&(message.len() as u32).to_be_bytes());
        b.extend_from_slice(&message);
        b
    };
    let answer = runtime().block_on(async move {
        // runtime() ran first: the TLS provider reqwest needs is installed.
        let client = reqwest::Client::builder()
            .http2_prior_knowledge()
            .build()
            .unwrap();
        client
            .post(format!(
                "http://127.0.0.1:{port}/opentelemetry.proto.collector.logs.v1.LogsService/Export"
            ))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(body)
            .send()
            .await
            .expect("gRPC POST")
    });
    let headers = answer.headers();
    let code: i32 = headers["grpc-status"].to_str().unwrap().parse().unwrap();
    let message = headers
        .get("grpc-message")
        .map(|m| m.to_str().unwrap().to_string())
        .unwrap_or_default();
    tonic::Status::new(tonic::Code::from(code), message)
}

fn s(v: &str) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(Value::StringValue(v.into())),
    })
}

fn kv(key: &str, value: Option<AnyValue>) -> KeyValue {
    KeyValue {
        key: key.into(),
        value,
        key_strindex: 0,
    }
}

/// A request of `n` records with every field and every value kind set; bodies are
/// `"{tag} {i}"`.
pub fn full_request(tag: &str, n: usize) -> ExportLogsServiceRequest {
    let value = |v: Value| Some(AnyValue { value: Some(v) });
    let records = (0..n)
        .map(|i| LogRecord {
            time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
            observed_time_unix_nano: 1_700_000_000_500_000_000 + i as u64,
            severity_number: 17,
            severity_text: "ERROR".into(),
            body: s(&format!("{tag} {i}")),
            attributes: vec![
                kv("i", value(Value::IntValue(i as i64))),
                kv("pi", value(Value::DoubleValue(3.25))),
                kv("ok", value(Value::BoolValue(true))),
                kv("raw", value(Value::BytesValue(vec![0, 159, 255]))),
                kv(
                    "list",
                    value(Value::ArrayValue(ArrayValue {
                        values: vec![
                            s("a").unwrap(),
                            AnyValue {
                                value: Some(Value::IntValue(-1)),
                            },
                        ],
                    })),
                ),
                kv(
                    "map",
                    value(Value::KvlistValue(KeyValueList {
                        values: vec![kv("nested", s("Ω")), kv("empty", Some(AnyValue::default()))],
                    })),
                ),
            ],
            dropped_attributes_count: 2,
            flags: 1,
            trace_id: (1..=16).collect(),
            span_id: (1..=8).collect(),
            event_name: "test.event".into(),
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![kv("service.name", s(tag)), kv("host.name", s("h1"))],
                dropped_attributes_count: 1,
                entity_refs: vec![],
            }),
            schema_url: "https://opentelemetry.io/schemas/1.30.0".into(),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: "test.scope".into(),
                    version: "1.2.3".into(),
                    attributes: vec![kv("scope.attr", s("x"))],
                    dropped_attributes_count: 3,
                }),
                log_records: records,
                schema_url: "https://opentelemetry.io/schemas/1.29.0".into(),
            }],
        }],
    }
}

/// A destination standing in for an OTLP/HTTP server: answers each `POST /v1/logs` with
/// what `script(n)` says for the n-th request (0-based) and keeps every request it got.
pub struct Capture {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<ExportLogsServiceRequest>>>,
}

/// A scripted answer: status, headers, body.
pub type Script = Arc<dyn Fn(usize) -> (u16, Vec<(&'static str, String)>, Vec<u8>) + Send + Sync>;

impl Capture {
    pub fn start(script: Script) -> Capture {
        let requests: Arc<Mutex<Vec<ExportLogsServiceRequest>>> = Arc::default();
        let seen = Arc::clone(&requests);
        let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let app = axum::Router::new().route(
            "/v1/logs",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let (seen, script, counter) =
                        (Arc::clone(&seen), Arc::clone(&script), Arc::clone(&counter));
                    async move {
                        let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let body = if headers.get("content-encoding").is_some_and(|v| v == "gzip") {
                            let mut out = Vec::new();
                            std::io::Read::read_to_end(
                                &mut flate2::read::GzDecoder::new(&body[..]),
                                &mut out,
                            )
                            .unwrap();
                            out
                        } else {
                            body.to_vec()
                        };
                        let (status, extra, reply) = script(n);
                        if status == 200 {
                            let request = if headers["content-type"] == "application/json" {
                                serde_json::from_slice(&body).unwrap()
                            } else {
                                ExportLogsServiceRequest::decode(body.as_slice()).unwrap()
                            };
                            seen.lock().unwrap().push(request);
                        }
                        let mut response = axum::response::Response::builder().status(status);
                        for (k, v) in extra {
                            response = response.header(k, v);
                        }
                        response.body(axum::body::Body::from(reply)).unwrap()
                    }
                },
            ),
        );
        let listener = runtime()
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        runtime().spawn(async move { axum::serve(listener, app).await });
        Capture { port, requests }
    }

    /// Every record body received so far, in order.
    pub fn bodies(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .flat_map(|r| &r.resource_logs)
            .flat_map(|r| &r.scope_logs)
            .flat_map(|s| &s.log_records)
            .filter_map(|r| match r.body.as_ref()?.value.as_ref()? {
                Value::StringValue(s) => Some(s.clone()),
                _ => None,
            })
            .collect()
    }
}
