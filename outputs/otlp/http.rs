//! OTLP/HTTP client: `POST` of an encoded (and usually gzip-compressed) request with
//! reqwest on rustls; the response status decides retry or rejection as the OTLP
//! specification says (429, 502, 503, 504 are retried, honouring `Retry-After`).

use crate::net::client::{ClientTls, error_chain, parse_retry_after, tls_config};
use crate::net::grpc::RpcStatus;
use crate::output::{Outcome, Rejection};
use crate::record::otlp::ExportLogsServiceResponse;
use bytes::Bytes;
use prost::Message;
use std::time::Duration;

/// A prepared HTTP client for one endpoint.
pub(crate) struct HttpClient {
    client: reqwest::Client,
    url: reqwest::Url,
    headers: reqwest::header::HeaderMap,
}

impl HttpClient {
    /// Reads TLS files and builds the client (no connection yet).
    pub fn new(
        url: &http::Uri,
        tls: &ClientTls,
        headers: reqwest::header::HeaderMap,
        connect_timeout: Duration,
    ) -> Result<HttpClient, String> {
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls_config(tls)?)
            .connect_timeout(connect_timeout)
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        let url = reqwest::Url::parse(&url.to_string()).map_err(|e| format!("endpoint: {e}"))?;
        Ok(HttpClient {
            client,
            url,
            headers,
        })
    }

    /// One `POST`.
    pub async fn post(&self, body: Bytes) -> Outcome {
        let sent = self
            .client
            .post(self.url.clone())
            .headers(self.headers.clone())
            .body(body)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(e) => {
                return Outcome::Retry {
                    after: None,
                    reason: format!("{}: {}", self.url, error_chain(&e)),
                };
            }
        };
        let status = response.status().as_u16();
        let json = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let body = response.bytes().await.unwrap_or_default();
        classify(status, json, retry_after, &body)
    }
}

/// Maps a response to an outcome.
pub(crate) fn classify(
    status: u16,
    json: bool,
    retry_after: Option<Duration>,
    body: &[u8],
) -> Outcome {
    if (200..300).contains(&status) {
        let response = if json {
            parse_json_response(body)
        } else {
            ExportLogsServiceResponse::decode(body).unwrap_or_default()
        };
        return super::partial(response);
    }
    let message = error_message(json, body);
    let reason = format!("HTTP {status}: {message}");
    if matches!(status, 429 | 502 | 503 | 504) {
        return Outcome::Retry {
            after: retry_after,
            reason,
        };
    }
    let code = match status {
        400 => "http_400",
        401 => "http_401",
        403 => "http_403",
        404 => "http_404",
        413 => "http_413",
        415 => "http_415",
        500..=599 => "http_5xx",
        _ => "http_4xx",
    };
    Outcome::Rejected(Rejection::new(code, reason))
}

fn parse_json_response(body: &[u8]) -> ExportLogsServiceResponse {
    // Tolerant by hand: `rejectedLogRecords` may be a string or a number.
    let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let partial = &value["partialSuccess"];
    let rejected = match &partial["rejectedLogRecords"] {
        serde_json::Value::String(s) => s.parse().unwrap_or(0),
        v => v.as_i64().unwrap_or(0),
    };
    let message = partial["errorMessage"].as_str().unwrap_or("").to_string();
    ExportLogsServiceResponse {
        partial_success: (rejected != 0 || !message.is_empty()).then_some(
            crate::record::otlp::ExportLogsPartialSuccess {
                rejected_log_records: rejected,
                error_message: message,
            },
        ),
    }
}

/// The server's own words: a `google.rpc.Status` message, else the body as text.
fn error_message(json: bool, body: &[u8]) -> String {
    let from_status = if json {
        serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_string))
    } else {
        RpcStatus::decode(body)
            .ok()
            .map(|s| s.message)
            .filter(|m| !m.is_empty())
    };
    let mut text = from_status.unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_string());
    if text.len() > 512 {
        let mut cut = 512;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_otlp_specification() {
        for status in [429, 502, 503, 504] {
            assert!(
                matches!(classify(status, false, None, b""), Outcome::Retry { .. }),
                "{status}"
            );
        }
        assert_eq!(
            classify(
                503,
                true,
                Some(Duration::from_secs(7)),
                br#"{"code":14,"message":"busy"}"#
            ),
            Outcome::Retry {
                after: Some(Duration::from_secs(7)),
                reason: "HTTP 503: busy".into()
            }
        );
        let bad = RpcStatus {
            code: 3,
            message: "field 6 is wrong".into(),
            details: vec![],
        };
        assert_eq!(
            classify(400, false, None, &bad.encode_to_vec()),
            Outcome::Rejected(Rejection::new("http_400", "HTTP 400: field 6 is wrong"))
        );
        assert!(
            matches!(classify(500, false, None, b"oops"), Outcome::Rejected(r) if r.code == "http_5xx")
        );
        assert_eq!(classify(200, false, None, b""), Outcome::Delivered);
        assert_eq!(
            classify(
                200,
                true,
                None,
                br#"{"partialSuccess":{"rejectedLogRecords":"2","errorMessage":"too old"}}"#
            ),
            Outcome::PartiallyRejected {
                count: 2,
                rejection: Rejection::new("partial_success", "too old")
            }
        );
    }
}
