//! OTLP/HTTP: `POST /v1/logs` with a protobuf or JSON body (optionally gzip), answered in
//! the request's own encoding; errors carry a `google.rpc.Status`.

use super::ingest::{Failure, Ingest, OtlpAnswer, RETRY_AFTER};
use crate::net::grpc::RpcStatus;
use crate::record::otlp::{
    ExportLogsServiceResponse, decode_json, decode_records, records_from_request,
};
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode};
use prost::Message;
use std::sync::Arc;

#[derive(Clone, Copy, PartialEq)]
enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// The `POST /v1/logs` handler.
pub(crate) async fn export(
    State(ingest): State<Arc<Ingest>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let media = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    let encoding = match media.as_deref() {
        Some("application/x-protobuf") | Some("application/protobuf") => Encoding::Protobuf,
        Some("application/json") => Encoding::Json,
        other => {
            let failure = ingest.refuse(Failure::Unsupported(format!(
                "unsupported content type \"{}\"; expected application/x-protobuf or application/json",
                other.unwrap_or("")
            )));
            return error(Encoding::Json, &failure);
        }
    };
    match handle(&ingest, &headers, body, encoding).await {
        Ok(response) => {
            let body = match encoding {
                Encoding::Protobuf => response.encode_to_vec(),
                Encoding::Json => json_response(&response),
            };
            reply(StatusCode::OK, encoding, body)
        }
        Err(failure) => error(encoding, &failure),
    }
}

async fn handle(
    ingest: &Ingest,
    headers: &HeaderMap,
    body: Body,
    encoding: Encoding,
) -> Result<ExportLogsServiceResponse, Failure> {
    let _slot = ingest.admit(headers)?;
    let (body, mut held) = ingest.read_body(body, ingest.max_request_bytes).await?;
    let content_encoding = headers
        .get(http::header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase());
    let body = match content_encoding.as_deref() {
        None | Some("") | Some("identity") => body,
        Some("gzip") | Some("x-gzip") => ingest.gunzip(&body, &mut held)?,
        Some(other) => {
            return Err(ingest.refuse(Failure::Unsupported(format!(
                "unsupported Content-Encoding \"{other}\"; expected gzip or identity"
            ))));
        }
    };
    let records = match encoding {
        Encoding::Protobuf => decode_records(&body).map_err(|e| e.to_string()),
        Encoding::Json => decode_json(&body)
            .map(records_from_request)
            .map_err(|e| e.to_string()),
    }
    .map_err(|e| ingest.refuse(Failure::Invalid(e)))?;
    Ok(ingest.export(records, held).await?.response())
}

/// OTLP/JSON of a response: `{}` on full success (not `"partialSuccess": null`), 64-bit
/// counts as strings.
fn json_response(response: &ExportLogsServiceResponse) -> Vec<u8> {
    let value = match &response.partial_success {
        None => serde_json::json!({}),
        Some(p) => serde_json::json!({"partialSuccess": {
            "rejectedLogRecords": p.rejected_log_records.to_string(),
            "errorMessage": p.error_message,
        }}),
    };
    serde_json::to_vec(&value).unwrap_or_default()
}

fn reply(status: StatusCode, encoding: Encoding, body: Vec<u8>) -> Response {
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, encoding.content_type())
        .body(Body::from(body))
        .expect("static headers are valid")
}

fn error(encoding: Encoding, failure: &Failure) -> Response {
    let (status, code) = match failure {
        Failure::Invalid(_) => (StatusCode::BAD_REQUEST, 3),
        Failure::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, 8),
        Failure::Unauthenticated => (StatusCode::UNAUTHORIZED, 16),
        Failure::Unsupported(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, 12),
        Failure::Overloaded | Failure::ShuttingDown => (StatusCode::SERVICE_UNAVAILABLE, 14),
        Failure::MemoryLimit => (StatusCode::TOO_MANY_REQUESTS, 8),
    };
    let message = failure.message();
    let body = match encoding {
        Encoding::Protobuf => RpcStatus {
            code,
            message,
            details: Vec::new(),
        }
        .encode_to_vec(),
        Encoding::Json => {
            serde_json::to_vec(&serde_json::json!({"code": code, "message": message}))
                .unwrap_or_default()
        }
    };
    let mut response = reply(status, encoding, body);
    if matches!(
        status,
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS
    ) {
        response.headers_mut().insert(
            http::header::RETRY_AFTER,
            HeaderValue::from(RETRY_AFTER.as_secs()),
        );
    }
    response
}
