//! Certificates for the TLS tests: a certificate authority of the test's own and the server
//! certificates it signs (valid, expired, for another name), written as PEM files.
//!
//! Shared by the server's and the agent's tests (`#[path]`), each using a part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

/// A test CA: its certificate as PEM (in `pem`, written to `file`).
pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
    pub file: PathBuf,
}

/// A server certificate and its key, as PEM files, and the certificate's DER (for pins).
pub struct Issued {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub der: Vec<u8>,
}

/// When an issued certificate is valid.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// From 1975 to 4096, rcgen's default.
    Now,
    /// The whole of 2020: expired.
    Expired,
}

impl Ca {
    /// A new CA called `name`, its certificate written to `dir/{stem}.pem`.
    pub fn new(dir: &Path, stem: &str, name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("CA key");
        let issuer = CertifiedIssuer::self_signed(params, key).expect("CA certificate");
        let file = dir.join(format!("{stem}.pem"));
        std::fs::write(&file, issuer.pem()).expect("write the CA certificate");
        Self { issuer, file }
    }

    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A server certificate for `names` (DNS names or IP addresses), written to
    /// `dir/{stem}.pem` and `dir/{stem}.key`.
    pub fn issue(&self, dir: &Path, stem: &str, names: &[&str], validity: Validity) -> Issued {
        let mut params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .expect("server params");
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().copied().unwrap_or("server"),
        );
        params.use_authority_key_identifier_extension = true;
        if validity == Validity::Expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let key = KeyPair::generate().expect("server key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("server certificate");
        let issued = Issued {
            cert: dir.join(format!("{stem}.pem")),
            key: dir.join(format!("{stem}.key")),
            der: cert.der().to_vec(),
        };
        std::fs::write(&issued.cert, cert.pem()).expect("write the certificate");
        std::fs::write(&issued.key, key.serialize_pem()).expect("write the key");
        issued
    }
}
