//! `kill -9` under load, for every acknowledging input: a sender keeps sending numbered
//! records and, like a real client, sends again whatever was not acknowledged; logferry is
//! killed with SIGKILL at random moments and restarted, again and again. Every record the
//! sender was told was accepted must be in the output at the end. With a disk buffer the
//! acknowledgement comes once the record is stored; with a memory buffer only once written.

use crate::support::numbered::{bulk_send, delivered, http_post, message};
use crate::support::{Running, Setup, eventually, free_port};
use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Records per request; requests and kills per run at scale 1.
const PER_REQUEST: usize = 100;
const REQUESTS: usize = 200;
const KILLS: usize = 6;

/// `LOGFERRY_CHAOS_SCALE` multiplies requests, lines and kills (see `support::chaos_scale`).
fn scale() -> usize {
    crate::support::chaos_scale()
}

/// Sends `ids` once; true when the sender was told they are accepted.
type Send = fn(port: u16, ids: std::ops::Range<usize>) -> bool;

/// A small xorshift, seeded from the clock and printed, for kill moments.
struct Rng(u64);
impl Rng {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

fn crash_loop(name: &str, input: &str, buffer: &str, send: Send) {
    let port = free_port();
    let setup = Setup::new(&format!(
        r#"
        data_dir = "@DIR@/data"
        shutdown_timeout = "5s"
        [admin]
        enabled = false
        [inputs.in]
        {}
        [outputs.out]
        type = "file"
        inputs = ["in"]
        path = "@DIR@/out.ndjson"
        buffer = {buffer}
        "#,
        input.replace("PORT", &port.to_string())
    ));
    std::fs::create_dir_all(setup.path("data")).unwrap();
    let acked = Arc::new(Mutex::new(Vec::<usize>::new()));
    let done = Arc::new(AtomicBool::new(false));
    let sender = {
        let (acked, done) = (Arc::clone(&acked), Arc::clone(&done));
        std::thread::spawn(move || {
            let mut attempts = 0;
            for r in 0..REQUESTS * scale() {
                let ids = r * PER_REQUEST..(r + 1) * PER_REQUEST;
                loop {
                    attempts += 1;
                    if send(port, ids.clone()) {
                        acked.lock().unwrap().extend(ids);
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                std::thread::sleep(Duration::from_millis(30));
            }
            done.store(true, Ordering::SeqCst);
            attempts
        })
    };
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut rng = Rng(seed);
    let mut kills = 0;
    for _ in 0..KILLS * scale() {
        let mut running = Running::start(&setup.config);
        std::thread::sleep(Duration::from_millis(200 + rng.next(600)));
        running.child.kill().unwrap();
        running.child.wait().unwrap();
        kills += 1;
        if done.load(Ordering::SeqCst) {
            break;
        }
    }
    let mut running = Running::start(&setup.config);
    let attempts = sender.join().unwrap();
    let acked = acked.lock().unwrap().clone();
    assert_eq!(acked.len(), REQUESTS * scale() * PER_REQUEST);
    let got = eventually(Duration::from_secs(60), "every acknowledged record", || {
        let got = delivered(&setup.path("out.ndjson"));
        let have: HashSet<usize> = got.iter().copied().collect();
        acked.iter().all(|id| have.contains(id)).then_some(got)
    });
    running.stop_and_collect_logs();
    let unique: HashSet<usize> = got.iter().copied().collect();
    let duplicates = got.len() - unique.len();
    eprintln!(
        "{name}: seed {seed}, {kills} kill -9 cycles, {} requests sent ({attempts} attempts), {} records acknowledged, {} delivered, {} unique, {duplicates} duplicates",
        REQUESTS * scale(),
        acked.len(),
        got.len(),
        unique.len()
    );
    assert!(kills >= 3, "{name}: the sender finished before three kills");
}

fn otlp_send(port: u16, ids: std::ops::Range<usize>) -> bool {
    let records: Vec<String> = ids
        .map(|id| format!(r#"{{"body":{{"stringValue":"{}"}}}}"#, message(id)))
        .collect();
    let body = format!(
        r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{}]}}]}}]}}"#,
        records.join(",")
    );
    matches!(
        http_post(port, "/v1/logs", "application/json", body.as_bytes()),
        Some((200, _))
    )
}

