//! Load generator for the Filebeat-compatible inputs (`bench/filebeat/run.sh`): sends
//! Filebeat-shaped events (ECS fields, ~200-byte message, ~600 bytes of JSON each) until
//! `--records` have been acknowledged, then prints one JSON line with the rate.
//!
//! - `--mode bulk`: `POST /_bulk` requests of `--batch` documents (pre-built NDJSON, gzip
//!   with `--gzip`) over `--concurrency` connections; a document counts once its item is 201.
//! - `--mode beats`: Lumberjack v2 windows of `--batch` events (one zlib `C` frame, as
//!   Filebeat sends, level 3) over `--concurrency` connections, two windows in flight per
//!   connection (Filebeat's `pipelining: 2`); an event counts once its window is ACKed.
//!
//!     cargo run --release --example filebeat_load -- --mode bulk --target 127.0.0.1:9200 --records 2000000

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Args {
    mode: String,
    target: String,
    records: u64,
    batch: usize,
    concurrency: usize,
    gzip: bool,
}

fn args() -> Args {
    let mut a = Args {
        mode: "bulk".into(),
        target: "127.0.0.1:9200".into(),
        records: 1_000_000,
        batch: 1000,
        concurrency: 4,
        gzip: false,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let value = argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--mode" => a.mode = value,
            "--target" => a.target = value,
            "--records" => a.records = value.parse().expect("--records N"),
            "--batch" => a.batch = value.parse().expect("--batch N"),
            "--concurrency" => a.concurrency = value.parse().expect("--concurrency N"),
            "--gzip" => {
                a.gzip = true;
                i += 1;
                continue;
            }
            other => panic!("unknown option {other}"),
        }
        i += 2;
    }
    a
}

fn event(n: usize) -> String {
    format!(
        concat!(
            r#"{{"@timestamp":"2026-11-29T08:00:00.{:03}Z","log":{{"offset":{},"file":{{"path":"/var/log/nginx/access.log"}}}},"#,
            r#""message":"10.0.{}.{} - - [29/Nov/2026:08:00:00 +0000] \"GET /api/v1/orders/{} HTTP/1.1\" 200 5120 \"-\" \"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36\"","#,
            r#""input":{{"type":"filestream"}},"ecs":{{"version":"1.12.0"}},"host":{{"name":"web-17"}},"#,
            r#""agent":{{"type":"filebeat","version":"7.17.29","name":"web-17","id":"0b7e0c3e-8f0a-4c4e-9c59-5d1f6b1f2a11","ephemeral_id":"6c1b2f0e-1d1a-4b7c-8e4d-9e0f1a2b3c4d","hostname":"web-17"}},"fields":{{"env":"prod"}}}}"#
        ),
        n % 1000,
        n * 180,
        n % 256,
        n % 200,
        n
    )
}

fn bulk_body(batch: usize, gzip: bool) -> Vec<u8> {
    let mut body = String::new();
    for i in 0..batch {
        body.push_str("{\"create\":{\"_index\":\"filebeat-7.17.29\"}}\n");
        body.push_str(&event(i));
        body.push('\n');
    }
    if !gzip {
        return body.into_bytes();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(1));
    gz.write_all(body.as_bytes()).unwrap();
    gz.finish().unwrap()
}

fn beats_window(batch: usize) -> Vec<u8> {
    let mut frames = Vec::new();
    for i in 0..batch {
        let payload = event(i);
        frames.extend_from_slice(b"2J");
        frames.extend_from_slice(&(i as u32 + 1).to_be_bytes());
        frames.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        frames.extend_from_slice(payload.as_bytes());
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(3));
    z.write_all(&frames).unwrap();
    let z = z.finish().unwrap();
    let mut out = b"2W".to_vec();
    out.extend_from_slice(&(batch as u32).to_be_bytes());
    out.extend_from_slice(b"2C");
    out.extend_from_slice(&(z.len() as u32).to_be_bytes());
    out.extend_from_slice(&z);
    out
}

async fn bulk_worker(a: Arc<Args>, body: bytes::Bytes, done: Arc<AtomicU64>) {
    let client = reqwest::Client::new();
    let url = format!("http://{}/_bulk", a.target);
    while done.load(Ordering::Relaxed) < a.records {
        let mut req = client
            .post(&url)
            .header("content-type", "application/json; charset=UTF-8")
            .body(body.clone());
        if a.gzip {
            req = req.header("content-encoding", "gzip");
        }
        let response = req.send().await.expect("bulk request");
        if response.status() != 200 {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        }
        let text = response.bytes().await.unwrap();
        let ok = memchr::memmem::find_iter(&text, b"\"status\":201").count();
        done.fetch_add(ok as u64, Ordering::Relaxed);
    }
}

async fn beats_worker(a: Arc<Args>, window: bytes::Bytes, done: Arc<AtomicU64>) {
    let stream = tokio::net::TcpStream::connect(&a.target)
        .await
        .expect("connect");
    stream.set_nodelay(true).unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let batch = a.batch as u32;
    let total = a.records;
    let counter = Arc::clone(&done);
    // Acks are read on their own task; two windows are kept in flight.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(2);
    let reader = tokio::spawn(async move {
        let mut ack = [0u8; 6];
        loop {
            if rd.read_exact(&mut ack).await.is_err() {
                return;
            }
            let seq = u32::from_be_bytes([ack[2], ack[3], ack[4], ack[5]]);
            if seq == batch {
                counter.fetch_add(batch as u64, Ordering::Relaxed);
                if rx.recv().await.is_none() {
                    return;
                }
            }
        }
    });
    while done.load(Ordering::Relaxed) < total {
        if tx.send(()).await.is_err() {
            break;
        }
        wr.write_all(&window).await.expect("write window");
    }
    drop(tx);
    let _ = reader.await;
}

#[tokio::main]
async fn main() {
    // reqwest is built without a default TLS provider (logferry passes its own).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let a = Arc::new(args());
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..a.concurrency {
        let (a, done) = (Arc::clone(&a), Arc::clone(&done));
        tasks.push(match a.mode.as_str() {
            "bulk" => {
                let body = bytes::Bytes::from(bulk_body(a.batch, a.gzip));
                tokio::spawn(bulk_worker(a, body, done))
            }
            "beats" => {
                let window = bytes::Bytes::from(beats_window(a.batch));
                tokio::spawn(beats_worker(a, window, done))
            }
            other => panic!("--mode bulk|beats, not {other}"),
        });
    }
    while done.load(Ordering::Relaxed) < a.records {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed);
    println!(
        "{{\"mode\":\"{}\",\"records\":{n},\"seconds\":{secs:.3},\"records_per_second\":{:.0}}}",
        a.mode,
        n as f64 / secs
    );
    std::process::exit(0);
}
