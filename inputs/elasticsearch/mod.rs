//! `type = "elasticsearch"`: the Elasticsearch bulk API (default port 9200), so Filebeat's
//! `output.elasticsearch` and the official Elasticsearch clients can ship to logferry by
//! changing one URL.
//!
//! `POST /_bulk` and `POST /{index}/_bulk` (also `PUT`): NDJSON action + document pairs,
//! gzip bodies, `index` and `create` actions. Documents map into records as
//! `crate::record::ecs` says, plus `elasticsearch.index` (and `elasticsearch.id`,
//! `elasticsearch.pipeline` when given). The answer — `took`, `errors`, one item per action
//! in order — is sent only once the records are acknowledged, always with HTTP 200 (Filebeat
//! retries a whole batch on any other status): 201 per delivered document; 400 per item for
//! a document that is not a JSON object, an `update`/`delete`, or a document a destination
//! refused for good (Filebeat drops those). Connect-time calls are answered as
//! Elasticsearch would (`api.rs`).
//!
//! | problem | answer |
//! |---|---|
//! | malformed action line | 400 `illegal_argument_exception` (whole request, as Elasticsearch) |
//! | over `max_request_bytes` | 413 |
//! | credentials missing or wrong | 401 `security_exception` |
//! | content type not JSON/NDJSON | 406 |
//! | bad gzip | 400 `parse_exception` |
//! | pipeline full | 429 `es_rejected_execution_exception` + `Retry-After: 1` (clients back off and retry) |
//! | shutting down | 503 + `Retry-After: 1` |

mod api;
pub(crate) mod bulk;
mod config;

pub use config::{AuthConfig, ElasticsearchConfig};

use crate::input::{Input, InputBuildContext, InputConfig, InputContext, InputError};
use crate::net::ingest::{Accepted, Failure, Ingest, RETRY_AFTER, constant_time_eq};
use crate::record::ecs::EcsMapper;
use crate::record::now_unix_nano;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use base64::Engine;
use http::{HeaderMap, Method, StatusCode, Uri};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

impl InputConfig for ElasticsearchConfig {
    type Input = ElasticsearchInput;

    fn build(&self, _cx: &InputBuildContext) -> Result<ElasticsearchInput, String> {
        let addr = self.check()?;
        Ok(ElasticsearchInput {
            config: self.clone(),
            addr,
        })
    }
}

/// A running bulk API endpoint.
pub struct ElasticsearchInput {
    config: ElasticsearchConfig,
    addr: SocketAddr,
}

struct Shared {
    ingest: Ingest,
    version: String,
}

/// The `Authorization` values that admit a request (none configured: all are admitted).
fn authorizer(auth: Option<&AuthConfig>) -> Box<dyn Fn(&HeaderMap) -> bool + Send + Sync> {
    let b64 = |s: String| base64::engine::general_purpose::STANDARD.encode(s);
    let mut accepted: Vec<Vec<u8>> = Vec::new();
    if let Some(auth) = auth {
        if let (Some(user), Some(password)) = (&auth.username, &auth.password) {
            accepted.push(format!("Basic {}", b64(format!("{user}:{password}"))).into_bytes());
        }
        if let Some(key) = &auth.api_key {
            accepted.push(format!("ApiKey {}", b64(key.clone())).into_bytes());
        }
    }
    Box::new(move |headers: &HeaderMap| {
        accepted.is_empty()
            || headers
                .get_all(http::header::AUTHORIZATION)
                .iter()
                .any(|v| accepted.iter().any(|a| constant_time_eq(v.as_bytes(), a)))
    })
}

impl Input for ElasticsearchInput {
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
        let shared = Arc::new(Shared {
            ingest: Ingest::new(
                Arc::clone(&cx),
                "bulk request",
                authorizer(self.config.auth.as_ref()),
                self.config.max_request_bytes.0 as usize,
                self.config.max_concurrent_requests,
                self.config.queue_wait.0,
            ),
            version: self.config.version.clone(),
        });
        let router = Router::new()
            .route("/", get(root).head(root))
            .route("/_bulk", post(bulk).put(bulk))
            .route("/{index}/_bulk", post(bulk_into).put(bulk_into))
            .fallback(setup)
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind(self.addr)
            .await
            .map_err(|e| InputError(format!("listen: cannot bind {}: {e}", self.addr)))?;
        let local = listener
            .local_addr()
            .map_err(|e| InputError(e.to_string()))?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!(input = %cx.name, address = %format!("{scheme}://{local}"), "Elasticsearch bulk API listening");
        crate::net::http::serve(
            listener,
            tls,
            router,
            self.config.max_connections,
            self.config.idle_timeout.0,
            Arc::clone(&cx.metrics),
            cx.shutdown.clone(),
        )
        .await;
        Ok(())
    }
}