/// A Lumberjack v2 window of JSON events; accepted once the ACK names its last sequence.
fn beats_send(port: u16, ids: std::ops::Range<usize>) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut frame = Vec::new();
    frame.extend_from_slice(b"2W");
    frame.extend_from_slice(&(ids.len() as u32).to_be_bytes());
    for (seq, id) in ids.clone().enumerate() {
        let event = format!("{{\"message\":\"{}\"}}", message(id));
        frame.extend_from_slice(b"2J");
        frame.extend_from_slice(&(seq as u32 + 1).to_be_bytes());
        frame.extend_from_slice(&(event.len() as u32).to_be_bytes());
        frame.extend_from_slice(event.as_bytes());
    }
    if stream.write_all(&frame).is_err() {
        return false;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut ack = [0u8; 6];
    while Instant::now() < deadline {
        if stream.read_exact(&mut ack).is_err() {
            return false;
        }
        // Keep-alive ACKs name 0; the window's ACK names its last sequence number.
        if &ack[..2] == b"2A"
            && u32::from_be_bytes(ack[2..].try_into().unwrap()) == ids.len() as u32
        {
            return true;
        }
    }
    false
}

#[test]
fn otlp_http_kill_9_loses_no_acknowledged_record_with_a_memory_buffer() {
    crash_loop(
        "otlp+memory",
        "type = \"otlp\"\nhttp = \"127.0.0.1:PORT\"",
        "{ type = \"memory\" }",
        otlp_send,
    );
}

#[test]
fn otlp_http_kill_9_loses_no_acknowledged_record_with_a_disk_buffer() {
    crash_loop(
        "otlp+disk",
        "type = \"otlp\"\nhttp = \"127.0.0.1:PORT\"",
        "{ type = \"disk\", max_bytes = \"64MiB\" }",
        otlp_send,
    );
}

#[test]
fn bulk_kill_9_loses_no_acknowledged_record_with_a_disk_buffer() {
    crash_loop(
        "_bulk+disk",
        "type = \"elasticsearch\"\nlisten = \"127.0.0.1:PORT\"",
        "{ type = \"disk\", max_bytes = \"64MiB\" }",
        bulk_send,
    );
}

#[test]
fn beats_kill_9_loses_no_acknowledged_record_with_a_disk_buffer() {
    crash_loop(
        "beats+disk",
        "type = \"beats\"\nlisten = \"127.0.0.1:PORT\"",
        "{ type = \"disk\", max_bytes = \"64MiB\", fsync = \"always\" }",
        beats_send,
    );
}

/// The tailer's acknowledgement is its checkpoint: with a disk buffer it moves once lines are
/// stored. A writer appends while logferry is killed and restarted: every line arrives.
#[test]
fn file_tailing_kill_9_loses_no_line_with_a_disk_buffer() {
    let setup = Setup::new(
        r#"
        data_dir = "@DIR@/data"
        shutdown_timeout = "5s"
        [admin]
        enabled = false
        [inputs.in]
        type = "file"
        include = ["@DIR@/logs/*.log"]
        poll_interval = "20ms"
        checkpoint_interval = "50ms"
        [outputs.out]
        type = "file"
        inputs = ["in"]
        path = "@DIR@/out.ndjson"
        buffer = { type = "disk", max_bytes = "64MiB" }
        "#,
    );
    std::fs::create_dir_all(setup.path("logs")).unwrap();
    std::fs::create_dir_all(setup.path("data")).unwrap();
    let log = setup.path("logs/app.log");
    let total = 20_000 * scale();
    let writer = std::thread::spawn(move || {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        for chunk in 0..100 * scale() {
            let text: String = (chunk * 200..(chunk + 1) * 200)
                .map(|id| format!("{}\n", message(id)))
                .collect();
            file.write_all(text.as_bytes()).unwrap();
            std::thread::sleep(Duration::from_millis(40));
        }
    });
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..KILLS * scale() {
        let mut running = Running::start(&setup.config);
        std::thread::sleep(Duration::from_millis(200 + rng.next(600)));
        running.child.kill().unwrap();
        running.child.wait().unwrap();
    }
    writer.join().unwrap();
    let mut running = Running::start(&setup.config);
    let got = eventually(Duration::from_secs(60), "every line", || {
        let got = delivered(&setup.path("out.ndjson"));
        let unique: HashSet<usize> = got.iter().copied().collect();
        (unique.len() >= total).then_some(got)
    });
    running.stop_and_collect_logs();
    let unique: HashSet<usize> = got.iter().copied().collect();
    assert_eq!(unique.len(), total);
    eprintln!(
        "file+disk: {} kill -9 cycles, {total} lines written, {} delivered, {} duplicates",
        KILLS * scale(),
        got.len(),
        got.len() - unique.len()
    );
}

