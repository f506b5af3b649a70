//! What Elasticsearch clients ask before they send a bulk request, answered as
//! Elasticsearch would, so that Filebeat's connect sequence (`GET /`, `GET /_license`, ILM,
//! index template and data stream set-up) and the official clients' product check pass.
//! Every answer carries `X-Elastic-Product: Elasticsearch`.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderMap, Method, StatusCode};

/// `MAJOR.MINOR.PATCH` (a `-SNAPSHOT` or similar suffix is ignored).
pub fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let core = text.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u32>().ok());
    Some((parts.next()??, parts.next()??, parts.next()??))
}

/// A JSON answer with Elasticsearch's headers.
pub fn json(status: StatusCode, body: impl Into<Body>) -> Response {
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header("x-elastic-product", "Elasticsearch")
        .body(body.into())
        .expect("static headers are valid")
}

/// An Elasticsearch-shaped error: `{"error":{"root_cause":[…],"type":…,"reason":…},"status":…}`.
pub fn error(status: StatusCode, kind: &str, reason: &str) -> Response {
    let cause = serde_json::json!({"type": kind, "reason": reason});
    let body = serde_json::json!({
        "error": {"root_cause": [cause], "type": kind, "reason": reason},
        "status": status.as_u16(),
    });
    json(status, body.to_string())
}

/// The version to report: the configured one, or a newer Filebeat's own (from its
/// `User-Agent: Elastic-Filebeat/8.19.2 (…)`), so its "Elasticsearch is too old" check
/// passes whatever `allow_older_versions` says.
fn reported_version<'a>(configured: &'a str, headers: &'a HeaderMap) -> &'a str {
    let beat = headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .and_then(|ua| ua.strip_prefix("Elastic-"))
        .and_then(|ua| ua.split_once('/'))
        .map(|(_, rest)| rest.split([' ', '(']).next().unwrap_or(""));
    match (beat.and_then(parse_version), parse_version(configured)) {
        (Some(b), Some(c)) if b > c => beat.unwrap_or(configured),
        _ => configured,
    }
}

/// `GET /` and `HEAD /`.
pub fn root(method: &Method, version: &str, headers: &HeaderMap) -> Response {
    if method == Method::HEAD {
        return json(StatusCode::OK, Body::empty());
    }
    let body = serde_json::json!({
        "name": "logferry",
        "cluster_name": "logferry",
        "cluster_uuid": "bG9nZmVycnktY2x1c3Rlcg",
        "version": {
            "number": reported_version(version, headers),
            "build_flavor": "default",
            "build_type": "tar",
            "lucene_version": "9.12.0",
            "minimum_wire_compatibility_version": "7.17.0",
            "minimum_index_compatibility_version": "7.0.0"
        },
        "tagline": "You Know, for Search"
    });
    json(StatusCode::OK, body.to_string())
}

/// Everything else a client may ask at connect time: license and x-pack checks, ILM
/// policies, aliases, templates, data streams, ingest pipelines. Set-up calls succeed and
/// existence checks say "exists", so nothing is created twice.
pub fn setup(method: &Method, path: &str) -> Response {
    if method == Method::HEAD {
        return json(StatusCode::OK, Body::empty());
    }
    if method == Method::PUT || method == Method::DELETE {
        return json(StatusCode::OK, r#"{"acknowledged":true}"#);
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let body = match segments.as_slice() {
        ["_license"] => serde_json::json!({"license": {
            "status": "active", "uid": "logferry", "type": "basic",
            "issue_date_in_millis": 0, "max_nodes": 1000, "issued_to": "logferry",
            "issuer": "logferry", "start_date_in_millis": -1
        }}),
        // ILM reported unavailable: Filebeat 7.x in its default `auto` mode then skips ILM.
        ["_xpack"] => serde_json::json!({
            "build": {}, "license": {"status": "active", "type": "basic", "mode": "basic"},
            "features": {"ilm": {"available": false, "enabled": false}}
        }),
        // Filebeat 7.x counts a legacy template as present when its name is in the answer.
        ["_cat", "templates", name] => {
            return Response::builder()
                .status(StatusCode::OK)
                .header(http::header::CONTENT_TYPE, "text/plain; charset=UTF-8")
                .header("x-elastic-product", "Elasticsearch")
                .body(Body::from(format!("{name} [{name}-*] 1\n")))
                .expect("static headers are valid");
        }
        ["_data_stream", name] => {
            serde_json::json!({"data_streams": [{"name": name, "status": "GREEN"}]})
        }
        ["_nodes", ..] => {
            serde_json::json!({"_nodes": {"total": 1, "successful": 1, "failed": 0}, "cluster_name": "logferry", "nodes": {}})
        }
        ["_cluster", "health", ..] => {
            serde_json::json!({"cluster_name": "logferry", "status": "green"})
        }
        _ => serde_json::json!({}),
    };
    json(StatusCode::OK, body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_the_filebeat_echo() {
        assert_eq!(parse_version("8.17.0"), Some((8, 17, 0)));
        assert_eq!(parse_version("7.17.29-SNAPSHOT"), Some((7, 17, 29)));
        assert_eq!(parse_version("8"), None);
        let mut h = HeaderMap::new();
        assert_eq!(reported_version("8.17.0", &h), "8.17.0");
        h.insert(
            http::header::USER_AGENT,
            "Elastic-Filebeat/8.19.2 (linux; amd64; abc; 2026-01-01)"
                .parse()
                .unwrap(),
        );
        assert_eq!(reported_version("8.17.0", &h), "8.19.2");
        h.insert(
            http::header::USER_AGENT,
            "Elastic-Filebeat/7.17.29 (linux; amd64)".parse().unwrap(),
        );
        assert_eq!(reported_version("8.17.0", &h), "8.17.0");
    }
}
