//! OTLP/gRPC client: tonic's channel (HTTP/2, TLS) carrying a request the output already
//! encoded — and gzip-compressed, once, at a fast level — through a pass-through codec.
//! (tonic's own compression is fixed at level 6, which cost half the output's CPU; the
//! [`GzipFrame`] layer marks our compressed message as such instead.)

use super::config::{ClientTls, Compression};
use crate::net::grpc::{self as wire, Code};
use crate::output::{Outcome, Rejection};
use crate::record::otlp::{ExportLogsServiceResponse, GRPC_EXPORT_PATH};
use bytes::{BufMut, Bytes};
use prost::Message;
use std::time::Duration;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// A connected (lazily) gRPC client.
pub(crate) struct GrpcClient {
    grpc: tonic::client::Grpc<GzipFrame<Channel>>,
    metadata: MetadataMap,
}

impl GrpcClient {
    /// Reads TLS files and prepares the channel; connects on first use.
    pub fn new(
        endpoint: &http::Uri,
        tls: &ClientTls,
        headers: &[(String, String)],
        compression: Compression,
        connect_timeout: Duration,
    ) -> Result<GrpcClient, String> {
        let mut channel = Endpoint::from(endpoint.clone())
            .connect_timeout(connect_timeout)
            .tcp_nodelay(true);
        if endpoint.scheme_str() == Some("https") {
            let mut config = ClientTlsConfig::new().with_webpki_roots();
            if let Some(ca) = &tls.ca_file {
                let pem = read(ca)?;
                config = config.ca_certificate(Certificate::from_pem(pem));
            }
            if let (Some(cert), Some(key)) = (&tls.cert_file, &tls.key_file) {
                config = config.identity(Identity::from_pem(read(cert)?, read(key)?));
            }
            channel = channel
                .tls_config(config)
                .map_err(|e| format!("tls: {e}"))?;
        }
        let service = GzipFrame {
            inner: channel.connect_lazy(),
            gzip: compression == Compression::Gzip,
        };
        let grpc = tonic::client::Grpc::new(service)
            .accept_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(16 << 20);
        let mut metadata = MetadataMap::new();
        for (name, value) in headers {
            let key = MetadataKey::from_bytes(name.as_bytes())
                .map_err(|_| format!("headers: \"{name}\" is not valid gRPC metadata"))?;
            let value = MetadataValue::try_from(value.as_str())
                .map_err(|_| format!("headers.{name}: not a valid metadata value"))?;
            metadata.insert(key, value);
        }
        Ok(GrpcClient { grpc, metadata })
    }

    /// One `Export` call with an encoded request.
    pub async fn export(&mut self, body: Bytes) -> Outcome {
        if let Err(e) = self.grpc.ready().await {
            return Outcome::Retry {
                after: None,
                reason: format!("connecting: {e}"),
            };
        }
        let mut request = tonic::Request::new(body);
        *request.metadata_mut() = self.metadata.clone();
        let path = http::uri::PathAndQuery::from_static(GRPC_EXPORT_PATH);
        match self.grpc.unary(request, path, PassThrough).await {
            Ok(response) => super::partial(response.into_inner()),
            Err(status) => from_status(&status),
        }
    }
}

fn read(path: &std::path::Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("tls: cannot read {}: {e}", path.display()))
}

/// A gRPC status → retry (the OTLP retryable codes) or a final rejection. A status tonic
/// made up for a broken connection (reset, GOAWAY, closed mid-response: UNKNOWN or
/// INTERNAL with an error source) is not the server's verdict, and is retried.
fn from_status(status: &tonic::Status) -> Outcome {
    let code = Code::from_i32(status.code() as i32);
    let after = wire::retry_delay(status.details());
    let reason = format!("{:?}: {}", status.code(), status.message());
    let transport = std::error::Error::source(status).is_some();
    if transport || wire::is_retryable(code, after.is_some()) {
        return Outcome::Retry { after, reason };
    }
    Outcome::Rejected(Rejection::new(code_label(code), reason))
}

