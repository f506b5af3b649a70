//! The syslog input against real senders: util-linux `logger` straight to each transport,
//! and rsyslog and syslog-ng forwarding over UDP, TCP (LF and octet-counted) and TLS.

use std::process::Command;

use crate::support::syslog::{Peer, Receiver, attribute, body, certs, logger, resource_str};

/// What the three test messages must become, whoever forwarded them.
fn check_three(records: &[serde_json::Value], host: Option<&str>) {
    let find = |text: &str| {
        records
            .iter()
            .find(|r| body(r) == text)
            .unwrap_or_else(|| panic!("no record with body {text:?} in {records:#?}"))
    };
    for (text, app, severity) in [
        ("hello one", "app1", 10),
        ("hello two", "app2", 10),
        ("hello three", "app3", 13),
    ] {
        let r = find(text);
        assert_eq!(resource_str(r, "service.name"), Some(app), "{r}");
        assert_eq!(r["severityNumber"], severity, "{r}");
        assert!(attribute(r, "syslog.parse_error").is_none(), "{r}");
        assert!(r["timeUnixNano"].as_str().is_some(), "{r}");
        // logger's RFC 5424 form names its own host; the local form takes the forwarder's.
        let expected = if text == "hello two" {
            resource_str(r, "host.name")
        } else {
            host
        };
        assert!(resource_str(r, "host.name").is_some(), "{r}");
        assert_eq!(resource_str(r, "host.name"), expected, "{r}");
    }
    let three = find("hello three");
    assert_eq!(
        attribute(three, "syslog.facility").unwrap()["intValue"],
        "19",
        "local3 = 19"
    );
    assert_eq!(three["severityText"], "warning");
}

fn send_three(peer: &Peer, socket_5424: &str) {
    let sock = peer.socket("in.sock");
    let sock5424 = peer.socket(socket_5424);
    logger(&["--socket", &sock, "-t", "app1", "hello one"]);
    logger(&[
        "--socket",
        &sock5424,
        "--rfc5424",
        "-t",
        "app2",
        "-i",
        "--msgid",
        "MID",
        "hello two",
    ]);
    logger(&[
        "--socket",
        &sock,
        "-t",
        "app3",
        "-i",
        "-p",
        "local3.warning",
        "hello three",
    ]);
}

fn forward(script: &str, mode: &str, scheme: &str) -> Vec<serde_json::Value> {
    let mut receiver = Receiver::start(&[&format!("{scheme}://127.0.0.1:0")], "");
    let port = receiver.port(scheme);
    let peer = Peer::start(script, mode, port, None, &[]);
    send_three(
        &peer,
        if script == "syslog-ng.sh" {
            "in5424.sock"
        } else {
            "in.sock"
        },
    );
    let records = receiver.records(3);
    check_three(&records, Some("peerhost"));
    for r in &records {
        assert_eq!(
            attribute(r, "network.transport").unwrap()["stringValue"],
            if scheme == "udp" { "udp" } else { "tcp" }
        );
        assert_eq!(
            attribute(r, "network.peer.address").unwrap()["stringValue"],
            "127.0.0.1"
        );
    }
    records
}

#[test]
fn rsyslog_udp_rfc5424() {
    let records = forward("rsyslog.sh", "udp", "udp");
    let two = records.iter().find(|r| body(r) == "hello two").unwrap();
    assert_eq!(
        attribute(two, "syslog.msgid").unwrap()["stringValue"],
        "MID"
    );
}

#[test]
fn rsyslog_udp_traditional_format() {
    forward("rsyslog.sh", "udp-3164", "udp");
}

#[test]
fn rsyslog_tcp_newline_framing() {
    forward("rsyslog.sh", "tcp", "tcp");
}

#[test]
fn rsyslog_tcp_traditional_format() {
    forward("rsyslog.sh", "tcp-3164", "tcp");
}

#[test]
fn rsyslog_tcp_octet_counting() {
    forward("rsyslog.sh", "tcp-octet", "tcp");
}

#[test]
fn syslog_ng_udp() {
    forward("syslog-ng.sh", "udp", "udp");
}

#[test]
fn syslog_ng_tcp_newline_framing() {
    forward("syslog-ng.sh", "tcp", "tcp");
}

#[test]
fn syslog_ng_tcp_octet_counting_rfc5424() {
    let records = forward("syslog-ng.sh", "tcp-octet", "tcp");
    // syslog-ng adds its own structured data: it must arrive as a map.
    let one = records.iter().find(|r| body(r) == "hello one").unwrap();
    let sd = attribute(one, "syslog.structured_data").expect("structured data");
    assert!(sd.to_string().contains("sequenceId"), "{sd}");
}

fn tls_forward(script: &str, mutual: bool) {
    let dir = tempfile::tempdir().unwrap();
    let certs = certs(dir.path());
    let c = |f: &str| certs.join(f).display().to_string();
    let client_ca = if mutual {
        format!(", client_ca_file = \"{}\"", c("ca.pem"))
    } else {
        String::new()
    };
    let tls = format!(
        "tls = {{ cert_file = \"{}\", key_file = \"{}\"{client_ca} }}",
        c("server.pem"),
        c("server.key")
    );
    let mut receiver = Receiver::start(&["tls://127.0.0.1:0"], &tls);
    let port = receiver.port("tls");
    let (cert, key) = (c("client.pem"), c("client.key"));
    let env: Vec<(&str, &str)> = if mutual {
        vec![("TLS_CLIENT_CERT", &cert), ("TLS_CLIENT_KEY", &key)]
    } else {
        vec![]
    };
    let peer = Peer::start(script, "tls", port, Some(&certs.join("ca.pem")), &env);
    send_three(
        &peer,
        if script == "syslog-ng.sh" {
            "in5424.sock"
        } else {
            "in.sock"
        },
    );
    check_three(&receiver.records(3), Some("peerhost"));
}

