//! OTLP/gRPC load generator for the benchmarks in `bench/otlp/`: sends pre-encoded
//! `ExportLogsServiceRequest`s of `--batch` records (each with `--attributes` attributes and a
//! ~200-byte body) over `--concurrency` connections until `--records` records have been
//! acknowledged, then prints one JSON line with the rate. Requests answered "retry later"
//! are retried after a short pause and counted as `refused`.
//!
//! With `--sink HOST:PORT` it also serves a minimal OTLP/gRPC destination there that reads
//! each request and answers success without decoding, so an OTLP → OTLP benchmark measures
//! logferry, not a second decoder on the same cores.
//!
//!     cargo run --release --example otlp_load -- --endpoint http://127.0.0.1:4317 --records 2000000

use bytes::{BufMut, Bytes};
use logferry::record::otlp::{ExportLogsServiceResponse, GRPC_EXPORT_PATH, encode_protobuf};
use logferry::record::{AnyValue, LogRecord, Resource, Scope, Str};
use prost::Message;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

struct Args {
    endpoint: String,
    records: u64,
    batch: usize,
    concurrency: usize,
    attributes: usize,
    sink: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        endpoint: "http://127.0.0.1:4317".into(),
        records: 1_000_000,
        batch: 1000,
        concurrency: 8,
        attributes: 10,
        sink: None,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for pair in argv.chunks(2) {
        let value = pair.get(1).cloned().unwrap_or_default();
        match pair[0].as_str() {
            "--endpoint" => a.endpoint = value,
            "--records" => a.records = value.parse().expect("--records N"),
            "--batch" => a.batch = value.parse().expect("--batch N"),
            "--concurrency" => a.concurrency = value.parse().expect("--concurrency N"),
            "--attributes" => a.attributes = value.parse().expect("--attributes N"),
            "--sink" => a.sink = Some(value),
            other => panic!("unknown option {other}"),
        }
    }
    a
}

/// `batch` records shaped like an SDK's: service resource, one scope, 10 attributes.
fn request(seed: usize, batch: usize, attributes: usize) -> Bytes {
    let resource = Arc::new(Resource {
        attributes: vec![
            (Str::from("service.name"), AnyValue::from("checkout")),
            (Str::from("host.name"), AnyValue::from("node-17")),
        ],
        ..Resource::default()
    });
    let scope = Arc::new(Scope {
        name: Str::from("app.logger"),
        ..Scope::default()
    });
    let records: Vec<LogRecord> = (0..batch)
        .map(|i| {
            let n = seed * batch + i;
            LogRecord {
                time_unix_nano: 1_700_000_000_000_000_000 + n as u64,
                observed_time_unix_nano: 1_700_000_000_000_000_000 + n as u64,
                severity_number: 9,
                severity_text: Str::from("INFO"),
                body: AnyValue::from(format!(
                    "request {n} completed: GET /api/v1/orders/{n}?expand=items status=200 bytes=5120 duration_ms=12 user=u{} session=s{} region=eu-west-1 trace sampled",
                    n % 977,
                    n % 131
                )),
                attributes: (0..attributes)
                    .map(|k| {
                        let value = if k % 3 == 0 {
                            AnyValue::Int(n as i64 + k as i64)
                        } else {
                            AnyValue::from(format!("value-{k}-{}", n % 100))
                        };
                        (Str::from(format!("attr.key{k}")), value)
                    })
                    .collect(),
                trace_id: Bytes::from(vec![7u8; 16]),
                span_id: Bytes::from(vec![9u8; 8]),
                resource: Arc::clone(&resource),
                scope: Arc::clone(&scope),
                ..LogRecord::default()
            }
        })
        .collect();
    let mut out = Vec::new();
    encode_protobuf(records.iter(), &mut out);
    Bytes::from(out)
}

#[derive(Clone, Copy)]
struct Raw;
impl Codec for Raw {
    type Encode = Bytes;
    type Decode = ExportLogsServiceResponse;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}
impl Encoder for Raw {
    type Item = Bytes;
    type Error = tonic::Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}
impl Decoder for Raw {
    type Item = ExportLogsServiceResponse;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, tonic::Status> {
        Ok(Some(
            ExportLogsServiceResponse::decode(src)
                .map_err(|e| tonic::Status::internal(e.to_string()))?,
        ))
    }
}

/// Answers every `Export` with an empty success, after reading the whole request.
async fn sink(address: String, received: Arc<AtomicU64>) {
    use http_body_util::BodyExt;
    let app = axum::Router::new().route(
        GRPC_EXPORT_PATH,
        axum::routing::post(move |body: axum::body::Body| {
            let received = Arc::clone(&received);
            async move {
                let bytes = body
                    .collect()
                    .await
                    .map(|c| c.to_bytes().len())
                    .unwrap_or(0);
                received.fetch_add(bytes as u64, Ordering::Relaxed);
                let mut trailers = http::HeaderMap::new();
                trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
                let body = http_body_util::Full::new(Bytes::from_static(&[0, 0, 0, 0, 0]))
                    .with_trailers(async move { Some(Ok(trailers)) });
                axum::response::Response::builder()
                    .header("content-type", "application/grpc")
                    .body(axum::body::Body::new(body))
                    .unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .expect("bind --sink");
    axum::serve(listener, app).await.expect("sink");
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    let a = args();
    let sunk = Arc::new(AtomicU64::new(0));
    if let Some(address) = a.sink.clone() {
        tokio::spawn(sink(address, Arc::clone(&sunk)));
    }
    let requests: Arc<Vec<Bytes>> =
        Arc::new((0..16).map(|s| request(s, a.batch, a.attributes)).collect());
    let sent = Arc::new(AtomicU64::new(0));
    let acked = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..a.concurrency {
        let channel = tonic::transport::Endpoint::from_shared(a.endpoint.clone())
            .expect("endpoint")
            .connect()
            .await
            .expect("connect");
        let (requests, sent, acked, refused) = (
            Arc::clone(&requests),
            Arc::clone(&sent),
            Arc::clone(&acked),
            Arc::clone(&refused),
        );
        let (total, batch) = (a.records, a.batch as u64);
        tasks.push(tokio::spawn(async move {
            let mut grpc = tonic::client::Grpc::new(channel);
            let mut i = c;
            while sent.fetch_add(batch, Ordering::Relaxed) < total {
                let body = requests[i % requests.len()].clone();
                i += 1;
                loop {
                    grpc.ready().await.expect("ready");
                    let path = http::uri::PathAndQuery::from_static(GRPC_EXPORT_PATH);
                    match grpc
                        .unary(tonic::Request::new(body.clone()), path, Raw)
                        .await
                    {
                        Ok(_) => break,
                        Err(s) if s.code() == tonic::Code::Unavailable => {
                            refused.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        Err(s) => panic!("export failed: {s}"),
                    }
                }
                acked.fetch_add(batch, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.expect("sender");
    }
    let seconds = start.elapsed().as_secs_f64();
    let records = acked.load(Ordering::Relaxed);
    println!(
        "{{\"records\":{records},\"seconds\":{seconds:.3},\"records_per_sec\":{:.0},\"request_bytes\":{},\"refused\":{},\"sink_bytes\":{}}}",
        records as f64 / seconds,
        requests[0].len(),
        refused.load(Ordering::Relaxed),
        sunk.load(Ordering::Relaxed)
    );
}
