//! HTTPS to the server: a TLS 1.3 connection (embedded-tls, `TLS_AES_128_GCM_SHA256` over
//! P-256) whose server is checked here, by one of two [`ServerCheck`]s:
//!
//! - **a CA**: the server's certificate (and any intermediates it sends) must chain up to this
//!   certificate, be valid now (the wall clock must be set: SNTP), and name the URL's host in
//!   its subjectAltName (a DNS name, `*.` covering one label, or an IP address);
//! - **a pin**: the server's certificate must be exactly the one with this SHA-256; its name
//!   and dates are not checked (the pin is the identity; a renewed certificate needs its pin).
//!
//! Either way the handshake must be signed by that certificate's key. Only ECDSA P-256 with
//! SHA-256 is understood (certificates and handshake signatures): what rcgen, Let's Encrypt's
//! ECDSA chain and `openssl ecparam -name prime256v1` make. A refusal is kept as a [`Refusal`],
//! so the logger can say which check failed.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::net::IpAddr;

use embedded_tls::{
    Aes128GcmSha256, CertificateEntryRef, CertificateRef, CertificateVerifyRef, CryptoProvider,
    SignatureScheme, TlsError, TlsVerifier,
};
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{DerSignature, Signature, VerifyingKey};
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};
use x509_cert::Certificate;
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

/// How the logger knows the server is the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerCheck {
    /// The DER of the CA certificate that signed the server's (or its intermediate's).
    Ca(Vec<u8>),
    /// The SHA-256 of the server's certificate (its DER).
    Pin([u8; 32]),
}

/// Why the server's certificate was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Expired,
    NotYetValid,
    /// The wall clock is not set, so the certificate's dates cannot be checked.
    NoClock,
    NotForHost {
        host: String,
        names: Vec<String>,
    },
    UnknownCa,
    PinMismatch {
        presented: [u8; 32],
    },
    /// Not ECDSA P-256 with SHA-256.
    Unsupported,
    /// Not a certificate that parses, or no certificate at all.
    Malformed,
    /// The handshake was not signed by the certificate's key.
    BadHandshakeSignature,
}

impl core::fmt::Display for Refusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Expired => write!(f, "the server's certificate has expired"),
            Self::NotYetValid => write!(
                f,
                "the server's certificate is not valid yet (is the logger's clock right?)"
            ),
            Self::NoClock => write!(
                f,
                "the clock is not set yet (SNTP), so the server's certificate cannot be checked"
            ),
            Self::NotForHost { host, names } => write!(
                f,
                "the server's certificate is not valid for {host} (it names {})",
                if names.is_empty() {
                    String::from("no host")
                } else {
                    names.join(", ")
                }
            ),
            Self::UnknownCa => write!(
                f,
                "the server's certificate is not signed by the configured CA"
            ),
            Self::PinMismatch { presented } => write!(
                f,
                "the server's certificate has SHA-256 {}, not the pinned one",
                fingerprint(presented)
            ),
            Self::Unsupported => write!(
                f,
                "the server's certificate is not ECDSA P-256 with SHA-256, which is all this logger checks"
            ),
            Self::Malformed => write!(f, "the server's certificate does not parse"),
            Self::BadHandshakeSignature => write!(
                f,
                "the server's handshake is not signed by its certificate's key"
            ),
        }
    }
}

pub use assetlog_core::fingerprint::{format as fingerprint, parse as parse_pin};

/// The DER of a PEM certificate, if it is one that parses.
pub fn ca_from_pem(pem: &str) -> Option<Vec<u8>> {
    use x509_cert::der::DecodePem;
    Certificate::from_pem(pem.as_bytes()).ok()?.to_der().ok()
}

/// Checks one handshake's server.
pub struct Verifier<'a> {
    check: &'a ServerCheck,
    host: &'a str,
    /// Wall clock, epoch seconds.
    now_s: Option<u64>,
    leaf: Option<Vec<u8>>,
    transcript: Option<Sha256>,
    /// Why the handshake was refused, if it was for the certificate.
    pub refusal: Option<Refusal>,
}

impl<'a> Verifier<'a> {
    pub fn new(check: &'a ServerCheck, host: &'a str, now_s: Option<u64>) -> Self {
        Self {
            check,
            host,
            now_s,
            leaf: None,
            transcript: None,
            refusal: None,
        }
    }

