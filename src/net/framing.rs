//! Syslog stream framing (RFC 6587), told apart per message as rsyslog does: a message
//! that starts with `1`–`9` is octet-counted (`MSG-LEN SP MSG`, §3.4.1); any other is
//! non-transparent, ended by LF (§3.4.2), with CRLF and NUL (Python's `SysLogHandler`)
//! accepted as trailers too. Bare trailers between messages (empty lines, the LF some
//! senders put after an octet-counted message) are skipped.
//!
//! A message longer than `max_message_bytes` is cut to that length and flagged
//! `truncated`; the rest of it is skipped, so the stream stays in step. Memory stays
//! bounded whatever a sender declares: the buffer is never reserved for more than the limit,
//! and a declared MSG-LEN above [`FRAME_LIMIT_FACTOR`] × the limit is not believed: as in
//! rsyslog ("frame too large, change to octet stuffing"), that message is read as
//! LF-terminated instead, digits included, so one bogus prefix cannot swallow the rest of
//! the connection. At end of stream the unterminated rest is the last message (flagged
//! `truncated` if it is octet-counted and shorter than declared).
//!
//! The one ambiguity is a message without PRI that starts with digits and a space
//! (`12 apples`): it is read as octet-counted. A digit run not followed by a space (say
//! `2024-03-05 ...`) is read as LF-terminated.

use bytes::{Buf, Bytes, BytesMut};

/// The default cap on one message: 64 KiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// A declared MSG-LEN beyond this many times `max_message_bytes` is a framing error.
pub const FRAME_LIMIT_FACTOR: usize = 16;

/// One message, without its MSG-LEN prefix or trailer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub data: Bytes,
    /// The message was longer than `max_message_bytes` (or, at end of stream, shorter than
    /// its declared MSG-LEN) and `data` is its start.
    pub truncated: bool,
}

/// Splits a syslog byte stream into messages; see the module docs. `next_frame` and
/// `last_frame` have the shape of `tokio_util::codec::Decoder::{decode, decode_eof}`.
#[derive(Debug)]
pub struct SyslogFrameDecoder {
    max_message_bytes: usize,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between messages.
    Start,
    /// In an LF-terminated message; `scanned` bytes hold no trailer.
    Line { scanned: usize },
    /// In an octet-counted message whose prefix is consumed: `keep` bytes to return, then
    /// `skip` to discard.
    Counted { keep: usize, skip: u64 },
    /// Discarding an octet-counted message's rest beyond the limit.
    Skip { left: u64 },
    /// Discarding an over-long LF-terminated message up to its trailer.
    SkipLine,
}

/// What the bytes at the start of a message say about its framing.
enum Prefix {
    /// `MSG-LEN SP`: the length and the prefix's size.
    Counted(u64, usize),
    /// Not octet-counted (or not believably so).
    Line,
    /// Only digits so far: wait for more.
    Incomplete,
}

impl Default for SyslogFrameDecoder {
    fn default() -> Self {
        SyslogFrameDecoder::new(DEFAULT_MAX_MESSAGE_BYTES)
    }
}

impl SyslogFrameDecoder {
    /// A decoder that cuts messages at `max_message_bytes` (at least 1).
    pub fn new(max_message_bytes: usize) -> Self {
        SyslogFrameDecoder {
            max_message_bytes: max_message_bytes.max(1),
            state: State::Start,
        }
    }

