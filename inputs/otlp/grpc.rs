//! OTLP/gRPC: the unary `LogsService/Export` call over HTTP/2, answered with trailers. Done
//! by hand rather than with a gRPC framework so that every limit and status code is ours:
//! an oversized message is `RESOURCE_EXHAUSTED` (not retried), overload is `UNAVAILABLE`
//! with RetryInfo (retried after the hint).

use super::ingest::{Failure, Ingest, OtlpAnswer, RETRY_AFTER};
use crate::net::grpc::{self, Code, FrameError};
use crate::record::otlp::{ExportLogsServiceResponse, decode_records};
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use base64::Engine;
use http::{HeaderMap, HeaderValue};
use http_body_util::{BodyExt, Full};
use prost::Message;
use std::sync::Arc;

/// The `Export` handler.
pub(crate) async fn export(
    State(ingest): State<Arc<Ingest>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match handle(&ingest, &headers, body).await {
        Ok(response) => ok(&response),
        Err(failure) => error(&failure),
    }
}

async fn handle(
    ingest: &Ingest,
    headers: &HeaderMap,
    body: Body,
) -> Result<ExportLogsServiceResponse, Failure> {
    let _slot = ingest.admit(headers)?;
    let limit = ingest.max_request_bytes;
    let (body, mut held) = ingest.read_body(body, limit + 5).await?;
    let (compressed, message) = grpc::unframe(&body, limit).map_err(|e| {
        ingest.refuse(match e {
            FrameError::TooLarge(..) => Failure::TooLarge(e.to_string()),
            _ => Failure::Invalid(e.to_string()),
        })
    })?;
    let message = if compressed {
        match headers.get("grpc-encoding").map(HeaderValue::as_bytes) {
            Some(b"gzip") => ingest.gunzip(&message, &mut held)?,
            other => {
                let name = other.map(String::from_utf8_lossy).unwrap_or_default();
                return Err(ingest.refuse(Failure::Unsupported(format!(
                    "unsupported grpc-encoding \"{name}\"; expected gzip or identity"
                ))));
            }
        }
    } else {
        message
    };
    let records =
        decode_records(&message).map_err(|e| ingest.refuse(Failure::Invalid(e.to_string())))?;
    Ok(ingest.export(records, held).await?.response())
}

fn base_headers(status: Code) -> http::response::Builder {
    let builder = Response::builder()
        .status(200)
        .header("content-type", "application/grpc")
        .header("grpc-accept-encoding", "gzip,identity");
    if status == Code::Ok {
        builder
    } else {
        builder.header("grpc-status", (status as i32).to_string())
    }
}

/// The response message followed by `grpc-status: 0` trailers.
fn ok(response: &ExportLogsServiceResponse) -> Response {
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    let body = Full::new(grpc::frame(&response.encode_to_vec()))
        .with_trailers(async move { Some(Ok(trailers)) });
    base_headers(Code::Ok)
        .body(Body::new(body))
        .expect("static headers are valid")
}

/// A trailers-only response: the status travels in the headers, the body is empty.
fn error(failure: &Failure) -> Response {
    let (code, retry) = match failure {
        Failure::Invalid(_) => (Code::InvalidArgument, None),
        Failure::TooLarge(_) => (Code::ResourceExhausted, None),
        Failure::Unauthenticated => (Code::Unauthenticated, None),
        Failure::Unsupported(_) => (Code::Unimplemented, None),
        Failure::Overloaded | Failure::ShuttingDown => (Code::Unavailable, Some(RETRY_AFTER)),
        Failure::MemoryLimit => (Code::ResourceExhausted, Some(RETRY_AFTER)),
    };
    let message = failure.message();
    let details = grpc::status_details(code, &message, retry);
    base_headers(code)
        .header("grpc-message", grpc::escape_message(&message))
        .header(
            "grpc-status-details-bin",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(details),
        )
        .body(Body::empty())
        .expect("escaped headers are valid")
}
