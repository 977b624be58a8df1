//! How the agent checks the server on `https://`: against the system's root certificates (the
//! default), a CA file of the plant's own, or one pinned certificate; and, when a check fails,
//! which one failed in words an operator can act on.
//!
//! A pin (`tls_pin_sha256`, the SHA-256 of the server's certificate as `openssl x509
//! -fingerprint -sha256` prints it) trusts exactly that certificate, self-signed or not, for as
//! long as the server uses it: its name and dates are not checked (the pin is the identity),
//! and a renewed certificate needs the new pin. `insecure_skip_verify` checks nothing; the
//! agent says so in its log at start, because anyone on the network can then pose as the server
//! and read the logger's key.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

/// Whom the agent believes to be the server on `https://`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ServerTrust {
    /// A certificate signed by one of the system's roots (`/etc/ssl/certs`), for the URL's host.
    #[default]
    SystemRoots,
    /// A certificate signed by a CA in this PEM file (and no other), for the URL's host.
    CaFile(PathBuf),
    /// Exactly the certificate with this SHA-256.
    Pin([u8; 32]),
    /// Anything: for a first test on a bench, never for a plant.
    InsecureSkipVerify,
}

/// Parses `tls_pin_sha256` ([`assetlog_core::fingerprint`]), with the error for the file.
pub fn parse_pin(raw: &str) -> Result<[u8; 32], String> {
    assetlog_core::fingerprint::parse(raw).ok_or_else(|| {
        format!(
            "tls_pin_sha256 {raw:?} is not a SHA-256 fingerprint: 64 hex digits, as `openssl x509 -noout -fingerprint -sha256 -in server.pem` prints them"
        )
    })
}

/// The TLS client configuration for `trust`; the error names the file or what is missing.
pub fn client_config(trust: &ServerTrust) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS protocol versions: {e}"))?;
    let config = match trust {
        ServerTrust::SystemRoots => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err("no system root certificates to check the https:// server with: install the ca-certificates package, or set tls_ca_file to the CA that signed the server's certificate".into());
            }
            builder.with_root_certificates(roots)
        }
        ServerTrust::CaFile(file) => builder.with_root_certificates(read_ca_file(file)?),
        ServerTrust::Pin(pin) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinned {
                pin: Some(*pin),
                provider,
            })),
        ServerTrust::InsecureSkipVerify => {
            tracing::warn!(
                "insecure_skip_verify = true: the server's certificate is NOT checked; anyone on the network can pose as the server and take this logger's key and events. Use tls_ca_file or tls_pin_sha256 instead"
            );
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Pinned {
                    pin: None,
                    provider,
                }))
        }
    };
    Ok(config.with_no_client_auth())
}

fn read_ca_file(file: &Path) -> Result<rustls::RootCertStore, String> {
    let shown = file.display();
    let certs = CertificateDer::pem_file_iter(file)
        .map_err(|e| format!("tls_ca_file {shown}: cannot read it: {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("tls_ca_file {shown} is not PEM: {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "tls_ca_file {shown} holds no certificate (a PEM \"BEGIN CERTIFICATE\" block)"
        ));
    }
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| format!("tls_ca_file {shown}: a certificate in it is not valid: {e}"))?;
    }
    Ok(roots)
}

/// A pin's check (or, without a pin, none): the certificate is the pinned one; the handshake is
/// still checked to be signed by that certificate's key, so a pin cannot be replayed.
#[derive(Debug)]
struct Pinned {
    pin: Option<[u8; 32]>,
    provider: Arc<CryptoProvider>,
}

/// The server presented another certificate than the pinned one.
#[derive(Debug)]
struct PinMismatch {
    presented: [u8; 32],
}

impl std::fmt::Display for PinMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the server's certificate has SHA-256 {}, not the one in tls_pin_sha256 (a renewed certificate needs its new pin)",
            fingerprint(&self.presented)
        )
    }
}

impl std::error::Error for PinMismatch {}

pub use assetlog_core::fingerprint::format as fingerprint;

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(pin) = self.pin else {
            return Ok(ServerCertVerified::assertion());
        };
        let digest = ring::digest::digest(&ring::digest::SHA256, end_entity.as_ref());
        if digest.as_ref() == pin {
            return Ok(ServerCertVerified::assertion());
        }
        let mut presented = [0u8; 32];
        presented.copy_from_slice(digest.as_ref());
        Err(rustls::Error::InvalidCertificate(
            rustls::CertificateError::Other(rustls::OtherError(Arc::new(PinMismatch {
                presented,
            }))),
        ))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// What went wrong with the server's certificate, if that is why `error` happened: the first
