//! A destination down for a while under load, then back, with logferry running throughout.
//! With a memory buffer the back-pressure reaches the sender (its TCP writes stop being
//! read once the buffer is full) and nothing is lost; with a disk buffer every request is
//! accepted while the destination is down, stored, and delivered in order once it returns.
//! The outage lasts 20 s, times `LOGFERRY_CHAOS_SCALE` (`scripts/chaos.sh`: minutes).

use crate::support::numbered::{bulk_send, delivered, message};
use crate::support::{Running, Setup, chaos_scale, eventually, free_port};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn outage() -> Duration {
    Duration::from_secs(20 * chaos_scale() as u64)
}

/// The destination: a second logferry taking OTLP/HTTP into a file.
fn destination(port: u16) -> Setup {
    Setup::new(&format!(
        r#"
        [admin]
        enabled = false
        [inputs.otel]
        type = "otlp"
        http = "127.0.0.1:{port}"
        [outputs.out]
        type = "file"
        inputs = ["otel"]
        path = "@DIR@/out.ndjson"
        "#
    ))
}

/// The agent under test: `input` in, OTLP/HTTP out towards `port` through `buffer`.
fn agent(input: &str, port: u16, buffer: &str) -> Setup {
    Setup::new(&format!(
        r#"
        data_dir = "@DIR@"
        [admin]
        enabled = false
        [inputs.in]
        {input}
        [outputs.down]
        type = "otlp"
        inputs = ["in"]
        protocol = "http/protobuf"
        endpoint = "http://127.0.0.1:{port}"
        buffer = {buffer}
        batch = {{ max_age = "50ms" }}
        retry = {{ initial_backoff = "100ms", max_backoff = "1s" }}
        "#
    ))
}

#[test]
fn with_a_memory_buffer_back_pressure_reaches_the_sender_and_nothing_is_lost() {
    let (port, sink_port) = (free_port(), free_port());
    let sink = destination(sink_port);
    let agent = agent(
        &format!("type = \"syslog\"\nlisten = [\"tcp://127.0.0.1:{port}\"]"),
        sink_port,
        "{ type = \"memory\", max_records = 2000 }",
    );
    let mut running = Running::start(&agent.config);
    running.wait_log("syslog listening");
    // 30 MB of lines: far more than the buffer and the sockets between hold (a few MB).
    let total = 150_000;
    let padding = "x".repeat(140);
    let written = Arc::new(AtomicUsize::new(0));
    let sender = {
        let written = Arc::clone(&written);
        std::thread::spawn(move || {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            for id in 0..total {
                let line = format!(
                    "<13>1 2026-11-29T10:00:00Z host app - - - {} {padding}\n",
                    message(id)
                );
                s.write_all(line.as_bytes()).unwrap();
                written.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    // The destination is down: the sender is held back, not accepted without bound.
    let started = Instant::now();
    std::thread::sleep(outage() / 2);
    let stalled_at = written.load(Ordering::Relaxed);
    std::thread::sleep(outage() / 2);
    let still = written.load(Ordering::Relaxed);
    eprintln!(
        "memory buffer: destination down {:?}; the sender wrote {still} of {total} lines and was held back",
        started.elapsed()
    );
    assert!(still < total, "the sender was never held back");
    assert_eq!(
        stalled_at, still,
        "the sender kept writing during the outage"
    );

    let mut sink_running = Running::start(&sink.config);
    sender.join().unwrap();
    let out = sink.path("out.ndjson");
    let got = eventually(Duration::from_secs(120), "every line", || {
        let got = delivered(&out);
        (got.len() >= total).then_some(got)
    });
    assert_eq!(got, (0..total).collect::<Vec<_>>(), "once each, in order");
    running.stop_and_collect_logs();
    sink_running.stop_and_collect_logs();
}

#[test]
fn with_a_disk_buffer_everything_is_stored_during_the_outage_and_delivered_in_order() {
    let (port, sink_port) = (free_port(), free_port());
    let sink = destination(sink_port);
    let agent = agent(
        &format!("type = \"elasticsearch\"\nlisten = \"127.0.0.1:{port}\""),
        sink_port,
        "{ type = \"disk\", max_bytes = \"1GiB\" }",
    );
    let mut running = Running::start(&agent.config);
    running.listening("http://");
    // Requests of 100 records keep coming for the whole outage, paced (a few thousand
    // records a second, so a long run stays deliverable by the debug builds); each is
    // answered once stored.
    let started = Instant::now();
    let mut requests = 0;
    while started.elapsed() < outage() {
        let ids = requests * 100..(requests + 1) * 100;
        assert!(
            bulk_send(port, ids),
            "request {requests} refused during the outage"
        );
        requests += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    let total = requests * 100;
    eprintln!(
        "disk buffer: destination down {:?}; {requests} requests ({total} records) accepted and stored",
        started.elapsed()
    );
    let mut sink_running = Running::start(&sink.config);
    let out = sink.path("out.ndjson");
    let got = eventually(
        Duration::from_secs(60 * chaos_scale() as u64 + 60),
        "every record",
        || {
            let got = delivered(&out);
            (got.len() >= total).then_some(got)
        },
    );
    assert_eq!(got, (0..total).collect::<Vec<_>>(), "once each, in order");
    running.stop_and_collect_logs();
    sink_running.stop_and_collect_logs();
}
