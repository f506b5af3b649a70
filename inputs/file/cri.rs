//! Container logs as Kubernetes nodes write them (the CRI format, under `/var/log/pods` and
//! `/var/log/containers`): `<RFC 3339 time> <stdout|stderr> <P|F> <message>`, a message the
//! runtime split (`P`, partial) continuing on the next lines until one marked `F`. With
//! `format = "cri"` each message becomes one record: its time, `log.iostream`, the message
//! as the body (partials joined), and the pod's identity from the file's path on the resource.
//! A line that is not in this format is kept whole, marked `log.parse_error`.

use super::multiline::Piece;
use crate::record::{AnyValue, Str};
use bytes::{Bytes, BytesMut};
use std::path::Path;

/// One complete message.
pub(crate) struct Message {
    /// The message (a slice of the line unless partials were joined), with the offsets of
    /// its first and last lines.
    pub piece: Piece,
    pub time: u64,
    pub stream: &'static str,
    /// Why the line is not CRI (the whole line is then the body).
    pub error: Option<&'static str>,
}

/// Joins partial messages, per file.
#[derive(Default)]
pub(crate) struct Joiner {
    open: Option<(Message, BytesMut)>,
}

/// `time stream tag message` → (time ns, stream, partial, message offset).
fn parse(line: &[u8]) -> Result<(u64, &'static str, bool, usize), &'static str> {
    let mut fields = line.splitn(4, |b| *b == b' ');
    let time = fields.next().ok_or("empty line")?;
    let stream = fields.next().ok_or("no stream field")?;
    let tag = fields.next().ok_or("no P/F tag")?;
    let time = std::str::from_utf8(time)
        .ok()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .and_then(|t| t.timestamp_nanos_opt())
        .and_then(|t| u64::try_from(t).ok())
        .ok_or("not an RFC 3339 time")?;
    let stream = match stream {
        b"stdout" => "stdout",
        b"stderr" => "stderr",
        _ => return Err("stream is neither stdout nor stderr"),
    };
    let partial = match tag {
        b"P" => true,
        b"F" => false,
        // Some runtimes add flags after the tag: `F:x`.
        t if t.starts_with(b"F:") => false,
        t if t.starts_with(b"P:") => true,
        _ => return Err("tag is neither P nor F"),
    };
    let at = (time_len(line) + 1 + stream.len() + 1 + tag.len() + 1).min(line.len());
    Ok((time, stream, partial, at))
}

fn time_len(line: &[u8]) -> usize {
    memchr::memchr(b' ', line).unwrap_or(line.len())
}

impl Joiner {
    /// Takes a line; returns a message once it is complete.
    pub fn push(&mut self, line: Piece) -> Option<Message> {
        let (time, stream, partial, at) = match parse(&line.bytes) {
            Ok(parsed) => parsed,
            Err(error) => {
                // An open partial (the runtime never leaves one unfinished before another
                // line) is closed into this line's record, so offsets stay in order.
                let mut message = Message {
                    piece: line,
                    time: 0,
                    stream: "",
                    error: Some(error),
                };
                if let Some((open, mut joined)) = self.open.take() {
                    joined.extend_from_slice(&message.piece.bytes);
                    message.piece.start = open.piece.start;
                    message.piece.bytes = joined.freeze();
                }
                return Some(message);
            }
        };
        let text = line.bytes.slice(at..);
        match (self.open.take(), partial) {
            (None, false) => Some(Message {
                piece: Piece {
                    bytes: text,
                    ..line
                },
                time,
                stream,
                error: None,
            }),
            (None, true) => {
                let joined = BytesMut::from(&text[..]);
                self.open = Some((
                    Message {
                        piece: Piece {
                            bytes: Bytes::new(),
                            ..line
                        },
                        time,
                        stream,
                        error: None,
                    },
                    joined,
                ));
                None
            }
            (Some((mut open, mut joined)), partial) => {
                joined.extend_from_slice(&text);
                open.piece.end = line.end;
                open.piece.truncated |= line.truncated;
                if partial {
                    self.open = Some((open, joined));
                    return None;
                }
                open.piece.bytes = joined.freeze();
                Some(open)
            }
        }
    }

    /// The open partial message, if any, as it is (the file ended or went away).
    pub fn flush(&mut self) -> Option<Message> {
        self.open.take().map(|(mut open, joined)| {
            open.piece.bytes = joined.freeze();
            open
        })
    }
}

/// The pod's identity from a container log's path, as OTel resource attributes:
/// `/var/log/pods/NAMESPACE_POD_UID/CONTAINER/RESTART.log` or
/// `/var/log/containers/POD_NAMESPACE_CONTAINER-ID.log`.
pub(crate) fn kubernetes_resource(path: &Path) -> Vec<(Str, AnyValue)> {
    let text = path.to_string_lossy();
    let parts: Vec<&str> = text.split('/').collect();
    let attr = |k: &'static str, v: &str| (Str::from_static(k), AnyValue::from(v.to_string()));
    if let Some(i) = parts.iter().position(|p| *p == "pods")
        && parts.len() >= i + 4
    {
        let mut ids = parts[i + 1].splitn(3, '_');
        if let (Some(ns), Some(pod), Some(uid)) = (ids.next(), ids.next(), ids.next()) {
            let mut out = vec![
                attr("k8s.namespace.name", ns),
                attr("k8s.pod.name", pod),
                attr("k8s.pod.uid", uid),
                attr("k8s.container.name", parts[i + 2]),
            ];
            if let Some(n) = parts[i + 3]
                .strip_suffix(".log")
                .and_then(|n| n.parse::<i64>().ok())
            {
                out.push((
                    Str::from_static("k8s.container.restart_count"),
                    AnyValue::Int(n),
                ));
            }
            return out;
        }
    }
    if let Some(name) = parts.last().and_then(|n| n.strip_suffix(".log")) {
        let mut ids = name.splitn(3, '_');
        if let (Some(pod), Some(ns), Some(rest)) = (ids.next(), ids.next(), ids.next())
            && let Some((container, id)) = rest.rsplit_once('-')
            && id.len() == 64
            && id.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return vec![
                attr("k8s.pod.name", pod),
                attr("k8s.namespace.name", ns),
                attr("k8s.container.name", container),
                attr("container.id", id),
            ];
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(text: &str, start: u64) -> Piece {
        Piece {
            bytes: Bytes::from(text.to_string()),
            start,
            end: start + text.len() as u64 + 1,
            truncated: false,
        }
    }

    #[test]
    fn full_and_partial_messages() {
        let mut j = Joiner::default();
        let m = j
            .push(piece(
                "2026-11-29T10:00:00.123456789Z stdout F hello world",
                0,
            ))
            .unwrap();
        assert_eq!(&m.piece.bytes[..], b"hello world");
        assert_eq!(
            (m.time, m.stream, m.error),
            (1_795_946_400_123_456_789, "stdout", None)
        );
        assert!(
            j.push(piece("2026-11-29T10:00:01Z stderr P part one, ", 52))
                .is_none()
        );
        assert!(
            j.push(piece("2026-11-29T10:00:01Z stderr P part two, ", 92))
                .is_none()
        );
        let m = j
            .push(piece("2026-11-29T10:00:01Z stderr F the end", 132))
            .unwrap();
        assert_eq!(&m.piece.bytes[..], b"part one, part two, the end");
        assert_eq!((m.piece.start, m.piece.end, m.stream), (52, 170, "stderr"));
        let m = j
            .push(piece("2026-11-29T10:00:02Z stdout F ", 170))
            .unwrap();
        assert_eq!(&m.piece.bytes[..], b"");
        let m = j.push(piece("just a line", 200)).unwrap();
        assert_eq!(
            (&m.piece.bytes[..], m.error),
            (&b"just a line"[..], Some("not an RFC 3339 time"))
        );
        assert!(
            j.push(piece("2026-11-29T10:00:03Z stdout P unfinished", 212))
                .is_none()
        );
        assert_eq!(&j.flush().unwrap().piece.bytes[..], b"unfinished");
        assert!(j.flush().is_none());
    }

    #[test]
    fn the_pod_from_the_path() {
        let pods = kubernetes_resource(Path::new(
            "/var/log/pods/shop_checkout-7d9f_0b7e0c3e-8f0a-4c4e-9c59-5d1f6b1f2a11/app/3.log",
        ));
        let get = |attrs: &[(Str, AnyValue)], k: &str| {
            attrs
                .iter()
                .find(|(key, _)| key.as_str() == k)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(
            get(&pods, "k8s.namespace.name"),
            Some(AnyValue::from("shop"))
        );
        assert_eq!(
            get(&pods, "k8s.pod.name"),
            Some(AnyValue::from("checkout-7d9f"))
        );
        assert_eq!(
            get(&pods, "k8s.container.name"),
            Some(AnyValue::from("app"))
        );
        assert_eq!(
            get(&pods, "k8s.container.restart_count"),
            Some(AnyValue::Int(3))
        );
        let id = "a".repeat(64);
        let containers = kubernetes_resource(Path::new(&format!(
            "/var/log/containers/checkout-7d9f_shop_app-{id}.log"
        )));
        assert_eq!(
            get(&containers, "k8s.namespace.name"),
            Some(AnyValue::from("shop"))
        );
        assert_eq!(
            get(&containers, "k8s.container.name"),
            Some(AnyValue::from("app"))
        );
        assert_eq!(get(&containers, "container.id"), Some(AnyValue::from(id)));
        assert!(kubernetes_resource(Path::new("/var/log/syslog")).is_empty());
    }
}
