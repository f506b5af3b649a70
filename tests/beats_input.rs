//! The Beats (Lumberjack v2) input end to end with frames written from the protocol's
//! documented bytes (../shared/PROTOCOLS.md §2): plain and zlib windows, pipelined windows,
//! keep-alive ACKs while delivery waits, v1 data frames, and bad frames that close only their
//! own connection. Filebeat and pylogbeat themselves are in `tests/filebeat_peers.rs`.

use crate::support::otlp::Logferry;
use crate::support::{http_get, metric_value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn receiver(extra: &str, output: &str) -> (Logferry, String) {
    let mut lf = Logferry::start(&format!(
        r#"
        shutdown_timeout = "1s"
        [admin]
        listen = "127.0.0.1:0"
        [inputs.beats]
        type = "beats"
        listen = "127.0.0.1:0"
        {extra}
        [outputs.out]
        inputs = ["beats"]
        {output}
        "#
    ));
    // "beats://ADDR", or "beats+tls://ADDR" with TLS.
    let address = lf.running.listening("beats");
    let address = address.rsplit("://").next().unwrap().to_string();
    (lf, address)
}

const FILE: &str = "type = \"file\"\npath = \"@DIR@/out.ndjson\"";

fn window(n: u32) -> Vec<u8> {
    let mut f = b"2W".to_vec();
    f.extend_from_slice(&n.to_be_bytes());
    f
}

fn json(seq: u32, payload: &str) -> Vec<u8> {
    let mut f = b"2J".to_vec();
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    f.extend_from_slice(payload.as_bytes());
    f
}

fn compressed(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(3));
    for f in frames {
        z.write_all(f).unwrap();
    }
    let z = z.finish().unwrap();
    let mut f = b"2C".to_vec();
    f.extend_from_slice(&(z.len() as u32).to_be_bytes());
    f.extend_from_slice(&z);
    f
}

fn event(i: usize) -> String {
    format!(
        r#"{{"@timestamp":"2026-11-29T08:00:00.{:03}Z","@metadata":{{"beat":"filebeat","type":"_doc","version":"7.17.29"}},"message":"event {i}","log":{{"offset":{i},"file":{{"path":"/var/log/x.log"}}}},"input":{{"type":"filestream"}},"host":{{"name":"beat-host"}},"agent":{{"type":"filebeat"}}}}"#,
        i % 1000
    )
}

fn connect(address: &str) -> TcpStream {
    let s = TcpStream::connect(address).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// Reads one ACK frame.
fn ack(s: &mut TcpStream) -> u32 {
    let mut b = [0u8; 6];
    s.read_exact(&mut b).unwrap();
    assert_eq!(&b[..2], b"2A", "{b:?}");
    u32::from_be_bytes([b[2], b[3], b[4], b[5]])
}

/// True when the peer closed the connection (EOF or reset) within the read timeout.
fn closed(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 64];
    matches!(s.read(&mut b), Ok(0) | Err(_))
}

#[test]
fn windows_plain_compressed_and_pipelined_are_acknowledged_after_delivery() {
    let (lf, address) = receiver("", FILE);
    let mut s = connect(&address);
    // A plain window of 3, then two pipelined compressed windows of 2 and 4.
    let mut bytes = window(3);
    for i in 0..3 {
        bytes.extend(json(i as u32 + 1, &event(i)));
    }
    bytes.extend(window(2));
    bytes.extend(compressed(&[json(1, &event(3)), json(2, &event(4))]));
    bytes.extend(window(4));
    bytes.extend(compressed(
        &(5..9)
            .map(|i| json(i as u32 - 4, &event(i)))
            .collect::<Vec<_>>(),
    ));
    s.write_all(&bytes).unwrap();
    assert_eq!([ack(&mut s), ack(&mut s), ack(&mut s)], [3, 2, 4]);
    let records = lf.records(9);
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r["body"]["stringValue"], format!("event {i}"));
        let attrs = r["attributes"].as_array().unwrap();
        let get = |k: &str| {
            attrs
                .iter()
                .find(|kv| kv["key"] == k)
                .map(|kv| kv["value"].clone())
        };
        assert_eq!(
            get("elasticsearch.index").unwrap()["stringValue"],
            "filebeat"
        );
        assert_eq!(
            get("log.file.path").unwrap()["stringValue"],
            "/var/log/x.log"
        );
        assert_eq!(
            get("network.peer.address").unwrap()["stringValue"],
            "127.0.0.1"
        );
        let host = &r["resource"]["attributes"][0];
        assert_eq!(
            (host["key"].as_str(), host["value"]["stringValue"].as_str()),
            (Some("host.name"), Some("beat-host"))
        );
    }
    // An empty window is acknowledged with 0; a v1 data frame is a record too.
    let mut s = connect(&address);
    s.write_all(&window(0)).unwrap();
    assert_eq!(ack(&mut s), 0);
    // A v1 window (logstash-forwarder style) is answered with v1 ACKs.
    let mut d = b"1W\0\0\0\x01".to_vec();
    d.extend_from_slice(b"1D\0\0\0\x01\0\0\0\x02");
    for part in ["line", "from v1", "host", "old-forwarder"] {
        d.extend_from_slice(&(part.len() as u32).to_be_bytes());
        d.extend_from_slice(part.as_bytes());
    }
    s.write_all(&d).unwrap();
    let mut b = [0u8; 6];
    s.read_exact(&mut b).unwrap();
    assert_eq!(b, *b"1A\0\0\0\x01");
    let records = lf.records(10);
    assert_eq!(records[9]["body"]["stringValue"], "from v1");
    // Twelve windows in one write: more than are read ahead per connection; the rest wait
    // in the buffer and every one is acknowledged, in order.
    let mut s = connect(&address);
    let mut bytes = Vec::new();
    for i in 0..12 {
        bytes.extend(window(1));
        bytes.extend(json(1, &event(100 + i)));
    }
    s.write_all(&bytes).unwrap();
    for _ in 0..12 {
        assert_eq!(ack(&mut s), 1);
    }
    let records = lf.records(22);
    assert_eq!(records[21]["body"]["stringValue"], "event 111");
}

