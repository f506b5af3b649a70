//! Loki's answers: 2xx delivered; 429 and 5xx (but 501) retried, honouring `Retry-After`;
//! 400 refused for good. A 400 may mean "these entries were refused, the rest stored", so it
//! is never retried: the entries it names are counted as rejected, by reason.

use crate::output::{Outcome, Rejection};
use std::time::Duration;

/// What one push achieved.
#[derive(Debug, PartialEq)]
pub enum Pushed {
    Stored,
    /// `count` entries (at most the body's) refused for good.
    Refused(usize, Rejection),
    Retry(Outcome),
}

/// Classifies a response to a push of `entries` entries.
pub fn classify(status: u16, retry_after: Option<Duration>, body: &str, entries: usize) -> Pushed {
    let message = trimmed(body);
    if (200..300).contains(&status) {
        return Pushed::Stored;
    }
    if status == 429 || (status >= 500 && status != 501) {
        return Pushed::Retry(Outcome::Retry {
            after: retry_after,
            reason: format!("HTTP {status}: {message}"),
        });
    }
    let (code, count) = match status {
        400 => (reason(body), refused_count(body).unwrap_or(entries)),
        401 => ("http_401", entries),
        403 => ("http_403", entries),
        404 => ("http_404", entries),
        413 => ("http_413", entries),
        422 => ("http_422", entries),
        500.. => ("http_5xx", entries),
        _ => ("http_4xx", entries),
    };
    Pushed::Refused(
        count.min(entries),
        Rejection::new(code, format!("HTTP {status}: {message}")),
    )
}

/// The first reason Loki gives, as a stable code.
fn reason(body: &str) -> &'static str {
    let b = body.to_ascii_lowercase();
    if b.contains("out of order") || b.contains("too far behind") {
        "out_of_order"
    } else if b.contains("too old") {
        "too_old"
    } else if b.contains("too new") || b.contains("in the future") {
        "too_new"
    } else if b.contains("max entry size") || b.contains("line too long") {
        "line_too_long"
    } else if b.contains("structured metadata") {
        "structured_metadata"
    } else if b.contains("label") {
        "invalid_labels"
    } else {
        "http_400"
    }
}

/// Entries a 400 names as refused: the ingester's `total ignored: N out of M` (per
/// stream), else one per distributor line about an entry (too old, too new, too long).
/// `None` when the message does not say (a stream-level error: the whole body counts).
fn refused_count(body: &str) -> Option<usize> {
    let mut total = None;
    let mut rest = body;
    while let Some(at) = rest.find("total ignored: ") {
        rest = &rest[at + "total ignored: ".len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(n) = digits.parse::<usize>() {
            *total.get_or_insert(0) += n;
        }
    }
    if total.is_some() {
        return total;
    }
    let lower = body.to_ascii_lowercase();
    let per_entry = ["timestamp too old", "timestamp too new", "max entry size"]
        .iter()
        .map(|p| lower.matches(p).count())
        .sum::<usize>();
    (per_entry > 0).then_some(per_entry)
}

fn trimmed(body: &str) -> String {
    let body = body.trim();
    if body.len() <= 512 {
        return body.to_string();
    }
    let mut cut = 512;
    while !body.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &body[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_reasons() {
        assert_eq!(classify(204, None, "", 3), Pushed::Stored);
        for status in [429, 500, 502, 503, 504] {
            assert!(
                matches!(classify(status, None, "", 3), Pushed::Retry(_)),
                "{status}"
            );
        }
        let after = Some(Duration::from_secs(4));
        assert_eq!(
            classify(429, after, "Ingestion rate limit exceeded", 3),
            Pushed::Retry(Outcome::Retry {
                after,
                reason: "HTTP 429: Ingestion rate limit exceeded".into()
            })
        );
        let behind = "entry with timestamp 2026-11-29 08:00:00 +0000 UTC ignored, reason: 'entry too far behind, entry timestamp is: 2026-11-29T08:00:00Z, oldest acceptable timestamp is: 2026-11-29T09:00:00Z',\nuser 'fake', total ignored: 2 out of 5 for stream: {job=\"x\"}";
        match classify(400, None, behind, 10) {
            Pushed::Refused(2, r) => assert_eq!(r.code, "out_of_order"),
            other => panic!("{other:?}"),
        }
        let old = "entry for stream '{job=\"x\"}' has timestamp too old: 2020-01-01T00:00:00Z, oldest acceptable timestamp is: 2026-11-22T00:00:00Z\nentry for stream '{job=\"x\"}' has timestamp too old: 2020-01-01T00:00:01Z, oldest acceptable timestamp is: 2026-11-22T00:00:00Z";
        match classify(400, None, old, 10) {
            Pushed::Refused(2, r) => assert_eq!(r.code, "too_old"),
            other => panic!("{other:?}"),
        }
        match classify(400, None, "stream '{a=\"b\"}' has invalid label", 7) {
            Pushed::Refused(7, r) => assert_eq!(r.code, "invalid_labels"),
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(classify(501, None, "", 1), Pushed::Refused(1, r) if r.code == "http_5xx")
        );
        assert!(
            matches!(classify(401, None, "no org id", 1), Pushed::Refused(1, r) if r.code == "http_401")
        );
    }
}