/// rustls error in its chain, in an operator's words.
pub fn explain(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(tls) = as_tls_error(e) {
            return Some(describe(tls));
        }
        next = e.source();
    }
    None
}

/// An `io::Error`'s `source()` skips the error it wraps, so look inside it too (hyper wraps
/// rustls's error in an `io::Error` in an `io::Error`).
fn as_tls_error<'a>(mut e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    loop {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        let inner: &'a (dyn std::error::Error + 'static) =
            e.downcast_ref::<std::io::Error>()?.get_ref()?;
        e = inner;
    }
}

fn describe(error: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    let rustls::Error::InvalidCertificate(cert) = error else {
        return format!("TLS with the server failed: {error}");
    };
    match cert {
        C::Expired | C::ExpiredContext { .. } => {
            "the server's certificate has expired: renew it on the server".into()
        }
        C::NotValidYet | C::NotValidYetContext { .. } => {
            "the server's certificate is not valid yet: is this logger's clock right?".into()
        }
        C::NotValidForName => {
            "the server's certificate is not valid for the host in server_url".into()
        }
        C::NotValidForNameContext {
            expected,
            presented,
        } => format!(
            "the server's certificate is not valid for the name {:?} in server_url (it names {})",
            expected.to_str(),
            presented
                .iter()
                .map(|name| plain_name(name))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        C::UnknownIssuer => "the server's certificate is signed by an unknown CA: set tls_ca_file to the CA that signed it (or tls_pin_sha256 to its fingerprint)".into(),
        C::Other(other) if other.0.downcast_ref::<PinMismatch>().is_some() => other.0.to_string(),
        other => format!("the server's certificate is refused: {other:?}"),
    }
}

/// `other.example` of webpki's `DnsName("other.example")`, `10.0.0.5` of `IpAddress(10.0.0.5)`.
fn plain_name(presented: &str) -> &str {
    presented
        .strip_prefix("DnsName(\"")
        .and_then(|rest| rest.strip_suffix("\")"))
        .or_else(|| {
            presented
                .strip_prefix("IpAddress(")
                .and_then(|rest| rest.strip_suffix(')'))
        })
        .unwrap_or(presented)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_are_read_as_openssl_prints_them_or_as_plain_hex() {
        let colons = "AB:".repeat(31) + "AB";
        assert_eq!(parse_pin(&colons).unwrap(), [0xab; 32]);
        assert_eq!(parse_pin(&"ab".repeat(32)).unwrap(), [0xab; 32]);
        assert_eq!(fingerprint(&[0xab; 32]), colons);
        for bad in [
            "",
            "ab",
            &"ab".repeat(31),
            &"zz".repeat(32),
            &"é".repeat(32),
        ] {
            let e = parse_pin(bad).unwrap_err();
            assert!(e.contains("64 hex digits"), "{bad}: {e}");
        }
    }

    #[test]
    fn presented_names_are_shown_plain() {
        assert_eq!(plain_name("DnsName(\"a.example\")"), "a.example");
        assert_eq!(plain_name("IpAddress(10.0.0.5)"), "10.0.0.5");
        assert_eq!(plain_name("DirectoryName"), "DirectoryName");
    }

    #[test]
    fn a_missing_or_empty_ca_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("ca.pem");
        let e = client_config(&ServerTrust::CaFile(missing)).unwrap_err();
        assert!(e.contains("ca.pem: cannot read it"), "{e}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let e = client_config(&ServerTrust::CaFile(empty)).unwrap_err();
        assert!(e.contains("holds no certificate"), "{e}");
    }

    #[test]
    fn a_tls_error_is_found_inside_an_io_error() {
        let io = std::io::Error::other(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer,
        ));
        let e = explain(&io).unwrap();
        assert!(e.contains("unknown CA"), "{e}");
        let twice = std::io::Error::other(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        ));
        let e = explain(&twice).unwrap();
        assert!(e.contains("unknown CA"), "{e}");
        assert_eq!(explain(&std::io::Error::other("refused")), None);
    }
}
