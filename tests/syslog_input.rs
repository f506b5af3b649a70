//! The syslog input's error paths with raw bytes: malformed messages, broken framing,
//! over-long messages, refused TLS clients and a taken port. Each shows the error (kept
//! record, counter, log line or exit code) and that the good messages around it arrive.

use crate::support::syslog::{Receiver, attribute, body, certs};
use crate::support::{Setup, wait_output};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

fn metric(metrics: &str, name: &str) -> u64 {
    crate::support::metric_value(metrics, name)
        .unwrap_or_else(|| panic!("{name} missing in:\n{metrics}"))
}

#[test]
fn malformed_messages_and_mixed_framing_keep_every_good_record_in_order() {
    let mut receiver = Receiver::start(&["tcp://127.0.0.1:0"], "");
    let port = receiver.port("tcp");
    let good = |n: usize| format!("<14>1 2026-11-29T01:02:03.5Z host app - - - good {n}");
    let mut stream = Vec::new();
    let counted = |m: &str| format!("{} {m}", m.len());
    stream.extend(counted(&good(1)).as_bytes());
    stream.extend(format!("{}\n", good(2)).as_bytes());
    stream.extend(b"this is not syslog at all\n");
    stream.extend(format!("{}\r\n", good(3)).as_bytes());
    stream.extend(b"<999>1 bad pri\n");
    stream.extend(format!("{}\0", good(4)).as_bytes());
    stream.extend(b"<14>1 2026-13-45T99:99:99Z host app - - - broken timestamp\n");
    stream.extend(b"\xff\xfe invalid utf-8\n");
    stream.extend(b"99999999999 a length prefix no one should believe\n");
    stream.extend(counted(&good(5)).as_bytes());
    stream.extend(format!("{}\n", good(6)).as_bytes());
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    // Byte by byte for the first part: framing must not depend on how reads split.
    for chunk in stream.chunks(7) {
        conn.write_all(chunk).unwrap();
    }
    drop(conn);
    let records = receiver.records(11);
    let bodies: Vec<&str> = records.iter().map(body).collect();
    let goods: Vec<&str> = bodies
        .iter()
        .copied()
        .filter(|b| b.starts_with("good "))
        .collect();
    assert_eq!(
        goods,
        ["good 1", "good 2", "good 3", "good 4", "good 5", "good 6"],
        "{bodies:?}"
    );
    let bad: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| attribute(r, "syslog.parse_error").is_some())
        .collect();
    assert_eq!(
        bad.len(),
        5,
        "five unparseable lines kept whole: {bodies:?}"
    );
    assert!(bodies.contains(&"this is not syslog at all"));
    assert!(
        bodies.contains(&"\u{fffd}\u{fffd} invalid utf-8"),
        "{bodies:?}"
    );
    assert!(
        bad.iter().all(|r| r["severityNumber"].is_null()),
        "no severity for unparseable lines"
    );
    let good_one = records.iter().find(|r| body(r) == "good 1").unwrap();
    assert_eq!(good_one["timeUnixNano"], "1795914123500000000");
    let metrics = receiver.metrics();
    assert_eq!(
        metric(
            &metrics,
            "logferry_input_parse_failures_total{input=\"sys\"}"
        ),
        5
    );
    assert_eq!(
        metric(
            &metrics,
            "logferry_records_total{input=\"sys\",output=\"out\",outcome=\"delivered\"}"
        ),
        11
    );
    // Five failures on one connection: counted five times, logged once.
    let logs = receiver.running.stop_and_collect_logs();
    let warned = logs
        .iter()
        .filter(|l| l.contains("unparseable syslog message"))
        .count();
    assert_eq!(warned, 1, "{logs:#?}");
}

#[test]
fn over_long_messages_are_truncated_marked_counted_and_the_stream_stays_in_step() {
    let mut receiver = Receiver::start(
        &["tcp://127.0.0.1:0", "udp://127.0.0.1:0"],
        "max_message_bytes = 100",
    );
    let (tcp, udp) = (receiver.port("tcp"), receiver.port("udp"));
    let long = format!("<14>1 - host app - - - {}", "x".repeat(1000));
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", tcp)).unwrap();
    write!(conn, "{} {long}", long.len()).unwrap();
    write!(
        conn,
        "<14>1 - host app - - - after counted\n{long}\n<14>1 - host app - - - after line\n"
    )
    .unwrap();
    drop(conn);
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.send_to(long.as_bytes(), ("127.0.0.1", udp)).unwrap();
    let records = receiver.records(5);
    let truncated: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| attribute(r, "log.truncated").is_some())
        .collect();
    assert_eq!(truncated.len(), 3);
    for r in &truncated {
        assert_eq!(attribute(r, "log.truncated").unwrap()["boolValue"], true);
        assert!(body(r).len() < 100 && body(r).starts_with("xxx"), "{r}");
    }
    let bodies: Vec<&str> = records.iter().map(body).collect();
    assert!(
        bodies.contains(&"after counted") && bodies.contains(&"after line"),
        "{bodies:?}"
    );
    assert_eq!(
        metric(
            &receiver.metrics(),
            "logferry_input_truncated_total{input=\"sys\"}"
        ),
        3
    );
}

