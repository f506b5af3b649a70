//! Listener limits against clients that misbehave on purpose: a connection that sends
//! nothing, or dribbles a request header byte by byte, is closed after `idle_timeout` and
//! frees its slot; well-behaved requests go on being served.

use crate::support::free_port;
use crate::support::numbered::{bulk_send, http_post};
use crate::support::otlp::Logferry;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Waits until the server closes `stream`; how long that took.
fn closed_within(mut stream: TcpStream, limit: Duration) -> Duration {
    let started = Instant::now();
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 256];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return started.elapsed(),
            // A 408 or 400 answer before the close is fine.
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return started.elapsed(),
            Err(e) => panic!("still open after {limit:?}: {e}"),
        }
    }
}

fn misbehave_then_serve(port: u16, serve: impl Fn() -> bool) {
    // Connects and sends nothing.
    let silent = TcpStream::connect(("127.0.0.1", port)).unwrap();
    // Dribbles a header, one byte every 100 ms, never finishing it.
    let dribbler = std::thread::spawn(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let writer = s.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut writer = writer;
            for b in
                b"POST /v1/logs HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaa".iter()
            {
                if writer.write_all(&[*b]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let started = Instant::now();
        let mut buf = [0u8; 256];
        loop {
            match s.read(&mut buf) {
                Ok(0) => return started.elapsed(),
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                    return started.elapsed();
                }
                Err(e) => panic!("the dribbling client is still connected: {e}"),
            }
        }
    });
    let took = closed_within(silent, Duration::from_secs(5));
    assert!(
        took < Duration::from_secs(3),
        "silent client closed after {took:?}"
    );
    let took = dribbler.join().unwrap();
    assert!(
        took < Duration::from_secs(3),
        "dribbling client closed after {took:?}"
    );
    assert!(serve(), "a well-behaved request after them");
}

#[test]
fn otlp_http_closes_idle_and_slow_clients() {
    let mut lf = Logferry::receiver("idle_timeout = \"300ms\"");
    let port = lf.http_port();
    misbehave_then_serve(port, || {
        let body =
            r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"ok"}}]}]}]}"#;
        matches!(
            http_post(port, "/v1/logs", "application/json", body.as_bytes()),
            Some((200, _))
        )
    });
    lf.records(1);
}

#[test]
fn bulk_api_closes_idle_and_slow_clients() {
    let port = free_port();
    let mut lf = Logferry::start(&format!(
        r#"
        [admin]
        enabled = false
        [inputs.es]
        type = "elasticsearch"
        listen = "127.0.0.1:{port}"
        idle_timeout = "300ms"
        [outputs.out]
        type = "file"
        inputs = ["es"]
        path = "@DIR@/out.ndjson"
        "#
    ));
    lf.running.listening("http://");
    misbehave_then_serve(port, || bulk_send(port, 0..10));
}
