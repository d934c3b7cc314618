//! A throwaway certificate authority and a server certificate for `localhost` and
//! 127.0.0.1, generated at test time and written as PEM files.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

pub struct TestPki {
    pub ca_pem: PathBuf,
    pub cert_pem: PathBuf,
    pub key_pem: PathBuf,
    /// The server certificate, DER (what a pin is the sha256 of).
    pub cert_der: Vec<u8>,
}

/// Writes `NAME-ca.pem`, `NAME-cert.pem` and `NAME-key.pem` into `dir`.
pub fn write_test_pki(dir: &Path, name: &str) -> TestPki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, format!("{name} test CA"));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    let write = |suffix: &str, text: String| {
        let path = dir.join(format!("{name}-{suffix}.pem"));
        std::fs::write(&path, text).unwrap();
        path
    };
    TestPki {
        ca_pem: write("ca", ca.pem()),
        cert_pem: write("cert", cert.pem()),
        key_pem: write("key", key.serialize_pem()),
        cert_der: cert.der().to_vec(),
    }
}