#[test]
fn a_tls_client_without_a_certificate_is_refused_and_one_with_it_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let certs = certs(dir.path());
    let c = |f: &str| certs.join(f).display().to_string();
    let tls = format!(
        "tls = {{ cert_file = \"{}\", key_file = \"{}\", client_ca_file = \"{}\" }}",
        c("server.pem"),
        c("server.key"),
        c("ca.pem")
    );
    let mut receiver = Receiver::start(&["tls://127.0.0.1:0"], &tls);
    let port = receiver.port("tls").to_string();
    let send = |extra: &[&str], line: &str| {
        let mut child = Command::new("openssl")
            .args([
                "s_client",
                "-quiet",
                "-no_ign_eof",
                "-connect",
                &format!("127.0.0.1:{port}"),
                "-CAfile",
                &c("ca.pem"),
            ])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("openssl (installed by tests/peers/syslog/setup.sh)");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(line.as_bytes())
            .unwrap();
        wait_output(child, Duration::from_secs(30))
    };
    send(&[], "<14>1 - host app - - - without a certificate\n");
    receiver.running.wait_log("TLS handshake failed");
    send(
        &["-cert", &c("client.pem"), "-key", &c("client.key")],
        "<14>1 - host app - - - with a certificate\n",
    );
    let records = receiver.records(1);
    assert_eq!(
        records.iter().map(body).collect::<Vec<_>>(),
        ["with a certificate"]
    );
    assert_eq!(
        metric(
            &receiver.metrics(),
            "logferry_input_errors_total{input=\"sys\"}"
        ),
        1
    );
}

#[test]
fn a_taken_port_fails_the_start_with_the_endpoint_named() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let setup = Setup::new(&format!(
        "[admin]\nenabled = false\n[inputs.sys]\ntype = \"syslog\"\nlisten = [\"tcp://127.0.0.1:{port}\"]\n\
         [outputs.out]\ntype = \"file\"\ninputs = [\"sys\"]\npath = \"@DIR@/out.ndjson\"\n"
    ));
    let out = setup.run(&[], b"");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot bind tcp://127.0.0.1:{port}")),
        "{stderr}"
    );
}

#[test]
fn tls_without_certificates_and_bad_endpoints_are_config_errors() {
    for (listen, extra, needle) in [
        ("tls://127.0.0.1:0", "", "tls://"),
        ("tcp://logs.example:514", "", "IP address"),
        (
            "udp://127.0.0.1:0",
            "default_timezone = \"Mars\"",
            "default_timezone",
        ),
    ] {
        let setup = Setup::new(&format!(
            "[inputs.sys]\ntype = \"syslog\"\nlisten = [\"{listen}\"]\n{extra}\n\
             [outputs.out]\ntype = \"file\"\ninputs = [\"sys\"]\npath = \"@DIR@/out.ndjson\"\n"
        ));
        let out = setup.run(&["validate"], b"");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(78), "{stderr}");
        assert!(
            stderr.contains("inputs.sys") && stderr.contains(needle),
            "{stderr}"
        );
    }
}

#[test]
fn idle_slow_and_garbage_connections_do_not_hold_up_the_others() {
    let mut receiver = Receiver::start(&["tcp://127.0.0.1:0"], "");
    let port = receiver.port("tcp");
    let connect = || std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    // One connects and sends nothing; one sends random bytes; one trickles a message.
    let idle = connect();
    let mut garbage = connect();
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let random: Vec<u8> = (0..20_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    garbage.write_all(&random).unwrap();
    let mut slow = connect();
    slow.write_all(b"<14>1 - host app - - - slo").unwrap();
    // A well-behaved sender is served meanwhile, including a truncated octet count at its end.
    let mut good = connect();
    good.write_all(b"<14>1 - host app - - - prompt\n40 <14>1 - host app - - - cut sho")
        .unwrap();
    drop(good);
    receiver.records_with("prompt");
    let records = receiver.records_with("cut sho");
    let cut = records
        .iter()
        .find(|r| body(r) == "cut sho")
        .expect("the truncated count's message is kept");
    assert_eq!(attribute(cut, "log.truncated").unwrap()["boolValue"], true);
    slow.write_all(b"w\n").unwrap();
    drop(slow);
    drop(garbage);
    receiver.records_with("slow");
    // The listener is still up for new connections.
    drop(idle);
    let mut again = connect();
    again
        .write_all(b"<14>1 - host app - - - still listening\n")
        .unwrap();
    drop(again);
    receiver.records_with("still listening");
    let metrics = receiver.metrics();
    assert!(
        metric(
            &metrics,
            "logferry_input_parse_failures_total{input=\"sys\"}"
        ) > 0,
        "random bytes are counted"
    );
}
