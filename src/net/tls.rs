//! TLS for listeners: a rustls server config (ring provider) from PEM files, with optional
//! client-certificate verification (mTLS). Loaded when a listener starts, so `validate`
//! does no I/O; every error names the file and what was expected in it.

use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// `tls = { cert_file = ..., key_file = ..., client_ca_file = ... }` on a listener.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// The server's certificate chain (PEM, leaf first).
    pub cert_file: PathBuf,
    /// The server's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// When set, clients must present a certificate signed by one of these CAs (PEM).
    #[serde(default)]
    pub client_ca_file: Option<PathBuf>,
}

/// Why a TLS config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("TLS setup: {0}")]
    Rustls(#[from] rustls::Error),
}

fn file_error(path: &Path, message: impl std::fmt::Display) -> TlsError {
    TlsError::File {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

impl TlsSettings {
    /// Reads the PEM files and builds the server config.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certs = read_certs(&self.cert_file)?;
        let key = PrivateKeyDer::from_pem_file(&self.key_file)
            .map_err(|e| file_error(&self.key_file, format!("expected a PEM private key: {e}")))?;
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()?;
        let builder = match &self.client_ca_file {
            Some(ca_file) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in read_certs(ca_file)? {
                    roots.add(cert).map_err(|e| {
                        file_error(ca_file, format!("unusable CA certificate: {e}"))
                    })?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .map_err(|e| file_error(ca_file, e))?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let config = builder.with_single_cert(certs, key).map_err(|e| {
            file_error(
                &self.cert_file,
                format!("certificate and key do not fit: {e}"),
            )
        })?;
        Ok(Arc::new(config))
    }
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(path, format!("cannot read: {e}")))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_error(path, format!("expected PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(file_error(
            path,
            "expected at least one PEM certificate, found none",
        ));
    }
    Ok(certs)
}

/// Longest a TLS client may take to complete its handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Counts and logs a failed TLS handshake of a stream input's connection.
pub fn handshake_failed(
    cx: &crate::input::InputContext,
    peer: Option<std::net::SocketAddr>,
    error: &str,
) {
    cx.metrics.errors.add(1);
    tracing::warn!(input = %cx.name, peer = ?peer, error, "TLS handshake failed");
}

/// The server side of a TLS handshake, within [`HANDSHAKE_TIMEOUT`]; the error says why not.
pub async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    tls: &tokio_rustls::TlsAcceptor,
    stream: S,
) -> Result<tokio_rustls::server::TlsStream<S>, String> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(stream)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "no handshake within {}s",
            HANDSHAKE_TIMEOUT.as_secs()
        )),
    }
}
