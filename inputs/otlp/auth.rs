//! Request authentication: a bearer token and/or fixed header values, compared in constant
//! time so a timing side channel does not reveal how much of a guess was right.

use super::config::AuthConfig;
use crate::net::ingest::constant_time_eq;
use http::HeaderMap;

/// The credentials every request must carry (none when `auth` is not configured).
#[derive(Clone, Debug, Default)]
pub(crate) struct Auth {
    required: Vec<(http::HeaderName, Vec<u8>)>,
}

impl Auth {
    pub fn new(config: Option<&AuthConfig>) -> Auth {
        let Some(config) = config else {
            return Auth::default();
        };
        let mut required: Vec<_> = config
            .headers
            .iter()
            .filter_map(|(k, v)| {
                let name = http::HeaderName::try_from(k.as_str()).ok()?;
                Some((name, v.as_bytes().to_vec()))
            })
            .collect();
        if let Some(token) = &config.bearer_token {
            required.push((
                http::header::AUTHORIZATION,
                format!("Bearer {token}").into_bytes(),
            ));
        }
        Auth { required }
    }

    /// True when every required header is present with its value.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        self.required.iter().all(|(name, expected)| {
            headers
                .get_all(name)
                .iter()
                .any(|v| constant_time_eq(v.as_bytes(), expected))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_credential_must_match() {
        let config = AuthConfig {
            bearer_token: Some("s3cret".into()),
            headers: [("x-tenant".to_string(), "a".to_string())].into(),
        };
        let auth = Auth::new(Some(&config));
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer s3cret".parse().unwrap());
        assert!(!auth.allows(&headers), "x-tenant missing");
        headers.insert("x-tenant", "a".parse().unwrap());
        assert!(auth.allows(&headers));
        headers.insert("authorization", "Bearer s3creT".parse().unwrap());
        assert!(!auth.allows(&headers));
        assert!(Auth::new(None).allows(&HeaderMap::new()));
    }
}