    /// Whether `chain` (the server's certificate first) passes the check.
    pub fn judge(&self, chain: &[&[u8]]) -> Result<(), Refusal> {
        let leaf_der = *chain.first().ok_or(Refusal::Malformed)?;
        let leaf = Certificate::from_der(leaf_der).map_err(|_| Refusal::Malformed)?;
        match self.check {
            ServerCheck::Pin(pin) => {
                let presented: [u8; 32] = Sha256::digest(leaf_der).into();
                if presented == *pin {
                    Ok(())
                } else {
                    Err(Refusal::PinMismatch { presented })
                }
            }
            ServerCheck::Ca(ca_der) => {
                let ca = Certificate::from_der(ca_der).map_err(|_| Refusal::Malformed)?;
                let now = self.now_s.ok_or(Refusal::NoClock)?;
                let mut certs = Vec::with_capacity(chain.len());
                for der in chain {
                    // The CA itself, if the server sends it, is not part of what is checked.
                    if *der == ca_der.as_slice() {
                        break;
                    }
                    certs.push(Certificate::from_der(der).map_err(|_| Refusal::Malformed)?);
                }
                for cert in &certs {
                    let validity = &cert.tbs_certificate.validity;
                    if validity.not_before.to_unix_duration().as_secs() > now {
                        return Err(Refusal::NotYetValid);
                    }
                    if validity.not_after.to_unix_duration().as_secs() < now {
                        return Err(Refusal::Expired);
                    }
                }
                // Each is signed by the next, the last by the CA.
                for (i, cert) in certs.iter().enumerate() {
                    let issuer = certs.get(i + 1).unwrap_or(&ca);
                    signed_by(cert, issuer)?;
                }
                names_host(&leaf, self.host)
            }
        }
    }
}

/// Whether `issuer`'s key signed `cert`.
fn signed_by(cert: &Certificate, issuer: &Certificate) -> Result<(), Refusal> {
    if cert.signature_algorithm.oid != ECDSA_WITH_SHA256 {
        return Err(Refusal::Unsupported);
    }
    let key = p256_key(issuer)?;
    let tbs = cert
        .tbs_certificate
        .to_der()
        .map_err(|_| Refusal::Malformed)?;
    let signature = cert.signature.raw_bytes();
    let signature = Signature::from_der(signature).map_err(|_| Refusal::Malformed)?;
    key.verify(&tbs, &signature).map_err(|_| Refusal::UnknownCa)
}

fn p256_key(cert: &Certificate) -> Result<VerifyingKey, Refusal> {
    let spki = &cert.tbs_certificate.subject_public_key_info;
    VerifyingKey::from_sec1_bytes(spki.subject_public_key.raw_bytes())
        .map_err(|_| Refusal::Unsupported)
}

const ECDSA_WITH_SHA256: x509_cert::der::oid::ObjectIdentifier =
    x509_cert::der::oid::ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const SUBJECT_ALT_NAME: x509_cert::der::oid::ObjectIdentifier =
    x509_cert::der::oid::ObjectIdentifier::new_unwrap("2.5.29.17");

/// Whether the certificate's subjectAltName names `host`.
fn names_host(cert: &Certificate, host: &str) -> Result<(), Refusal> {
    let mut names = Vec::new();
    let mut matched = false;
    let ip: Option<IpAddr> = host.parse().ok();
    for ext in cert.tbs_certificate.extensions.iter().flatten() {
        if ext.extn_id != SUBJECT_ALT_NAME {
            continue;
        }
        let san =
            SubjectAltName::from_der(ext.extn_value.as_bytes()).map_err(|_| Refusal::Malformed)?;
        for name in san.0 {
            match name {
                GeneralName::DnsName(dns) => {
                    let dns = dns.as_str();
                    if ip.is_none() && dns_matches(dns, host) {
                        matched = true;
                    }
                    names.push(dns.to_string());
                }
                GeneralName::IpAddress(bytes) => {
                    let presented = match bytes.as_bytes() {
                        [a, b, c, d] => Some(IpAddr::from([*a, *b, *c, *d])),
                        b if b.len() == 16 => {
                            let mut octets = [0u8; 16];
                            octets.copy_from_slice(b);
                            Some(IpAddr::from(octets))
                        }
                        _ => None,
                    };
                    if let Some(presented) = presented {
                        if Some(presented) == ip {
                            matched = true;
                        }
                        names.push(presented.to_string());
                    }
                }
                _ => {}
            }
        }
    }
    if matched {
        Ok(())
    } else {
        Err(Refusal::NotForHost {
            host: host.to_string(),
            names,
        })
    }
}

