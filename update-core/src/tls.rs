//! TLS settings shared by every program that speaks HTTPS: the server's certificate and
//! key, the client's trust (a CA file instead of the built-in roots, or one pinned
//! certificate), and the rule for when plain HTTP is acceptable (loopback only, unless
//! the configuration explicitly allows it). Everything uses rustls with the `ring`
//! provider, the one reqwest uses too.

mod pin;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

pub use pin::CertPin;

/// A PEM file of certificates or a key is a few kilobytes; anything huge is a mistake.
const MAX_PEM_FILE: u64 = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is larger than {MAX_PEM_FILE} bytes")]
    TooLarge { path: PathBuf },
    #[error("{path} holds no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error("{path} is not valid PEM: {reason}")]
    Pem { path: PathBuf, reason: String },
    #[error("{path} holds no usable private key (PKCS#8, PKCS#1 or SEC1 PEM): {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("invalid pinned certificate digest {0:?}: expected 64 hex digits (sha256)")]
    InvalidPin(String),
    #[error("TLS setup failed: {0}")]
    Setup(String),
}

/// What a client trusts for HTTPS. Neither field set: the built-in web roots.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientTrust {
    /// PEM CA certificates; when set, only these are trusted (not the built-in roots).
    pub ca_file: Option<PathBuf>,
    /// sha256 of the server's leaf certificate (DER): exactly that certificate is
    /// accepted, and with `ca_file` it must also chain to one of those CAs.
    pub pinned_sha256: Option<CertPin>,
}

/// The crypto provider of every TLS config we build.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The rustls client config for `trust`, or `None` when the built-in roots apply.
pub fn client_config(trust: &ClientTrust) -> Result<Option<ClientConfig>, TlsError> {
    let roots = trust.ca_file.as_deref().map(read_roots).transpose()?;
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(setup)?;
    let config = match (roots, &trust.pinned_sha256) {
        (None, None) => return Ok(None),
        (Some(roots), None) => builder.with_root_certificates(roots).with_no_client_auth(),
        (roots, Some(pin)) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(pin::PinnedCertVerifier::new(
                pin.clone(),
                roots,
            )?))
            .with_no_client_auth(),
    };
    Ok(Some(config))
}

/// The rustls server config for a PEM certificate chain (leaf first) and its key.
pub fn server_config(cert_file: &Path, key_file: &Path) -> Result<ServerConfig, TlsError> {
    let certs = read_certificates(cert_file)?;
    let key_pem = read_pem_file(key_file)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::Key {
        path: key_file.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(setup)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Key {
            path: key_file.to_path_buf(),
            reason: format!(
                "does not match the certificate in {}: {e}",
                cert_file.display()
            ),
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Whether `host` (a URL host, IPv6 possibly in brackets) is this machine: `localhost`,
/// 127.0.0.0/8 or ::1. Plain HTTP to it never leaves the machine.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Every certificate in a PEM file (at least one).
pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read_pem_file(path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

fn read_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in read_certificates(path)? {
        roots.add(cert).map_err(|e| TlsError::Pem {
            path: path.to_path_buf(),
            reason: format!("not a usable CA certificate: {e}"),
        })?;
    }
    Ok(roots)
}

fn read_pem_file(path: &Path) -> Result<Vec<u8>, TlsError> {
    let read_error = |source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    };
    let size = std::fs::metadata(path).map_err(read_error)?.len();
    if size > MAX_PEM_FILE {
        return Err(TlsError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    std::fs::read(path).map_err(read_error)
}

fn setup(error: impl std::fmt::Display) -> TlsError {
    TlsError::Setup(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "127.8.9.10",
            "[::1]",
            "::1",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "10.0.0.1",
            "0.0.0.0",
            "example.com",
            "localhost.example.com",
            "[::]",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn missing_and_empty_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = read_certificates(&missing).unwrap_err();
        assert!(err.to_string().contains("missing.pem"), "{err}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no pem here\n").unwrap();
        let err = read_certificates(&empty).unwrap_err();
        assert!(matches!(err, TlsError::NoCertificate { .. }), "{err}");
        let trust = ClientTrust::default();
        assert!(client_config(&trust).unwrap().is_none());
    }
}
