//! The record ↔ OTLP mapping. The record *is* the OTLP log model, so both directions are
//! field-for-field: decoding keeps one shared `Resource`/`Scope` per `ResourceLogs`/`ScopeLogs`,
//! and encoding regroups records by resource and scope so no resource is repeated per record.
//!
//! Binary decoding slices the request body (no allocation per string); OTLP/JSON goes through
//! prost's generated types with serde. Encoding writes protobuf straight from the records,
//! with no intermediate messages. Both are checked against prost by a property test.

mod decode;
mod encode;
mod group;
mod wire;

pub use decode::{RequestError, decode_json, decode_protobuf, records_from_request};
pub use encode::{encode_protobuf, request_from_records};
pub use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
pub use wire::{WireError, decode_records};

/// The gRPC method path of `LogsService/Export`.
pub const GRPC_EXPORT_PATH: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

#[cfg(test)]
mod tests;
