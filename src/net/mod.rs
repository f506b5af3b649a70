//! Shared network plumbing for inputs: stream framing codecs, the accept loop, TLS.

pub mod accept;
pub mod framing;
pub mod tls;
