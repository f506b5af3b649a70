//! Lumberjack frames (v2, and v1 data frames), cut from a connection's buffer without
//! copying: a JSON frame's payload is a slice of the buffer; a compressed frame is inflated
//! (zlib) into a new buffer holding whole frames, which are cut the same way.
//!
//! | frame | bytes (integers big-endian u32) |
//! |---|---|
//! | window | `2W` count |
//! | JSON event | `2J` seq len payload |
//! | compressed | `2C` len zlib(frames) |
//! | v1 data | `1D` seq pairs (klen key vlen value)… |
//! | ACK (sent) | `2A` seq |

use bytes::{Buf, Bytes, BytesMut};
use std::io::Read;

/// One decoded frame.
#[derive(Debug, PartialEq)]
pub enum Frame {
    /// A window of that many events, in protocol version `b'1'` or `b'2'`.
    Window(u8, u32),
    Json {
        seq: u32,
        payload: Bytes,
    },
    Compressed(Bytes),
    /// v1 key/value pairs.
    Data {
        seq: u32,
        pairs: Vec<(Bytes, Bytes)>,
    },
}

/// Why a connection is closed.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum FrameError {
    #[error("unsupported protocol version byte 0x{0:02x} (expected '1' or '2')")]
    Version(u8),
    #[error("unknown frame type 0x{0:02x}")]
    Type(u8),
    #[error("frame of {0} bytes exceeds max_frame_bytes ({1})")]
    TooLarge(u64, u64),
    #[error("compressed frame: {0}")]
    Inflate(String),
    #[error("compressed frame inside a compressed frame")]
    Nested,
    #[error("truncated frame inside a compressed frame")]
    Truncated,
}

/// Room made ahead of a large frame's bytes: a peer's length prefix alone does not get a
/// buffer that size; it grows as the bytes arrive.
const RESERVE_AHEAD: usize = 1 << 20;

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Cuts the next whole frame off `buf`, `Ok(None)` when more bytes are needed.
pub fn next(buf: &mut BytesMut, max: u64) -> Result<Option<Frame>, FrameError> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let (version, kind) = (buf[0], buf[1]);
    if version != b'1' && version != b'2' {
        return Err(FrameError::Version(version));
    }
    let need = |n: usize| buf.len() >= n;
    match kind {
        b'W' => {
            if !need(6) {
                return Ok(None);
            }
            let n = u32_at(buf, 2);
            buf.advance(6);
            Ok(Some(Frame::Window(version, n)))
        }
        b'J' => {
            if !need(10) {
                return Ok(None);
            }
            let (seq, len) = (u32_at(buf, 2), u32_at(buf, 6) as u64);
            if len > max {
                return Err(FrameError::TooLarge(len, max));
            }
            if !need(10 + len as usize) {
                buf.reserve((10 + len as usize - buf.len()).min(RESERVE_AHEAD));
                return Ok(None);
            }
            buf.advance(10);
            let payload = buf.split_to(len as usize).freeze();
            Ok(Some(Frame::Json { seq, payload }))
        }
        b'C' => {
            if !need(6) {
                return Ok(None);
            }
            let len = u32_at(buf, 2) as u64;
            if len > max {
                return Err(FrameError::TooLarge(len, max));
            }
            if !need(6 + len as usize) {
                buf.reserve((6 + len as usize - buf.len()).min(RESERVE_AHEAD));
                return Ok(None);
            }
            buf.advance(6);
            let compressed = buf.split_to(len as usize);
            let mut out = Vec::with_capacity((len as usize * 4).min(max as usize));
            let read = flate2::read::ZlibDecoder::new(&compressed[..])
                .take(max + 1)
                .read_to_end(&mut out)
                .map_err(|e| FrameError::Inflate(e.to_string()))?;
            if read as u64 > max {
                return Err(FrameError::TooLarge(read as u64, max));
            }
            Ok(Some(Frame::Compressed(Bytes::from(out))))
        }
        b'D' => {
            if !need(10) {
                return Ok(None);
            }
            let (seq, count) = (u32_at(buf, 2), u32_at(buf, 6));
            // Walk the pairs first to learn the frame's length without consuming it.
            let mut at = 10usize;
            for _ in 0..count.saturating_mul(2) {
                if !need(at + 4) {
                    return Ok(None);
                }
                let len = u32_at(buf, at) as u64;
                if (at as u64 + 4 + len) > max {
                    return Err(FrameError::TooLarge(at as u64 + 4 + len, max));
                }
                at += 4 + len as usize;
                if !need(at) {
                    return Ok(None);
                }
            }
            let mut frame = buf.split_to(at).freeze();
            frame.advance(10);
            let mut pairs = Vec::with_capacity(count as usize);
            for _ in 0..count {
                let k = frame.get_u32() as usize;
                let key = frame.split_to(k);
                let v = frame.get_u32() as usize;
                pairs.push((key, frame.split_to(v)));
            }
            Ok(Some(Frame::Data { seq, pairs }))
        }
        other => Err(FrameError::Type(other)),
    }
}