#[test]
fn while_delivery_waits_keep_alive_acks_flow_and_nothing_is_acknowledged() {
    let (mut lf, address) = receiver(
        "keepalive_interval = \"200ms\"",
        "type = \"otlp\"\nprotocol = \"http/protobuf\"\nendpoint = \"http://127.0.0.1:9\"",
    );
    let mut s = connect(&address);
    let mut bytes = window(2);
    bytes.extend(json(1, &event(0)));
    bytes.extend(json(2, &event(1)));
    s.write_all(&bytes).unwrap();
    // Only keep-alives while the destination is down.
    for _ in 0..5 {
        assert_eq!(ack(&mut s), 0);
    }
    // At shutdown the connection closes without acknowledging the window: Filebeat resends.
    lf.running.terminate();
    loop {
        let mut b = [0u8; 6];
        match s.read_exact(&mut b) {
            Ok(()) => assert_eq!(b, *b"2A\0\0\0\0", "only keep-alives"),
            Err(_) => break,
        }
    }
    lf.running.wait_log("stopped");
}

#[test]
fn bad_frames_close_only_their_connection_with_the_reason_logged() {
    let (mut lf, address) = receiver("max_frame_bytes = \"64KiB\"\nmax_window = 100", FILE);
    let mut good = connect(&address);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("unsupported protocol version", b"3W\0\0\0\x01".to_vec()),
        ("unknown frame type", b"2Q\0\0\0\x01".to_vec()),
        ("exceeds max_frame_bytes", {
            let mut f = window(1);
            f.extend_from_slice(b"2J\0\0\0\x01\xff\xff\xff\xff");
            f
        }),
        ("exceeds max_window", window(101)),
        ("event frame before a window frame", json(1, "{}")),
        ("compressed frame", {
            let mut f = window(1);
            f.extend_from_slice(b"2C\0\0\0\x04nope");
            f
        }),
        ("does not follow", {
            let mut f = window(2);
            f.extend(json(2, "{}"));
            f.extend(json(1, "{}"));
            f
        }),
    ];
    for (reason, bytes) in &cases {
        let mut s = connect(&address);
        s.write_all(bytes).unwrap();
        assert!(closed(&mut s), "{reason}: still open");
        lf.running.wait_log(reason);
    }
    // A truncated frame and then a hang-up: nothing is acknowledged or written.
    let mut s = connect(&address);
    let mut cut = window(1);
    cut.extend_from_slice(&json(1, &event(0))[..20]);
    s.write_all(&cut).unwrap();
    drop(s);
    // The connection opened first still works, and an event that is not JSON is kept whole.
    let mut bytes = window(2);
    bytes.extend(json(1, "{not json"));
    bytes.extend(json(2, &event(7)));
    good.write_all(&bytes).unwrap();
    assert_eq!(ack(&mut good), 2);
    let records = lf.records(2);
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["body"]["stringValue"], "{not json");
    assert!(
        records[0]["attributes"]
            .to_string()
            .contains("beats.parse_error")
    );
    assert_eq!(records[1]["body"]["stringValue"], "event 7");
    let m = http_get(&lf.running.admin_address(), "/metrics").1;
    assert!(metric_value(&m, "logferry_input_errors_total{input=\"beats\"}").unwrap() >= 7);
    assert_eq!(
        metric_value(&m, "logferry_input_parse_failures_total{input=\"beats\"}"),
        Some(1)
    );
}

#[test]
fn tls_connections_are_served() {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let dir = tempfile::tempdir().unwrap();
    let certs = crate::support::syslog::certs(dir.path());
    let c = |f: &str| certs.join(f).display().to_string();
    let (mut running, address) = receiver(
        &format!(
            "tls = {{ cert_file = \"{}\", key_file = \"{}\" }}",
            c("server.pem"),
            c("server.key")
        ),
        FILE,
    );
    assert!(
        running
            .running
            .listening("beats+tls://")
            .ends_with(&address)
    );
    let port = crate::support::otlp::port_of(&address);
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(certs.join("ca.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let acked = crate::support::otlp::runtime().block_on(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let mut tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
            .connect(name, tcp)
            .await
            .unwrap();
        let mut bytes = window(1);
        bytes.extend(json(1, &event(42)));
        tls.write_all(&bytes).await.unwrap();
        let mut ack = [0u8; 6];
        tls.read_exact(&mut ack).await.unwrap();
        ack
    });
    assert_eq!(acked, *b"2A\0\0\0\x01");
    assert_eq!(running.records(1)[0]["body"]["stringValue"], "event 42");
}
