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
use std::time::{Duration, Instant};

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

/// Joins partial messages, per file and stream (the runtime writes stdout and stderr to one
/// file, and their lines may interleave).
pub(crate) struct Joiner {
    open: [Option<Open>; 2],
    /// Longest message kept; the rest of a longer one is dropped and it is marked truncated.
    max: usize,
}

struct Open {
    message: Message,
    joined: BytesMut,
    since: Instant,
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

fn slot(stream: &str) -> usize {
    usize::from(stream == "stderr")
}

impl Joiner {
    pub fn new(max: usize) -> Self {
        Joiner {
            open: [None, None],
            max,
        }
    }

    /// Takes a line; returns a message once it is complete.
    pub fn push(&mut self, line: Piece) -> Option<Message> {
        let (time, stream, partial, at) = match parse(&line.bytes) {
            Ok(parsed) => parsed,
            Err(error) => {
                return Some(Message {
                    piece: line,
                    time: 0,
                    stream: "",
                    error: Some(error),
                });
            }
        };
        let text = line.bytes.slice(at..);
        let max = self.max;
        match (self.open[slot(stream)].take(), partial) {
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
                let mut open = Open {
                    message: Message {
                        piece: Piece {
                            bytes: Bytes::new(),
                            ..line
                        },
                        time,
                        stream,
                        error: None,
                    },
                    joined: BytesMut::new(),
                    since: Instant::now(),
                };
                open.append(&text, max);
                self.open[slot(stream)] = Some(open);
                None
            }
            (Some(mut open), partial) => {
                open.append(&text, max);
                open.message.piece.end = line.end;
                open.message.piece.truncated |= line.truncated;
                if partial {
                    self.open[slot(stream)] = Some(open);
                    return None;
                }
                Some(open.close())
            }
        }
    }

    /// The oldest open partial message, once it has waited `timeout` for its end.
    pub fn flush_stale(&mut self, timeout: Duration) -> Option<Message> {
        let oldest = (0..2)
            .filter(|&i| {
                self.open[i]
                    .as_ref()
                    .is_some_and(|o| o.since.elapsed() >= timeout)
            })
            .min_by_key(|&i| {
                self.open[i]
                    .as_ref()
                    .map_or(u64::MAX, |o| o.message.piece.start)
            })?;
        self.open[oldest].take().map(Open::close)
    }

    /// True while a message waits for its last line.
    pub fn is_open(&self) -> bool {
        self.open.iter().any(Option::is_some)
    }

    /// Where the file is whole up to: `end`, or the start of a message still open (so a
    /// restart reads that message again rather than losing its first lines).
    pub fn safe_offset(&self, end: u64) -> u64 {
        self.open
            .iter()
            .flatten()
            .map(|o| o.message.piece.start)
            .fold(end, u64::min)
    }

    /// Forgets open messages (the file was truncated).
    pub fn clear(&mut self) {
        self.open = [None, None];
    }
}

impl Open {
    fn append(&mut self, text: &[u8], max: usize) {
        let room = max.saturating_sub(self.joined.len());
        if text.len() > room {
            self.message.piece.truncated = true;
        }
        self.joined.extend_from_slice(&text[..text.len().min(room)]);
    }

    fn close(mut self) -> Message {
        self.message.piece.bytes = self.joined.freeze();
        self.message
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
        let mut j = Joiner::new(1 << 20);
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
        assert!(j.is_open());
        assert_eq!(j.safe_offset(400), 212);
        assert_eq!(
            &j.flush_stale(Duration::ZERO).unwrap().piece.bytes[..],
            b"unfinished"
        );
        assert!(j.flush_stale(Duration::ZERO).is_none());
    }

    #[test]
    fn streams_interleave_and_long_messages_are_capped() {
        let mut j = Joiner::new(10);
        assert!(
            j.push(piece("2026-11-29T10:00:00Z stdout P out-1 ", 0))
                .is_none()
        );
        let err = j
            .push(piece("2026-11-29T10:00:00Z stderr F an error", 40))
            .unwrap();
        assert_eq!(
            (&err.piece.bytes[..], err.stream),
            (&b"an error"[..], "stderr")
        );
        assert_eq!(j.safe_offset(err.piece.end), 0);
        let out = j
            .push(piece("2026-11-29T10:00:00Z stdout F out-2 and more", 80))
            .unwrap();
        assert_eq!(&out.piece.bytes[..], b"out-1 out-");
        assert!(out.piece.truncated);
        assert!(!j.is_open());
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