/// The destination flaps: a downstream logferry (OTLP in, file out) is killed with SIGKILL
/// and restarted again and again while records flow through an agent with a memory or a
/// disk buffer. Every record the sender was told was accepted reaches the destination.
#[test]
fn a_flapping_destination_loses_no_acknowledged_record() {
    for buffer in [
        "{ type = \"memory\" }",
        "{ type = \"disk\", max_bytes = \"64MiB\" }",
    ] {
        let (agent_port, sink_port) = (free_port(), free_port());
        let sink = Setup::new(&format!(
            r#"
            [admin]
            enabled = false
            [inputs.otel]
            type = "otlp"
            http = "127.0.0.1:{sink_port}"
            [outputs.out]
            type = "file"
            inputs = ["otel"]
            path = "@DIR@/out.ndjson"
            "#
        ));
        let agent = Setup::new(&format!(
            r#"
            data_dir = "@DIR@"
            [admin]
            enabled = false
            [inputs.es]
            type = "elasticsearch"
            listen = "127.0.0.1:{agent_port}"
            [outputs.down]
            type = "otlp"
            inputs = ["es"]
            protocol = "http/protobuf"
            endpoint = "http://127.0.0.1:{sink_port}"
            buffer = {buffer}
            batch = {{ max_age = "50ms" }}
            retry = {{ initial_backoff = "50ms", max_backoff = "300ms" }}
            "#
        ));
        let mut agent_running = Running::start(&agent.config);
        agent_running.listening("http://");
        let sender = std::thread::spawn(move || {
            let mut acked = Vec::new();
            for r in 0..100 * scale() {
                let ids = r * PER_REQUEST..(r + 1) * PER_REQUEST;
                while !bulk_send(agent_port, ids.clone()) {
                    std::thread::sleep(Duration::from_millis(20));
                }
                acked.extend(ids);
                std::thread::sleep(Duration::from_millis(30));
            }
            acked
        });
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        for _ in 0..KILLS * scale() {
            let mut sink_running = Running::start(&sink.config);
            std::thread::sleep(Duration::from_millis(200 + rng.next(500)));
            sink_running.child.kill().unwrap();
            sink_running.child.wait().unwrap();
            std::thread::sleep(Duration::from_millis(rng.next(300)));
        }
        let mut sink_running = Running::start(&sink.config);
        let acked = sender.join().unwrap();
        let got = eventually(Duration::from_secs(60), "every acknowledged record", || {
            let got = delivered(&sink.path("out.ndjson"));
            let have: HashSet<usize> = got.iter().copied().collect();
            acked.iter().all(|id| have.contains(id)).then_some(got)
        });
        agent_running.stop_and_collect_logs();
        sink_running.stop_and_collect_logs();
        let unique: HashSet<usize> = got.iter().copied().collect();
        eprintln!(
            "flapping destination, buffer {buffer}: {} kills, {} acknowledged, {} delivered, {} duplicates",
            KILLS * scale(),
            acked.len(),
            got.len(),
            got.len() - unique.len()
        );
    }
}
