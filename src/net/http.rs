//! Serving an axum router on a TCP listener, plain or TLS (ALPN h2 + http/1.1, so gRPC
//! clients get HTTP/2), with the shared accept loop's connection limit. On shutdown each
//! connection finishes its in-flight requests and closes (HTTP/2 GOAWAY).

use crate::metrics::InputMetrics;
use crate::net::accept;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

/// Longest a TLS client may take to complete its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A TLS acceptor offering HTTP/2 and HTTP/1.1 by ALPN.
pub fn tls_acceptor(config: &rustls::ServerConfig) -> TlsAcceptor {
    let mut config = config.clone();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    TlsAcceptor::from(Arc::new(config))
}

/// Serves `router` until `shutdown`, then waits for open connections to finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    tls: Option<TlsAcceptor>,
    router: axum::Router,
    max_connections: usize,
    idle_timeout: Duration,
    metrics: Arc<InputMetrics>,
    shutdown: CancellationToken,
) {
    let errors = Arc::clone(&metrics);
    accept::serve(
        listener,
        max_connections,
        metrics,
        shutdown,
        move |stream, peer, stop| {
            let (router, tls, errors) = (router.clone(), tls.clone(), Arc::clone(&errors));
            async move {
                let Some(tls) = tls else {
                    return connection(stream, router, idle_timeout, stop).await;
                };
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(stream)).await {
                    Ok(Ok(stream)) => connection(stream, router, idle_timeout, stop).await,
                    Ok(Err(e)) => {
                        errors.errors.add(1);
                        tracing::warn!(peer = ?peer, error = %e, "TLS handshake failed");
                    }
                    Err(_) => {
                        errors.errors.add(1);
                        tracing::warn!(peer = ?peer, "TLS handshake failed: none within 10s");
                    }
                }
            }
        },
    )
    .await
}

async fn connection<S>(
    stream: S,
    router: axum::Router,
    idle_timeout: Duration,
    stop: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // OTLP requests are often hundreds of KiB: HTTP/2's default 64 KiB windows would make
    // each one wait for several WINDOW_UPDATE round trips.
    builder
        .http2()
        .timer(TokioTimer::new())
        .initial_stream_window_size(1 << 20)
        .initial_connection_window_size(4 << 20)
        // Dead peers are found by PING; a live HTTP/2 connection may idle.
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20));
    // HTTP/1: headers must arrive within idle_timeout, counted from connecting and from
    // each answer, so a client that connects and sends nothing, or dribbles a header, is
    // closed (slowloris).
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(idle_timeout);
    // Before the first request the protocol is still being sniffed (HTTP/1 or the HTTP/2
    // preface), where hyper's header timeout does not reach: a connection that has not
    // started a request within idle_timeout is closed here.
    let started = Arc::new(AtomicBool::new(false));
    let mark = Arc::clone(&started);
    let router = tower::ServiceBuilder::new()
        .map_request(move |request: http::Request<hyper::body::Incoming>| {
            mark.store(true, Ordering::Relaxed);
            request
        })
        .service(router);
    let service = TowerToHyperService::new(router);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let no_request = async {
        tokio::time::sleep(idle_timeout).await;
        if started.load(Ordering::Relaxed) {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "HTTP connection ended with an error");
            }
        }
        _ = no_request => {
            tracing::debug!(?idle_timeout, "closing a connection that sent no request");
        }
        _ = stop.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}
