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
mod gzip;
mod http;

pub use config::{ClientTls, Compression, OtlpOutputConfig, Protocol};

use crate::batch::Records;
use crate::output::{Outcome, Output, OutputBuildContext, OutputConfig, Rejection, keep_spare};
use crate::record::otlp::{ExportLogsServiceResponse, encode_protobuf, request_from_records};
use bytes::Bytes;

impl OutputConfig for OtlpOutputConfig {
    type Output = OtlpOutput;

    fn build(&self, _cx: &OutputBuildContext) -> Result<OtlpOutput, String> {
        let target = self.target()?;
        Ok(OtlpOutput {
            config: self.clone(),
            target,
            client: None,
            capacity: 64 << 10,
            scratch: Vec::new(),
            spare: Vec::new(),
            gzip: None,
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
    /// The uncompressed body when requests are compressed, kept for the next request.
    scratch: Vec<u8>,
    /// A delivered request's buffer, for the next request (see [`Output::reuse`]).
    spare: Vec<u8>,
    /// The compressor, made by the first request when `compression = "gzip"`.
    gzip: Option<gzip::Gzip>,
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
        // Compressed requests encode into the kept scratch buffer and compress into the
        // spare; plain ones encode into the spare. Either way the request's buffer comes
        // back through `reuse`, so steady traffic allocates no request buffers.
        let gzip = self.config.compression == Compression::Gzip;
        let mut body = if gzip {
            std::mem::take(&mut self.scratch)
        } else {
            std::mem::take(&mut self.spare)
        };
        body.clear();
        body.reserve(self.capacity);
        match self.config.protocol {
            Protocol::Grpc | Protocol::HttpProtobuf => encode_protobuf(records.iter(), &mut body),
            Protocol::HttpJson => {
                serde_json::to_writer(&mut body, &request_from_records(records.iter()))
                    .map_err(|e| Rejection::new("encode", e.to_string()))?;
            }
        }
        self.capacity = body.len().next_power_of_two().min(16 << 20);
        // Compressed here, once, not on every retry (gRPC: the message; HTTP: the body).
        if !gzip {
            return Ok(Bytes::from(body));
        }
        let mut compressed = std::mem::take(&mut self.spare);
        compressed.clear();
        let result = self
            .gzip
            .get_or_insert_with(gzip::Gzip::new)
            .compress(&body, &mut compressed);
        keep_spare(&mut self.scratch, body);
        result.map_err(|e| Rejection::new("encode", e))?;
        Ok(Bytes::from(compressed))
    }

    fn reuse(&mut self, request: Bytes) {
        // The client may still hold a clone (a request abandoned mid-flight): then it is
        // simply dropped.
        if let Ok(buf) = request.try_into_mut() {
            keep_spare(&mut self.spare, Vec::from(buf));
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::OwnedRecords;
    use crate::output::MAX_SPARE_BUFFER;
    use crate::record::otlp::ExportLogsServiceRequest;
    use crate::record::{AnyValue, LogRecord};
    use prost::Message;
    use std::io::Read;

    fn output(extra: &str) -> OtlpOutput {
        let config: OtlpOutputConfig =
            toml::from_str(&format!("endpoint = \"http://127.0.0.1:4317\"\n{extra}")).unwrap();
        let cx = OutputBuildContext {
            name: "otlp".into(),
            data_dir: "/tmp".into(),
            adjustments: Default::default(),
        };
        config.build(&cx).unwrap()
    }

    fn encode(out: &mut OtlpOutput, bodies: &[&str]) -> Bytes {
        let records = bodies
            .iter()
            .map(|b| LogRecord::new(AnyValue::from(b.to_string()), 1))
            .collect();
        out.encode(&OwnedRecords::new([("in", records)]).records())
            .unwrap()
    }

    /// The bodies of an encoded (and maybe gzipped) protobuf request.
    fn bodies(request: &[u8], gzip: bool) -> Vec<String> {
        let mut plain = request.to_vec();
        if gzip {
            plain.clear();
            flate2::read::GzDecoder::new(request)
                .read_to_end(&mut plain)
                .unwrap();
        }
        let decoded = ExportLogsServiceRequest::decode(&plain[..]).unwrap();
        decoded
            .resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .flat_map(|s| &s.log_records)
            .map(|l| format!("{:?}", l.body.as_ref().unwrap().value.as_ref().unwrap()))
            .collect()
    }

    #[test]
    fn a_delivered_request_lends_its_buffer_to_the_next() {
        for gzip in [false, true] {
            let mut out = output(if gzip {
                "compression = \"gzip\""
            } else {
                "compression = \"none\""
            });
            let first = encode(&mut out, &["one", "two"]);
            let at = first.as_ptr();
            out.reuse(first);
            let second = encode(&mut out, &["three"]);
            assert_eq!(second.as_ptr(), at, "gzip {gzip}: the same allocation");
            let got = bodies(&second, gzip);
            assert_eq!(got.len(), 1, "gzip {gzip}: {got:?}");
            assert!(got[0].contains("three"), "gzip {gzip}: {got:?}");
        }
    }

    #[test]
    fn a_request_still_held_elsewhere_is_not_reused() {
        let mut out = output("compression = \"gzip\"");
        let first = encode(&mut out, &["one"]);
        let held = first.clone();
        out.reuse(first);
        assert_eq!(out.spare.capacity(), 0, "nothing was taken back");
        let second = encode(&mut out, &["two"]);
        assert!(
            bodies(&held, true)[0].contains("one"),
            "the held request is intact"
        );
        assert!(bodies(&second, true)[0].contains("two"));
    }

    #[test]
    fn buffers_over_the_limit_are_not_kept() {
        let mut out = output("compression = \"gzip\"");
        let first = encode(&mut out, &["one"]);
        out.reuse(Bytes::from(vec![0u8; MAX_SPARE_BUFFER + 1]));
        assert_eq!(out.spare.capacity(), 0, "an oversized request is freed");
        let kept = first.len();
        out.reuse(first);
        assert!(out.spare.capacity() >= kept, "a small one is kept");
        out.scratch = Vec::with_capacity(MAX_SPARE_BUFFER + 1);
        encode(&mut out, &["two"]);
        assert!(
            out.scratch.capacity() <= MAX_SPARE_BUFFER,
            "the scratch body is replaced when it grew past the limit"
        );
    }
}
