//! A Loki push sink for the benchmark in `bench/loki/`: it decodes every push (raw snappy,
//! then `logproto.PushRequest` with prost messages written from Loki's `push.proto`), counts
//! entries and streams, and answers 204. `GET /count` gives `ENTRIES STREAMS REQUESTS`.
//!
//!     cargo run --release --example loki_sink -- 127.0.0.1:3100

#[path = "../tests/support/loki_proto.rs"]
mod proto;

use prost::Message;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Counts {
    entries: AtomicU64,
    requests: AtomicU64,
    streams: Mutex<HashSet<String>>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3100".into());
    let counts = Arc::new(Counts::default());
    let push = {
        let counts = Arc::clone(&counts);
        move |body: axum::body::Bytes| {
            let counts = Arc::clone(&counts);
            async move {
                let raw = match snap::raw::Decoder::new().decompress_vec(&body) {
                    Ok(raw) => raw,
                    Err(e) => return (axum::http::StatusCode::BAD_REQUEST, format!("snappy: {e}")),
                };
                let request = match proto::PushRequest::decode(raw.as_slice()) {
                    Ok(r) => r,
                    Err(e) => return (axum::http::StatusCode::BAD_REQUEST, format!("proto: {e}")),
                };
                let mut n = 0;
                let mut streams = counts.streams.lock().unwrap();
                for s in request.streams {
                    n += s.entries.len() as u64;
                    if !streams.contains(&s.labels) {
                        streams.insert(s.labels);
                    }
                }
                counts.entries.fetch_add(n, Ordering::Relaxed);
                counts.requests.fetch_add(1, Ordering::Relaxed);
                (axum::http::StatusCode::NO_CONTENT, String::new())
            }
        }
    };
    let count = {
        let counts = Arc::clone(&counts);
        move || {
            let counts = Arc::clone(&counts);
            async move {
                format!(
                    "{} {} {}\n",
                    counts.entries.load(Ordering::Relaxed),
                    counts.streams.lock().unwrap().len(),
                    counts.requests.load(Ordering::Relaxed)
                )
            }
        }
    };
    let app = axum::Router::new()
        .route("/loki/api/v1/push", axum::routing::post(push))
        .route("/count", axum::routing::get(count));
    let listener = tokio::net::TcpListener::bind(&address).await.unwrap();
    axum::serve(listener, app).await.unwrap();
}