#[test]
fn rsyslog_tls_with_client_certificates() {
    tls_forward("rsyslog.sh", true);
}

#[test]
fn syslog_ng_tls() {
    tls_forward("syslog-ng.sh", false);
}

#[test]
fn logger_to_every_transport() {
    let dir = tempfile::Builder::new()
        .prefix("lfl")
        .tempdir_in("/tmp")
        .unwrap();
    let dgram = dir.path().join("log.sock").display().to_string();
    let stream = dir.path().join("stream.sock").display().to_string();
    let mut receiver = Receiver::start(
        &[
            "udp://127.0.0.1:0",
            "tcp://127.0.0.1:0",
            &format!("unix://{dgram}"),
            &format!("unix-stream://{stream}"),
        ],
        "",
    );
    let (udp, tcp) = (
        receiver.port("udp").to_string(),
        receiver.port("tcp").to_string(),
    );
    logger(&[
        "-n",
        "127.0.0.1",
        "-P",
        &udp,
        "--udp",
        "-t",
        "l1",
        "via udp",
    ]);
    logger(&[
        "-n",
        "127.0.0.1",
        "-P",
        &tcp,
        "--tcp",
        "-t",
        "l2",
        "via tcp",
    ]);
    logger(&[
        "-n",
        "127.0.0.1",
        "-P",
        &tcp,
        "--tcp",
        "--octet-count",
        "-t",
        "l3",
        "via tcp octet",
    ]);
    logger(&[
        "-n",
        "127.0.0.1",
        "-P",
        &udp,
        "--udp",
        "--rfc3164",
        "-t",
        "l4",
        "via udp 3164",
    ]);
    logger(&["--socket", &dgram, "-t", "l5", "-p", "auth.err", "via unix"]);
    logger(&["--socket", &stream, "--tcp", "-t", "l6", "via unix stream"]);
    logger(&[
        "-n",
        "127.0.0.1",
        "-P",
        &tcp,
        "--tcp",
        "--sd-id",
        "origin@32473",
        "--sd-param",
        "ip=\"10.0.0.1\"",
        "-t",
        "l7",
        "with sd",
    ]);
    logger(&[
        "-n",
        "127.0.0.1",
        "-P",
        &udp,
        "--udp",
        "--rfc5424",
        "-i",
        "--msgid",
        "M42",
        "-t",
        "l8",
        "with ids",
    ]);
    let records = receiver.records(8);
    let find = |text: &str| {
        records
            .iter()
            .find(|r| body(r) == text)
            .unwrap_or_else(|| panic!("{text:?} missing: {records:#?}"))
    };
    for (text, app, transport) in [
        ("via udp", "l1", "udp"),
        ("via tcp", "l2", "tcp"),
        ("via tcp octet", "l3", "tcp"),
        ("via udp 3164", "l4", "udp"),
        ("via unix", "l5", "unix"),
        ("via unix stream", "l6", "unix"),
        ("with sd", "l7", "tcp"),
        ("with ids", "l8", "udp"),
    ] {
        let r = find(text);
        assert_eq!(resource_str(r, "service.name"), Some(app), "{r}");
        assert_eq!(
            attribute(r, "network.transport").unwrap()["stringValue"],
            transport,
            "{r}"
        );
        assert!(attribute(r, "syslog.parse_error").is_none(), "{r}");
    }
    let now_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i128;
    let hostname = String::from_utf8(Command::new("hostname").output().unwrap().stdout).unwrap();
    for r in &records {
        // Every message carries its own time (logger stamps each), close to now.
        let t: i128 = r["timeUnixNano"].as_str().expect("time").parse().unwrap();
        assert!((now_ns - t).abs() < 120 * 1_000_000_000, "{r}");
        let severity = r["severityNumber"].as_i64().unwrap_or(0);
        assert!((1..=24).contains(&severity), "{r}");
        assert!(attribute(r, "syslog.facility").is_some(), "{r}");
        if body(r) != "via unix" && body(r) != "via unix stream" {
            // Over the network logger names the host; over the local socket the daemon would.
            assert_eq!(resource_str(r, "host.name"), Some(hostname.trim()), "{r}");
        }
    }
    let with_ids = find("with ids");
    assert_eq!(
        attribute(with_ids, "syslog.msgid").unwrap()["stringValue"],
        "M42"
    );
    assert_eq!(
        attribute(with_ids, "syslog.version").unwrap()["intValue"],
        "1"
    );
    let procid = attribute(with_ids, "syslog.procid").unwrap()["stringValue"]
        .as_str()
        .unwrap();
    assert!(procid.parse::<u32>().is_ok(), "procid {procid:?}");
    let unix = find("via unix");
    assert_eq!(
        (
            unix["severityNumber"].as_i64(),
            unix["severityText"].as_str()
        ),
        (Some(17), Some("err"))
    );
    assert_eq!(attribute(unix, "syslog.facility").unwrap()["intValue"], "4");
    let sd = attribute(find("with sd"), "syslog.structured_data").unwrap();
    let origin = sd["kvlistValue"]["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|kv| kv["key"] == "origin@32473")
        .expect("origin SD element");
    assert_eq!(
        origin["value"]["kvlistValue"]["values"][0]["value"]["stringValue"],
        "10.0.0.1"
    );
}
