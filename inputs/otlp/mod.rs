//! `type = "otlp"`: OTLP/gRPC (`LogsService/Export`, default port 4317) and OTLP/HTTP
//! (`POST /v1/logs`, protobuf or JSON, default port 4318), optionally over TLS/mTLS and with
//! required credentials.
//!
//! Records keep every field exactly as sent (the record is the OTLP model). A request is
//! answered only once its records are acknowledged: success when every output delivered
//! them, `partial_success` with the count and reason when some were refused for good. When
//! the pipeline is full the sender is told to retry later rather than buffered without
//! bound: gRPC `UNAVAILABLE` with RetryInfo, HTTP 503 with `Retry-After`.
//!
//! | problem | gRPC | HTTP |
//! |---|---|---|
//! | malformed protobuf / JSON / gzip | `INVALID_ARGUMENT` | 400 |
//! | over `max_request_bytes` | `RESOURCE_EXHAUSTED` (no retry info: not retried) | 413 |
//! | credentials missing or wrong | `UNAUTHENTICATED` | 401 |
//! | unknown content type or encoding | `UNIMPLEMENTED` | 415 |
//! | pipeline full, or shutting down | `UNAVAILABLE` + RetryInfo 1s | 503 + `Retry-After: 1` |

mod auth;
mod config;
mod grpc;
mod http;
mod ingest;

pub use config::{AuthConfig, OtlpInputConfig};

use crate::input::{Input, InputBuildContext, InputConfig, InputContext, InputError};
use crate::record::otlp::GRPC_EXPORT_PATH;
use axum::Router;
use axum::routing::post;
use ingest::Ingest;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::task::JoinSet;

impl InputConfig for OtlpInputConfig {
    type Input = OtlpInput;

    fn build(&self, _cx: &InputBuildContext) -> Result<OtlpInput, String> {
        self.check()?;
        let (grpc, http) = self.addresses()?;
        Ok(OtlpInput {
            config: self.clone(),
            grpc,
            http,
        })
    }
}

/// A running OTLP receiver.
pub struct OtlpInput {
    config: OtlpInputConfig,
    grpc: Option<SocketAddr>,
    http: Option<SocketAddr>,
}

impl Input for OtlpInput {
    async fn run(self, cx: InputContext) -> Result<(), InputError> {
        let cx = Arc::new(cx);
        let tls = match &self.config.tls {
            Some(tls) => {
                let config = tls
                    .server_config()
                    .map_err(|e| InputError(format!("tls: {e}")))?;
                Some(crate::net::http::tls_acceptor(&config))
            }
            None => None,
        };
        let auth = auth::Auth::new(self.config.auth.as_ref());
        let ingest = Arc::new(Ingest::new(
            Arc::clone(&cx),
            "OTLP request",
            Box::new(move |headers| auth.allows(headers)),
            self.config.max_request_bytes.0 as usize,
            self.config.max_concurrent_requests,
            self.config.queue_wait.0,
        ));
        let grpc_router = Router::new()
            .route(GRPC_EXPORT_PATH, post(grpc::export))
            .with_state(Arc::clone(&ingest));
        let http_router = Router::new()
            .route("/v1/logs", post(http::export))
            .with_state(Arc::clone(&ingest));
        let scheme = if tls.is_some() { "s" } else { "" };
        let mut servers = JoinSet::new();
        // Bind both first, so a taken port fails the start rather than half of it.
        let mut listeners = Vec::new();
        for (key, addr, router) in [
            ("grpc", self.grpc, grpc_router),
            ("http", self.http, http_router),
        ] {
            let Some(addr) = addr else { continue };
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| InputError(format!("{key}: cannot bind {addr}: {e}")))?;
            let local = listener
                .local_addr()
                .map_err(|e| InputError(e.to_string()))?;
            listeners.push((listener, router));
            let address = format!("{key}{scheme}://{local}");
            tracing::info!(input = %cx.name, address, "OTLP listening");
        }
        for (listener, router) in listeners {
            servers.spawn(crate::net::http::serve(
                listener,
                tls.clone(),
                router,
                self.config.max_connections,
                self.config.idle_timeout.0,
                Arc::clone(&cx.metrics),
                cx.shutdown.clone(),
            ));
        }
        while servers.join_next().await.is_some() {}
        Ok(())
    }
}
