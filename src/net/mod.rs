//! Shared network plumbing for inputs and outputs: stream framing codecs, read buffers, the
//! accept loop, TLS, an HTTP server, and gRPC wire pieces.

pub mod accept;
pub mod client;
pub mod framing;
pub mod grpc;
pub mod http;
pub mod ingest;
pub mod read_buffer;
pub mod tls;
