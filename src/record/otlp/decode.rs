//! OTLP request → records.

use crate::record::{AnyValue, Attributes, LogRecord, Resource, Scope, Str};
use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use prost::Message;
use std::sync::Arc;

/// Why a request body could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("invalid protobuf ExportLogsServiceRequest: {0}")]
    Protobuf(#[from] prost::DecodeError),
    #[error("invalid OTLP/JSON ExportLogsServiceRequest: {0}")]
    Json(#[from] serde_json::Error),
}

/// Decodes a binary `ExportLogsServiceRequest`.
pub fn decode_protobuf(body: &[u8]) -> Result<ExportLogsServiceRequest, RequestError> {
    Ok(ExportLogsServiceRequest::decode(body)?)
}

/// Decodes an OTLP/JSON `ExportLogsServiceRequest` (hex trace ids, integer enums, 64-bit
/// integers as strings or numbers, unknown fields ignored).
pub fn decode_json(body: &[u8]) -> Result<ExportLogsServiceRequest, RequestError> {
    Ok(serde_json::from_slice(body)?)
}

/// Turns a request into records, one shared resource per `ResourceLogs` and one shared scope
/// per `ScopeLogs`. Every field is kept as sent, including a zero observed time.
pub fn records_from_request(request: ExportLogsServiceRequest) -> Vec<LogRecord> {
    let count = request
        .resource_logs
        .iter()
        .flat_map(|r| &r.scope_logs)
        .map(|s| s.log_records.len())
        .sum();
    let mut records = Vec::with_capacity(count);
    for resource_logs in request.resource_logs {
        let (attributes, dropped) = resource_logs
            .resource
            .map(|r| (r.attributes, r.dropped_attributes_count))
            .unwrap_or_default();
        let resource = Arc::new(Resource {
            attributes: attributes_from(attributes),
            dropped_attributes_count: dropped,
            schema_url: Str::from(resource_logs.schema_url),
        });
        for scope_logs in resource_logs.scope_logs {
            let scope = scope_logs.scope.unwrap_or_default();
            let scope = Arc::new(Scope {
                name: Str::from(scope.name),
                version: Str::from(scope.version),
                attributes: attributes_from(scope.attributes),
                dropped_attributes_count: scope.dropped_attributes_count,
                schema_url: Str::from(scope_logs.schema_url),
            });
            records.extend(scope_logs.log_records.into_iter().map(|r| LogRecord {
                time_unix_nano: r.time_unix_nano,
                observed_time_unix_nano: r.observed_time_unix_nano,
                severity_number: r.severity_number,
                severity_text: Str::from(r.severity_text),
                body: r.body.map(|b| value_from(b.value)).unwrap_or_default(),
                attributes: attributes_from(r.attributes),
                dropped_attributes_count: r.dropped_attributes_count,
                flags: r.flags,
                trace_id: Bytes::from(r.trace_id),
                span_id: Bytes::from(r.span_id),
                event_name: Str::from(r.event_name),
                resource: Arc::clone(&resource),
                scope: Arc::clone(&scope),
            }));
        }
    }
    records
}

fn attributes_from(attributes: Vec<KeyValue>) -> Attributes {
    attributes
        .into_iter()
        .map(|kv| {
            let value = kv.value.map(|v| value_from(v.value)).unwrap_or_default();
            (Str::from(kv.key), value)
        })
        .collect()
}

fn value_from(value: Option<any_value::Value>) -> AnyValue {
    use any_value::Value;
    match value {
        None => AnyValue::Empty,
        Some(Value::StringValue(s)) => AnyValue::String(Str::from(s)),
        Some(Value::BoolValue(b)) => AnyValue::Bool(b),
        Some(Value::IntValue(i)) => AnyValue::Int(i),
        Some(Value::DoubleValue(d)) => AnyValue::Double(d),
        Some(Value::BytesValue(b)) => AnyValue::Bytes(Bytes::from(b)),
        Some(Value::ArrayValue(a)) => {
            AnyValue::Array(a.values.into_iter().map(|v| value_from(v.value)).collect())
        }
        Some(Value::KvlistValue(kv)) => AnyValue::Map(attributes_from(kv.values)),
        // A profiles-only reference into a string table logs do not have: treated as empty,
        // as the specification asks of non-profiles receivers.
        Some(Value::StringValueStrindex(_)) => AnyValue::Empty,
    }
}