    /// The next whole message in `buf`, consuming it; `None` until one is complete.
    pub fn next_frame(&mut self, buf: &mut BytesMut) -> Option<Frame> {
        loop {
            match self.state {
                State::Start => {
                    let skip = buf.iter().take_while(|&&c| is_trailer(c)).count();
                    buf.advance(skip);
                    if buf.is_empty() {
                        return None;
                    }
                    match self.prefix(buf) {
                        Prefix::Incomplete => return None,
                        Prefix::Line => self.state = State::Line { scanned: 0 },
                        Prefix::Counted(len, prefix) => {
                            buf.advance(prefix);
                            let keep = len.min(self.max_message_bytes as u64) as usize;
                            self.state = State::Counted {
                                keep,
                                skip: len - keep as u64,
                            };
                        }
                    }
                }
                State::Line { scanned } => {
                    let end = memchr::memchr2(b'\n', b'\0', &buf[scanned..]).map(|i| scanned + i);
                    match end {
                        Some(end) if end <= self.max_message_bytes => {
                            let data = strip_cr(buf.split_to(end).freeze());
                            buf.advance(1);
                            self.state = State::Start;
                            if !data.is_empty() {
                                return Some(Frame {
                                    data,
                                    truncated: false,
                                });
                            }
                        }
                        _ if buf.len() > self.max_message_bytes => {
                            let data = buf.split_to(self.max_message_bytes).freeze();
                            self.state = State::SkipLine;
                            return Some(Frame {
                                data,
                                truncated: true,
                            });
                        }
                        _ => {
                            self.state = State::Line { scanned: buf.len() };
                            return None;
                        }
                    }
                }
                State::Counted { keep, skip } => {
                    if buf.len() < keep {
                        // Bounded by the limit, whatever was declared.
                        buf.reserve(keep - buf.len());
                        return None;
                    }
                    let data = buf.split_to(keep).freeze();
                    self.state = if skip > 0 {
                        State::Skip { left: skip }
                    } else {
                        State::Start
                    };
                    return Some(Frame {
                        data,
                        truncated: skip > 0,
                    });
                }
                State::Skip { left } => {
                    let n = left.min(buf.len() as u64);
                    buf.advance(n as usize);
                    if n < left {
                        self.state = State::Skip { left: left - n };
                        return None;
                    }
                    self.state = State::Start;
                }
                State::SkipLine => match memchr::memchr2(b'\n', b'\0', buf) {
                    Some(end) => {
                        buf.advance(end + 1);
                        self.state = State::Start;
                    }
                    None => {
                        buf.clear();
                        return None;
                    }
                },
            }
        }
    }

    /// Like [`next_frame`](Self::next_frame), at end of stream: the unterminated rest is
    /// the last message.
    pub fn last_frame(&mut self, buf: &mut BytesMut) -> Option<Frame> {
        if let Some(frame) = self.next_frame(buf) {
            return Some(frame);
        }
        let state = std::mem::replace(&mut self.state, State::Start);
        let truncated = match state {
            State::Start | State::Line { .. } => false,
            State::Counted { .. } => true,
            State::Skip { .. } | State::SkipLine => {
                buf.clear();
                return None;
            }
        };
        let data = buf.split().freeze();
        let data = if truncated { data } else { strip_cr(data) };
        (!data.is_empty()).then_some(Frame { data, truncated })
    }

    fn prefix(&self, buf: &[u8]) -> Prefix {
        if !matches!(buf.first(), Some(b'1'..=b'9')) {
            return Prefix::Line;
        }
        let limit = (self.max_message_bytes as u64).saturating_mul(FRAME_LIMIT_FACTOR as u64);
        let mut len: u64 = 0;
        for (i, &c) in buf.iter().enumerate() {
            match c {
                b'0'..=b'9' => match len.checked_mul(10).map(|n| n + u64::from(c - b'0')) {
                    Some(n) if n <= limit => len = n,
                    _ => return Prefix::Line,
                },
                b' ' => return Prefix::Counted(len, i + 1),
                _ => return Prefix::Line,
            }
        }
        Prefix::Incomplete
    }
}

fn is_trailer(c: u8) -> bool {
    matches!(c, b'\n' | b'\r' | b'\0')
}

fn strip_cr(mut line: Bytes) -> Bytes {
    if line.last() == Some(&b'\r') {
        line.truncate(line.len() - 1);
    }
    line
}

#[cfg(test)]
mod tests;
