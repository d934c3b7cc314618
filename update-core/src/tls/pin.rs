//! Certificate pinning: a client that accepts exactly one server certificate, named by
//! the sha256 of its DER encoding, and still checks that the server holds its key (the
//! handshake signature).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};

use super::{TlsError, provider, setup};

/// The sha256 of a certificate's DER encoding, written as 64 hex digits (colons between
/// bytes, as `openssl x509 -fingerprint -sha256` prints, are accepted too).
#[derive(Clone, PartialEq, Eq)]
pub struct CertPin([u8; 32]);

impl CertPin {
    pub fn of(certificate_der: &[u8]) -> CertPin {
        CertPin(Sha256::digest(certificate_der).into())
    }
}

impl FromStr for CertPin {
    type Err = TlsError;

    fn from_str(text: &str) -> Result<CertPin, TlsError> {
        let digits: String = text.trim().chars().filter(|c| *c != ':').collect();
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(&digits, &mut bytes)
            .map_err(|_| TlsError::InvalidPin(text.to_string()))?;
        Ok(CertPin(bytes))
    }
}

impl fmt::Display for CertPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for CertPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CertPin({self})")
    }
}

#[derive(thiserror::Error)]
#[error("the server's certificate (sha256 {actual}) is not the pinned one ({pinned})")]
struct PinMismatch {
    actual: CertPin,
    pinned: CertPin,
}

/// rustls shows the cause of a refused certificate with `Debug`: make that the message.
impl fmt::Debug for PinMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[derive(Debug)]
pub(super) struct PinnedCertVerifier {
    pin: CertPin,
    /// With a CA file, the chain must verify as well.
    chain: Option<Arc<WebPkiServerVerifier>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PinnedCertVerifier {
    pub(super) fn new(pin: CertPin, roots: Option<RootCertStore>) -> Result<Self, TlsError> {
        let provider = provider();
        let chain = roots
            .map(|roots| {
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(setup)
            })
            .transpose()?;
        Ok(PinnedCertVerifier {
            pin,
            chain,
            algorithms: provider.signature_verification_algorithms,
        })
    }
}

impl ServerCertVerifier for PinnedCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let actual = CertPin::of(end_entity.as_ref());
        if actual != self.pin {
            let mismatch = PinMismatch {
                actual,
                pinned: self.pin.clone(),
            };
            return Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                OtherError(Arc::new(mismatch)),
            )));
        }
        if let Some(chain) = &self.chain {
            chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_parse_with_or_without_colons() {
        let hex = "ab".repeat(32);
        let pin: CertPin = hex.parse().unwrap();
        assert_eq!(pin.to_string(), hex);
        let colons = vec!["AB"; 32].join(":");
        assert_eq!(colons.parse::<CertPin>().unwrap(), pin);
        assert!("abc".parse::<CertPin>().is_err());
        assert!("zz".repeat(32).parse::<CertPin>().is_err());
    }
}