fn code_label(code: Code) -> &'static str {
    match code {
        Code::InvalidArgument => "grpc_invalid_argument",
        Code::ResourceExhausted => "grpc_resource_exhausted",
        Code::PermissionDenied => "grpc_permission_denied",
        Code::Unauthenticated => "grpc_unauthenticated",
        Code::Unimplemented => "grpc_unimplemented",
        Code::NotFound => "grpc_not_found",
        Code::Internal => "grpc_internal",
        _ => "grpc_error",
    }
}

/// Marks the (already gzip-compressed) message of a request as compressed: the
/// `grpc-encoding: gzip` header and the frame's compressed-flag byte.
#[derive(Clone)]
pub(crate) struct GzipFrame<S> {
    inner: S,
    gzip: bool,
}

impl<S> tower::Service<http::Request<tonic::body::Body>> for GzipFrame<S>
where
    S: tower::Service<http::Request<tonic::body::Body>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<tonic::body::Body>) -> S::Future {
        if self.gzip {
            request
                .headers_mut()
                .insert("grpc-encoding", http::HeaderValue::from_static("gzip"));
            let body = std::mem::replace(request.body_mut(), tonic::body::Body::empty());
            let mut first = true;
            let body = http_body_util::BodyExt::map_frame(body, move |frame| {
                if !(first && frame.is_data()) {
                    return frame;
                }
                first = false;
                frame.map_data(|data| {
                    let mut data = bytes::BytesMut::from(data);
                    if let Some(flag) = data.first_mut() {
                        *flag = 1;
                    }
                    data.freeze()
                })
            });
            *request.body_mut() = tonic::body::Body::new(body);
        }
        self.inner.call(request)
    }
}

/// Sends bytes as they are; decodes the response with prost.
struct PassThrough;

impl Codec for PassThrough {
    type Encode = Bytes;
    type Decode = ExportLogsServiceResponse;
    type Encoder = PassThrough;
    type Decoder = PassThrough;
    fn encoder(&mut self) -> PassThrough {
        PassThrough
    }
    fn decoder(&mut self) -> PassThrough {
        PassThrough
    }
}

impl Encoder for PassThrough {
    type Item = Bytes;
    type Error = tonic::Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for PassThrough {
    type Item = ExportLogsServiceResponse;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut DecodeBuf<'_>,
    ) -> Result<Option<ExportLogsServiceResponse>, tonic::Status> {
        ExportLogsServiceResponse::decode(src)
            .map(Some)
            .map_err(|e| tonic::Status::internal(format!("invalid response: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_retry_or_rejection() {
        let unavailable = tonic::Status::unavailable("down");
        assert!(matches!(
            from_status(&unavailable),
            Outcome::Retry { after: None, .. }
        ));
        let throttled = tonic::Status::with_details(
            tonic::Code::ResourceExhausted,
            "slow down",
            wire::status_details(
                Code::ResourceExhausted,
                "slow down",
                Some(Duration::from_secs(3)),
            )
            .into(),
        );
        assert_eq!(
            from_status(&throttled),
            Outcome::Retry {
                after: Some(Duration::from_secs(3)),
                reason: "ResourceExhausted: slow down".into()
            }
        );
        let too_big = tonic::Status::resource_exhausted("too big");
        assert!(
            matches!(from_status(&too_big), Outcome::Rejected(r) if r.code == "grpc_resource_exhausted")
        );
        let reset = tonic::Status::from_error(Box::new(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection reset",
        )));
        assert!(
            matches!(from_status(&reset), Outcome::Retry { .. }),
            "{reset:?}"
        );
        let bad = tonic::Status::invalid_argument("bad");
        assert!(
            matches!(from_status(&bad), Outcome::Rejected(r) if r.message == "InvalidArgument: bad")
        );
    }
}
