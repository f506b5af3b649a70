//! OTLP/gRPC client: tonic's channel (HTTP/2, gzip, TLS) carrying a request the output
//! already encoded, through a pass-through codec.

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
    grpc: tonic::client::Grpc<Channel>,
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
        let mut grpc = tonic::client::Grpc::new(channel.connect_lazy())
            .accept_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(16 << 20);
        if compression == Compression::Gzip {
            grpc = grpc.send_compressed(CompressionEncoding::Gzip);
        }
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

/// A gRPC status → retry (the OTLP retryable codes) or a final rejection.
fn from_status(status: &tonic::Status) -> Outcome {
    let code = Code::from_i32(status.code() as i32);
    let after = wire::retry_delay(status.details());
    let reason = format!("{:?}: {}", status.code(), status.message());
    if wire::is_retryable(code, after.is_some()) {
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
        let bad = tonic::Status::invalid_argument("bad");
        assert!(
            matches!(from_status(&bad), Outcome::Rejected(r) if r.message == "InvalidArgument: bad")
        );
    }
}
