//! The admin HTTP listener (loopback by default): `/health` (the process is up), `/ready`
//! (the pipeline is running), `/metrics` (Prometheus text), `/ledger` (the record ledger
//! as JSON, with whether it balances) and `POST /reload` (re-read the config, as SIGHUP,
//! answering with the outcome: what `logferry reload` calls).

use crate::pipeline::Telemetry;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// The running pipeline's counters; a reload swaps in the new pipeline's.
pub type SharedTelemetry = Arc<std::sync::RwLock<Telemetry>>;

/// A reload asked for over HTTP, answered with its outcome (a summary, or the error).
pub type ReloadRequest = oneshot::Sender<Result<String, String>>;

#[derive(Clone)]
struct AdminState {
    telemetry: SharedTelemetry,
    ready: Arc<AtomicBool>,
    reloads: mpsc::Sender<ReloadRequest>,
}

impl AdminState {
    fn telemetry(&self) -> Telemetry {
        self.telemetry
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Serves the admin endpoints on `listener` until `shutdown` fires.
pub async fn serve(
    listener: tokio::net::TcpListener,
    telemetry: SharedTelemetry,
    ready: Arc<AtomicBool>,
    reloads: mpsc::Sender<ReloadRequest>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/health", get(|| async { "ok\n" }))
        .route("/ready", get(ready_handler))
        .route("/metrics", get(metrics_handler))
        .route("/ledger", get(ledger_handler))
        .route("/reload", post(reload_handler))
        .with_state(AdminState {
            telemetry,
            ready,
            reloads,
        });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

async fn ready_handler(State(state): State<AdminState>) -> impl IntoResponse {
    if state.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}

async fn reload_handler(State(state): State<AdminState>) -> impl IntoResponse {
    let (tx, rx) = oneshot::channel();
    if state.reloads.send(tx).await.is_err() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "logferry is stopping\n".to_string(),
        );
    }
    match rx.await {
        Ok(Ok(summary)) => (StatusCode::OK, format!("{summary}\n")),
        Ok(Err(error)) => (StatusCode::CONFLICT, format!("{error}\n")),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "logferry is stopping\n".to_string(),
        ),
    }
}

async fn metrics_handler(State(state): State<AdminState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.telemetry().render_prometheus(),
    )
}

async fn ledger_handler(State(state): State<AdminState>) -> impl IntoResponse {
    let snapshot = state.telemetry().ledger();
    let balance = snapshot.check_balance();
    let routes: Vec<serde_json::Value> = snapshot
        .routes
        .iter()
        .map(|r| {
            serde_json::json!({
                "input": r.input,
                "output": r.output,
                "received": snapshot.received(&r.input),
                "routed": r.routed,
                "replayed": r.replayed,
                "delivered": r.delivered,
                "rejected": r.rejected,
                "dropped": r.dropped,
                "buffered": r.buffered,
                "rejected_by": r.rejected_by,
                "dropped_by": r.dropped_by,
            })
        })
        .collect();
    let body = serde_json::json!({
        "balanced": balance.is_ok(),
        "error": balance.err(),
        "received": snapshot.received.iter().map(|(k, v)| (k.clone(), *v)).collect::<std::collections::BTreeMap<_, _>>(),
        "pending": snapshot.pending.iter().map(|(k, v)| (k.clone(), *v)).collect::<std::collections::BTreeMap<_, _>>(),
        "routes": routes,
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
}