/// The frames inside a compressed frame's content (whole frames only, none compressed).
pub fn inner(content: Bytes, max: u64) -> Result<Vec<Frame>, FrameError> {
    let mut buf = BytesMut::from(content);
    let mut frames = Vec::new();
    while !buf.is_empty() {
        match next(&mut buf, max)? {
            Some(Frame::Compressed(_)) => return Err(FrameError::Nested),
            Some(frame) => frames.push(frame),
            None => return Err(FrameError::Truncated),
        }
    }
    Ok(frames)
}

/// An ACK frame for `seq`, in the protocol version (`b'1'` or `b'2'`) of the window.
pub fn ack(version: u8, seq: u32) -> [u8; 6] {
    let s = seq.to_be_bytes();
    [version, b'A', s[0], s[1], s[2], s[3]]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn json(seq: u32, payload: &str) -> Vec<u8> {
        let mut f = vec![b'2', b'J'];
        f.extend_from_slice(&seq.to_be_bytes());
        f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        f.extend_from_slice(payload.as_bytes());
        f
    }

    fn all(bytes: &[u8]) -> Result<Vec<Frame>, FrameError> {
        let mut buf = BytesMut::from(bytes);
        let mut out = Vec::new();
        while let Some(f) = next(&mut buf, 1 << 20)? {
            out.push(f);
        }
        assert!(buf.is_empty(), "left over: {buf:?}");
        Ok(out)
    }

    #[test]
    fn the_protocol_test_vectors() {
        // One event, no compression (PROTOCOLS.md §2.4).
        let mut bytes = vec![0x32, 0x57, 0, 0, 0, 1];
        bytes.extend(json(1, r#"{"message":"hi"}"#));
        assert_eq!(
            all(&bytes).unwrap(),
            [
                Frame::Window(b'2', 1),
                Frame::Json {
                    seq: 1,
                    payload: Bytes::from_static(br#"{"message":"hi"}"#)
                }
            ]
        );
        assert_eq!(ack(b'2', 1), [0x32, 0x41, 0, 0, 0, 1]);
        assert_eq!(ack(b'1', 7), [0x31, 0x41, 0, 0, 0, 7]);
        // Two events compressed.
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(3));
        z.write_all(&json(1, "{\"a\":1}")).unwrap();
        z.write_all(&json(2, "{\"b\":2}")).unwrap();
        let z = z.finish().unwrap();
        let mut bytes = vec![b'2', b'W', 0, 0, 0, 2, b'2', b'C'];
        bytes.extend_from_slice(&(z.len() as u32).to_be_bytes());
        bytes.extend_from_slice(&z);
        let frames = all(&bytes).unwrap();
        let Frame::Compressed(content) = &frames[1] else {
            panic!("{frames:?}")
        };
        let inner = inner(content.clone(), 1 << 20).unwrap();
        assert_eq!(inner.len(), 2);
        assert!(matches!(&inner[1], Frame::Json { seq: 2, .. }));
    }

    #[test]
    fn partial_input_waits_and_v1_data_frames_decode() {
        let bytes = json(7, "{\"x\":true}");
        for cut in 0..bytes.len() {
            let mut buf = BytesMut::from(&bytes[..cut]);
            assert_eq!(next(&mut buf, 1 << 20).unwrap(), None, "cut at {cut}");
        }
        let mut d = vec![b'1', b'D', 0, 0, 0, 3, 0, 0, 0, 2];
        for s in ["line", "hello", "host", "h1"] {
            d.extend_from_slice(&(s.len() as u32).to_be_bytes());
            d.extend_from_slice(s.as_bytes());
        }
        let frames = all(&d).unwrap();
        let Frame::Data { seq, pairs } = &frames[0] else {
            panic!()
        };
        assert_eq!(*seq, 3);
        assert_eq!(
            pairs[0],
            (Bytes::from_static(b"line"), Bytes::from_static(b"hello"))
        );
    }

    #[test]
    fn bad_frames_are_named() {
        assert_eq!(all(b"3W\0\0\0\x01").unwrap_err(), FrameError::Version(b'3'));
        assert_eq!(all(b"2Z\0\0\0\x01").unwrap_err(), FrameError::Type(b'Z'));
        let mut huge = vec![b'2', b'J', 0, 0, 0, 1];
        huge.extend_from_slice(&0xffff_ffffu32.to_be_bytes());
        assert!(matches!(all(&huge).unwrap_err(), FrameError::TooLarge(..)));
        let mut bad = vec![b'2', b'C', 0, 0, 0, 4];
        bad.extend_from_slice(b"nope");
        assert!(matches!(all(&bad).unwrap_err(), FrameError::Inflate(_)));
        assert_eq!(
            inner(Bytes::from_static(b"2J\0\0"), 1 << 20).unwrap_err(),
            FrameError::Truncated
        );
    }
}
