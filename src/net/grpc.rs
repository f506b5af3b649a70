//! The few gRPC wire pieces logferry needs without a gRPC framework: status codes, the
//! length-prefixed message frame, `grpc-message` escaping, and the `google.rpc.Status` /
//! `RetryInfo` messages that carry a server's "retry after" hint.

use bytes::{BufMut, Bytes, BytesMut};
use prost::Message;
use std::time::Duration;

/// gRPC status codes (the subset with meaning here keeps its numeric value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum Code {
    Ok = 0,
    Cancelled = 1,
    Unknown = 2,
    InvalidArgument = 3,
    DeadlineExceeded = 4,
    NotFound = 5,
    AlreadyExists = 6,
    PermissionDenied = 7,
    ResourceExhausted = 8,
    FailedPrecondition = 9,
    Aborted = 10,
    OutOfRange = 11,
    Unimplemented = 12,
    Internal = 13,
    Unavailable = 14,
    DataLoss = 15,
    Unauthenticated = 16,
}

/// `google.rpc.Status`.
#[derive(Clone, PartialEq, Message)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<ProtoAny>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, Message)]
pub struct ProtoAny {
    #[prost(string, tag = "1")]
    pub type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// `google.rpc.RetryInfo`.
#[derive(Clone, PartialEq, Message)]
pub struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    pub retry_delay: Option<ProtoDuration>,
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, Message)]
pub struct ProtoDuration {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

const RETRY_INFO_TYPE: &str = "type.googleapis.com/google.rpc.RetryInfo";

/// An encoded `google.rpc.Status` whose details ask the client to wait `retry_after`
/// (what OTLP clients read from `grpc-status-details-bin`).
pub fn status_details(code: Code, message: &str, retry_after: Option<Duration>) -> Vec<u8> {
    let details = retry_after
        .map(|d| ProtoAny {
            type_url: RETRY_INFO_TYPE.into(),
            value: RetryInfo {
                retry_delay: Some(ProtoDuration {
                    seconds: d.as_secs() as i64,
                    nanos: d.subsec_nanos() as i32,
                }),
            }
            .encode_to_vec(),
        })
        .into_iter()
        .collect();
    RpcStatus {
        code: code as i32,
        message: message.into(),
        details,
    }
    .encode_to_vec()
}

/// The `RetryInfo` delay inside an encoded `google.rpc.Status`, if it carries one.
pub fn retry_delay(status_details: &[u8]) -> Option<Duration> {
    let status = RpcStatus::decode(status_details).ok()?;
    let info = status
        .details
        .iter()
        .find(|d| d.type_url == RETRY_INFO_TYPE)?;
    let delay = RetryInfo::decode(info.value.as_slice()).ok()?.retry_delay?;
    let seconds = u64::try_from(delay.seconds).ok()?;
    Some(Duration::new(
        seconds,
        delay.nanos.clamp(0, 999_999_999) as u32,
    ))
}

/// Whether an OTLP client should retry `code` (OTLP specification: RESOURCE_EXHAUSTED only
/// when the server said when).
pub fn is_retryable(code: Code, has_retry_info: bool) -> bool {
    use Code::*;
    match code {
        Cancelled | DeadlineExceeded | Aborted | OutOfRange | Unavailable | DataLoss => true,
        ResourceExhausted => has_retry_info,
        _ => false,
    }
}

impl Code {
    /// The code for a numeric value (unknown values are `Unknown`, as gRPC says).
    pub fn from_i32(code: i32) -> Code {
        use Code::*;
        const ALL: [Code; 17] = [
            Ok,
            Cancelled,
            Unknown,
            InvalidArgument,
            DeadlineExceeded,
            NotFound,
            AlreadyExists,
            PermissionDenied,
            ResourceExhausted,
            FailedPrecondition,
            Aborted,
            OutOfRange,
            Unimplemented,
            Internal,
            Unavailable,
            DataLoss,
            Unauthenticated,
        ];
        usize::try_from(code)
            .ok()
            .and_then(|i| ALL.get(i).copied())
            .unwrap_or(Unknown)
    }
}

/// Why a gRPC request body is not one well-formed message.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("the request body is not a gRPC message: {0} bytes, expected a 5-byte header")]
    Short(usize),
    #[error("the gRPC message is {declared} bytes but the body holds {available}")]
    Truncated { declared: usize, available: usize },
    #[error("the gRPC message is {0} bytes, larger than the limit of {1} bytes")]
    TooLarge(usize, usize),
    #[error("a unary call carries one message; found {0} trailing bytes")]
    Trailing(usize),
}

/// The one message in a unary request body: `(compressed, message)`.
pub fn unframe(body: &Bytes, limit: usize) -> Result<(bool, Bytes), FrameError> {
    if body.len() < 5 {
        return Err(FrameError::Short(body.len()));
    }
    let compressed = body[0] & 1 == 1;
    let declared = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
    if declared > limit {
        return Err(FrameError::TooLarge(declared, limit));
    }
    let available = body.len() - 5;
    if declared > available {
        return Err(FrameError::Truncated {
            declared,
            available,
        });
    }
    if declared < available {
        return Err(FrameError::Trailing(available - declared));
    }
    Ok((compressed, body.slice(5..)))
}

/// `message` as one uncompressed gRPC frame.
pub fn frame(message: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(5 + message.len());
    out.put_u8(0);
    out.put_u32(message.len() as u32);
    out.put_slice(message);
    out.freeze()
}

/// Percent-encodes a `grpc-message` value (gRPC over HTTP/2: printable ASCII except `%`).
pub fn escape_message(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for b in message.bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_info_round_trips() {
        let details = status_details(Code::Unavailable, "busy", Some(Duration::from_millis(1500)));
        assert_eq!(retry_delay(&details), Some(Duration::from_millis(1500)));
        assert_eq!(
            retry_delay(&status_details(Code::Unavailable, "x", None)),
            None
        );
        assert_eq!(retry_delay(b"\xff\xff"), None);
    }

    #[test]
    fn frames_are_checked() {
        let good = frame(b"abc");
        assert_eq!(unframe(&good, 10), Ok((false, Bytes::from_static(b"abc"))));
        assert_eq!(unframe(&good, 2), Err(FrameError::TooLarge(3, 2)));
        assert_eq!(
            unframe(&good.slice(..6), 10).unwrap_err(),
            FrameError::Truncated {
                declared: 3,
                available: 1
            }
        );
        assert_eq!(
            unframe(&Bytes::from_static(b"\0\0"), 10),
            Err(FrameError::Short(2))
        );
        let mut two = good.to_vec();
        two.extend_from_slice(&good);
        assert_eq!(unframe(&Bytes::from(two), 10), Err(FrameError::Trailing(8)));
    }

    #[test]
    fn retryable_codes_follow_the_otlp_specification() {
        assert!(is_retryable(Code::Unavailable, false));
        assert!(!is_retryable(Code::ResourceExhausted, false));
        assert!(is_retryable(Code::ResourceExhausted, true));
        assert!(!is_retryable(Code::InvalidArgument, true));
        assert_eq!(Code::from_i32(14), Code::Unavailable);
        assert_eq!(Code::from_i32(99), Code::Unknown);
    }

    #[test]
    fn messages_are_percent_encoded() {
        assert_eq!(escape_message("bad: 100% Ω\n"), "bad: 100%25 %CE%A9%0A");
    }
}