fn unauthorized() -> Response {
    let mut response = api::error(
        StatusCode::UNAUTHORIZED,
        "security_exception",
        "missing or invalid credentials for REST request",
    );
    response.headers_mut().insert(
        http::header::WWW_AUTHENTICATE,
        http::HeaderValue::from_static("Basic realm=\"security\" charset=\"UTF-8\", ApiKey"),
    );
    response
}

async fn root(State(s): State<Arc<Shared>>, method: Method, headers: HeaderMap) -> Response {
    if s.ingest.admit(&headers).is_err() {
        return unauthorized();
    }
    api::root(&method, &s.version, &headers)
}

async fn setup(
    State(s): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if s.ingest.admit(&headers).is_err() {
        return unauthorized();
    }
    if method == Method::POST {
        return api::error(
            StatusCode::BAD_REQUEST,
            "illegal_argument_exception",
            &format!(
                "logferry serves only the bulk API: POST {} is not supported",
                uri.path()
            ),
        );
    }
    api::setup(&method, uri.path())
}

async fn bulk(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Body) -> Response {
    handle(&s, None, &headers, body).await
}

async fn bulk_into(
    State(s): State<Arc<Shared>>,
    Path(index): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    handle(&s, Some(&index), &headers, body).await
}

async fn handle(s: &Shared, index: Option<&str>, headers: &HeaderMap, body: Body) -> Response {
    match accept(s, index, headers, body).await {
        Ok(ok) => ok,
        Err(failure) => failed(&failure),
    }
}

async fn accept(
    s: &Shared,
    index: Option<&str>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, Failure> {
    let started = Instant::now();
    let ingest = &s.ingest;
    let _slot = ingest.admit(headers)?;
    let media = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    if let Some(media) = &media
        && !matches!(
            media.as_str(),
            "application/json"
                | "application/x-ndjson"
                | "application/vnd.elasticsearch+json"
                | "application/vnd.elasticsearch+x-ndjson"
        )
    {
        return Err(ingest.refuse(Failure::Unsupported(format!(
            "Content-Type header [{media}] is not supported"
        ))));
    }
    let (body, mut held) = ingest.read_body(body, ingest.max_request_bytes).await?;
    let body = match headers
        .get(http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
    {
        None | Some("identity") => body,
        Some("gzip") | Some("x-gzip") => ingest.gunzip(&body, &mut held)?,
        Some(other) => {
            return Err(ingest.refuse(Failure::Unsupported(format!(
                "Content-Encoding [{other}] is not supported; expected gzip"
            ))));
        }
    };
    let mut mapper = EcsMapper::new("logferry.elasticsearch");
    let parsed = bulk::parse(&body, index, &mut mapper, now_unix_nano())
        .map_err(|e| ingest.refuse(Failure::Invalid(e)))?;
    let failed_items = parsed
        .items
        .iter()
        .filter(|i| matches!(i, bulk::Item::Failed { .. }))
        .count() as u64;
    if failed_items > 0 {
        ingest.cx.metrics.parse_failures.add(failed_items);
        ingest.cx.metrics.errors.add(failed_items);
    }
    let Accepted { rejected, message } = ingest.export(parsed.records, held).await?;
    let verdict = match rejected {
        0 => bulk::Verdict::Delivered,
        n => bulk::Verdict::Rejected {
            count: n as usize,
            reason: &message,
        },
    };
    let took = started.elapsed().as_millis() as u64;
    Ok(api::json(
        StatusCode::OK,
        bulk::response(&parsed.items, &verdict, took),
    ))
}

fn failed(failure: &Failure) -> Response {
    let reason = failure.message();
    let (status, kind) = match failure {
        Failure::Invalid(_) => (StatusCode::BAD_REQUEST, "illegal_argument_exception"),
        Failure::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "content_too_long_exception"),
        Failure::Unauthenticated => return unauthorized(),
        Failure::Unsupported(_) => (StatusCode::NOT_ACCEPTABLE, "media_type_header_exception"),
        Failure::Overloaded | Failure::MemoryLimit => (
            StatusCode::TOO_MANY_REQUESTS,
            "es_rejected_execution_exception",
        ),
        Failure::ShuttingDown => (
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable_shards_exception",
        ),
    };
    let mut response = api::error(status, kind, &reason);
    if matches!(
        failure,
        Failure::Overloaded | Failure::MemoryLimit | Failure::ShuttingDown
    ) {
        response.headers_mut().insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from(RETRY_AFTER.as_secs()),
        );
    }
    response
}
