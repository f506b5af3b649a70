//! The record ↔ OTLP mapping. The record *is* the OTLP log model, so both directions are
//! field-for-field: decoding keeps one shared `Resource`/`Scope` per `ResourceLogs`/`ScopeLogs`,
//! and encoding regroups records by resource and scope so no resource is repeated per record.
//!
//! Decoding goes through prost's generated types (their `String`s and `Vec<u8>`s become our
//! `Bytes`-backed values without copying). Encoding writes protobuf straight from the records,
//! with no intermediate messages: that is the output's hot path.

mod decode;
mod encode;
mod group;

pub use decode::{RequestError, decode_json, decode_protobuf, records_from_request};
pub use encode::{encode_protobuf, request_from_records};
pub use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};

/// The gRPC method path of `LogsService/Export`.
pub const GRPC_EXPORT_PATH: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

#[cfg(test)]
mod tests;
