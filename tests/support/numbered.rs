//! Numbered records for delivery tests: `rec-NNNNNNN` messages, sent by plain protocol
//! clients that report whether the sender was told they were accepted, and found again in
//! an output file.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

/// The message of record `id`.
pub fn message(id: usize) -> String {
    format!("rec-{id:07}")
}

/// Every `rec-NNNNNNN` in the output, in order (found by pattern, so a line cut by the
/// kill cannot hide the ones after it).
pub fn delivered(path: &Path) -> Vec<usize> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut ids = Vec::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("rec-") {
        let digits = &rest[at + 4..];
        if digits.len() >= 7 && digits.as_bytes()[..7].iter().all(u8::is_ascii_digit) {
            ids.push(digits[..7].parse().unwrap());
        }
        rest = &rest[at + 4..];
    }
    ids
}

/// One HTTP/1.1 request on a fresh connection; the status and body, or `None` when the
/// connection failed (logferry down or killed mid-request).
pub fn http_post(port: u16, path: &str, content_type: &str, body: &[u8]) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let status = answer.split(' ').nth(1)?.parse().ok()?;
    let body = answer.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}

/// One `_bulk` request creating records `ids`; true when every item was accepted.
pub fn bulk_send(port: u16, ids: std::ops::Range<usize>) -> bool {
    let mut body = String::new();
    for id in ids {
        body.push_str("{\"create\":{\"_index\":\"logs\"}}\n");
        body.push_str(&format!("{{\"message\":\"{}\"}}\n", message(id)));
    }
    match http_post(port, "/_bulk", "application/x-ndjson", body.as_bytes()) {
        Some((200, answer)) => answer.contains("\"errors\":false"),
        _ => false,
    }
}
