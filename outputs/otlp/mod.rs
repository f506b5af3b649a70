//! `type = "otlp"`: delivers records to any OTLP endpoint (a collector, a vendor, Loki's
//! OTLP endpoint, another logferry) over gRPC, HTTP/protobuf or HTTP/JSON.
//!
//! Each request regroups its records by resource and scope, so a resource is sent once per
//! request, not per record. Retryable answers (gRPC `CANCELLED`, `DEADLINE_EXCEEDED`,
//! `ABORTED`, `OUT_OF_RANGE`, `UNAVAILABLE`, `DATA_LOSS`, and `RESOURCE_EXHAUSTED` with
//! RetryInfo; HTTP 429, 502, 503, 504) and connection failures are retried with backoff,
//! honouring RetryInfo and `Retry-After`; any other answer rejects the request for good with
//! the server's message. A `partial_success` reports its rejected count as rejected.

mod config;
mod grpc;
mod http;

pub use config::{ClientTls, Compression, OtlpOutputConfig, Protocol};

use crate::batch::Records;
use crate::output::{Outcome, Output, OutputBuildContext, OutputConfig, Rejection};
use crate::record::otlp::{ExportLogsServiceResponse, encode_protobuf, request_from_records};
use bytes::Bytes;
use std::io::Write;

impl OutputConfig for OtlpOutputConfig {
    type Output = OtlpOutput;

    fn build(&self, _cx: &OutputBuildContext) -> Result<OtlpOutput, String> {
        let target = self.target()?;
        Ok(OtlpOutput {
            config: self.clone(),
            target,
            client: None,
            capacity: 64 << 10,
        })
    }
}

/// An OTLP exporter.
pub struct OtlpOutput {
    config: OtlpOutputConfig,
    target: ::http::Uri,
    /// Made on the first send (it reads TLS files and needs the runtime).
    client: Option<Client>,
    /// The last request's size: the next one's starting capacity.
    capacity: usize,
}

enum Client {
    Grpc(grpc::GrpcClient),
    Http(http::HttpClient),
}

impl OtlpOutput {
    fn connect(&self) -> Result<Client, String> {
        let c = &self.config;
        let headers: Vec<(String, String)> = c
            .headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect();
        if c.protocol == Protocol::Grpc {
            return grpc::GrpcClient::new(
                &self.target,
                &c.tls,
                &headers,
                c.compression,
                c.connect_timeout.0,
            )
            .map(Client::Grpc);
        }
        let mut map = reqwest::header::HeaderMap::new();
        let content_type = match c.protocol {
            Protocol::HttpJson => "application/json",
            _ => "application/x-protobuf",
        };
        map.insert(
            reqwest::header::CONTENT_TYPE,
            content_type.parse().expect("static"),
        );
        if c.compression == Compression::Gzip {
            map.insert(
                reqwest::header::CONTENT_ENCODING,
                "gzip".parse().expect("static"),
            );
        }
        let agent = concat!("logferry/", env!("CARGO_PKG_VERSION"));
        map.insert(reqwest::header::USER_AGENT, agent.parse().expect("static"));
        for (name, value) in &headers {
            let name = reqwest::header::HeaderName::try_from(name.as_str())
                .map_err(|_| format!("headers: \"{name}\" is not a valid header name"))?;
            let value = value
                .parse()
                .map_err(|_| format!("headers.{name}: not a valid header value"))?;
            map.insert(name, value);
        }
        http::HttpClient::new(&self.target, &c.tls, map, c.connect_timeout.0).map(Client::Http)
    }
}

impl Output for OtlpOutput {
    type Request = Bytes;

    fn encode(&mut self, records: &Records<'_>) -> Result<Bytes, Rejection> {
        let mut body = Vec::with_capacity(self.capacity);
        match self.config.protocol {
            Protocol::Grpc | Protocol::HttpProtobuf => encode_protobuf(records.iter(), &mut body),
            Protocol::HttpJson => {
                serde_json::to_writer(&mut body, &request_from_records(records.iter()))
                    .map_err(|e| Rejection::new("encode", e.to_string()))?;
            }
        }
        self.capacity = body.len().next_power_of_two().min(16 << 20);
        // Compressed here, once, not on every retry (gRPC: the message; HTTP: the body).
        if self.config.compression == Compression::Gzip {
            let mut gz = flate2::write::GzEncoder::new(
                Vec::with_capacity(body.len() / 4),
                flate2::Compression::fast(),
            );
            gz.write_all(&body)
                .and_then(|()| gz.finish())
                .map(|compressed| body = compressed)
                .map_err(|e| Rejection::new("encode", format!("gzip: {e}")))?;
        }
        Ok(Bytes::from(body))
    }

    fn request_bytes(request: &Bytes) -> usize {
        request.len()
    }

    async fn send(&mut self, request: &Bytes) -> Outcome {
        if self.client.is_none() {
            match self.connect() {
                Ok(client) => self.client = Some(client),
                // A TLS file that cannot be read: keep the records and say why, every retry.
                Err(reason) => {
                    return Outcome::Retry {
                        after: None,
                        reason,
                    };
                }
            }
        }
        let outcome = match self.client.as_mut().expect("set above") {
            Client::Grpc(c) => c.export(request.clone()).await,
            Client::Http(c) => c.post(request.clone()).await,
        };
        match outcome {
            // Name the destination: "tcp connect error" alone does not say where.
            Outcome::Retry { after, reason } => Outcome::Retry {
                after,
                reason: format!("{}: {reason}", self.target),
            },
            other => other,
        }
    }
}

/// A success answer: delivered, or a `partial_success` whose rejected count is reported.
fn partial(response: ExportLogsServiceResponse) -> Outcome {
    match response.partial_success {
        Some(p) if p.rejected_log_records > 0 => Outcome::PartiallyRejected {
            count: p.rejected_log_records as usize,
            rejection: Rejection::new("partial_success", p.error_message),
        },
        Some(p) if !p.error_message.is_empty() => {
            tracing::warn!(message = %p.error_message, "OTLP destination accepted the request with a warning");
            Outcome::Delivered
        }
        _ => Outcome::Delivered,
    }
}