/// `name` (from the certificate, `*.` allowed for one label) covers `host`, ignoring case.
fn dns_matches(name: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.');
    match name.strip_prefix("*.") {
        Some(parent) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest.eq_ignore_ascii_case(parent)),
        None => name.eq_ignore_ascii_case(host),
    }
}

impl TlsVerifier<Aes128GcmSha256> for Verifier<'_> {
    fn set_hostname_verification(&mut self, _hostname: &str) -> Result<(), TlsError> {
        // The host was given at construction: also for an IP address, which is sent without SNI.
        Ok(())
    }

    fn verify_certificate(
        &mut self,
        transcript: &Sha256,
        cert: CertificateRef,
    ) -> Result<(), TlsError> {
        let chain: Vec<&[u8]> = cert
            .entries
            .iter()
            .filter_map(|entry| match entry {
                CertificateEntryRef::X509(der) => Some(*der),
                CertificateEntryRef::RawPublicKey(_) => None,
            })
            .collect();
        match self.judge(&chain) {
            Ok(()) => {
                self.leaf = Some(chain[0].to_vec());
                self.transcript = Some(transcript.clone());
                Ok(())
            }
            Err(refusal) => {
                self.refusal = Some(refusal);
                Err(TlsError::InvalidCertificate)
            }
        }
    }

    fn verify_signature(&mut self, verify: CertificateVerifyRef) -> Result<(), TlsError> {
        let refuse = |this: &mut Self, refusal| {
            this.refusal = Some(refusal);
            Err(TlsError::InvalidSignature)
        };
        let (Some(leaf), Some(transcript)) = (self.leaf.take(), self.transcript.take()) else {
            return Err(TlsError::InvalidHandshake);
        };
        if verify.signature_scheme != SignatureScheme::EcdsaSecp256r1Sha256 {
            return refuse(self, Refusal::Unsupported);
        }
        let Ok(cert) = Certificate::from_der(&leaf) else {
            return refuse(self, Refusal::Malformed);
        };
        let key = match p256_key(&cert) {
            Ok(key) => key,
            Err(refusal) => return refuse(self, refusal),
        };
        // RFC 8446 §4.4.3: 64 spaces, the context string, a zero byte, the transcript hash.
        let mut message = Vec::with_capacity(64 + 34 + 32);
        message.extend_from_slice(&[0x20; 64]);
        message.extend_from_slice(b"TLS 1.3, server CertificateVerify\x00");
        message.extend_from_slice(&transcript.finalize());
        let Ok(signature) = Signature::from_der(verify.signature) else {
            return refuse(self, Refusal::BadHandshakeSignature);
        };
        if key.verify(&message, &signature).is_err() {
            return refuse(self, Refusal::BadHandshakeSignature);
        }
        Ok(())
    }
}

/// The crypto one handshake uses: the logger's random source and the verifier above.
pub struct Provider<'p, 'v> {
    pub rng: &'p mut ChaCha20Rng,
    pub verifier: &'p mut Verifier<'v>,
}

impl CryptoProvider for Provider<'_, '_> {
    type CipherSuite = Aes128GcmSha256;
    type Signature = DerSignature;

    fn rng(&mut self) -> impl embedded_tls::CryptoRngCore {
        &mut *self.rng
    }

    fn verifier(&mut self) -> Result<&mut impl TlsVerifier<Aes128GcmSha256>, TlsError> {
        Ok(&mut *self.verifier)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_cover_one_label() {
        assert!(dns_matches(
            "assetlog.plant.example",
            "ASSETLOG.plant.example"
        ));
        assert!(dns_matches("*.plant.example", "assetlog.plant.example"));
        assert!(!dns_matches("*.plant.example", "plant.example"));
        assert!(!dns_matches("*.plant.example", "a.b.plant.example"));
        assert!(!dns_matches("other.example", "assetlog.plant.example"));
    }
}
