//! Shared network plumbing for inputs and outputs: stream framing codecs, the accept loop,
//! TLS, an HTTP server, and gRPC wire pieces.

pub mod accept;
pub mod client;
pub mod framing;
pub mod grpc;
pub mod http;
pub mod ingest;
pub mod tls;
