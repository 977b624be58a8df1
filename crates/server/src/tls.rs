//! HTTPS (and so WSS): `--tls-cert` and `--tls-key`, PEM files, served with rustls.
//!
//! The certificate in use sits behind a [`ResolvesServerCert`], so re-reading the files (on
//! SIGHUP, [`reload_on_hangup`]) swaps it for the handshakes that follow while the connections
//! already open go on with theirs: a renewal drops no one. A reload that fails (a half-written
//! file, a key that does not fit) keeps the certificate in use and says why in the log.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::{Context, bail};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;

/// The server's TLS: the files it was started with and the certificate read from them.
pub struct Tls {
    cert_file: PathBuf,
    key_file: PathBuf,
    current: Arc<Current>,
    acceptor: TlsAcceptor,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// Reads `cert_file` (the certificate, then any intermediates) and `key_file` (its private
    /// key), with an error that names the file and what is wrong with it.
    pub fn load(cert_file: &Path, key_file: &Path) -> anyhow::Result<Self> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let current = Arc::new(Current(RwLock::new(Arc::new(read(
            cert_file, key_file, &provider,
        )?))));
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_cert_resolver(current.clone());
        // The server speaks HTTP/1.1 only (WebSocket upgrades included).
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            cert_file: cert_file.to_owned(),
            key_file: key_file.to_owned(),
            current,
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// Reads the files again; the new certificate serves every handshake from now on. On an
    /// error the one in use stays.
    pub fn reload(&self) -> anyhow::Result<()> {
        let provider = rustls::crypto::ring::default_provider();
        let fresh = read(&self.cert_file, &self.key_file, &provider)?;
        *self.current.0.write().expect("certificate lock") = Arc::new(fresh);
        Ok(())
    }

    pub fn acceptor(&self) -> TlsAcceptor {
        self.acceptor.clone()
    }
}

/// The certificate that new handshakes get.
#[derive(Debug)]
struct Current(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for Current {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.read().expect("certificate lock").clone())
    }
}

fn read(
    cert_file: &Path,
    key_file: &Path,
    provider: &rustls::crypto::CryptoProvider,
) -> anyhow::Result<CertifiedKey> {
    let certs = CertificateDer::pem_file_iter(cert_file)
        .with_context(|| format!("cannot read --tls-cert {}", cert_file.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("--tls-cert {} is not PEM", cert_file.display()))?;
    if certs.is_empty() {
        bail!(
            "--tls-cert {} holds no certificate (a PEM \"BEGIN CERTIFICATE\" block)",
            cert_file.display()
        );
    }
    let key = match PrivateKeyDer::from_pem_file(key_file) {
        Ok(key) => key,
        Err(rustls::pki_types::pem::Error::NoItemsFound) => bail!(
            "--tls-key {} holds no private key (a PEM \"BEGIN PRIVATE KEY\" block)",
            key_file.display()
        ),
        Err(e) => {
            return Err(anyhow::Error::new(e))
                .with_context(|| format!("cannot read --tls-key {}", key_file.display()));
        }
    };
    CertifiedKey::from_der(certs, key, provider).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => anyhow::anyhow!(
            "the key in --tls-key {} is not the key of the certificate in --tls-cert {}",
            key_file.display(),
            cert_file.display()
        ),
        e => anyhow::anyhow!("--tls-key {}: {e}", key_file.display()),
    })
}

/// SIGHUP, listened for from the moment this is made: a SIGHUP that comes right after the server
/// said it listens must not meet the default action, which ends the process.
pub struct Hangups(Option<tokio::signal::unix::Signal>);

impl Hangups {
    /// Must run inside the runtime.
    pub fn listen() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::hangup()) {
            Ok(hangups) => Self(Some(hangups)),
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGHUP: the TLS files are read once");
                Self(None)
            }
        }
    }
}

/// Re-reads the files on every SIGHUP until `stop`, logging what came of it. Without TLS a
/// SIGHUP is logged and changes nothing (`systemctl reload` must not stop a server).
pub async fn reload_on_hangup(
    tls: Option<Arc<Tls>>,
    hangups: Hangups,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let Some(mut hangups) = hangups.0 else { return };
    loop {
        tokio::select! {
            got = hangups.recv() => if got.is_none() { return },
            () = crate::stopped(&mut stop) => return,
        }
        let Some(tls) = &tls else {
            tracing::info!("SIGHUP: nothing to re-read (no --tls-cert)");
            continue;
        };
        match tls.reload() {
            Ok(()) => tracing::info!(
                cert = %tls.cert_file.display(),
                "SIGHUP: re-read the TLS certificate and key; new connections get them"
            ),
            Err(e) => tracing::error!(
                "SIGHUP: cannot re-read the TLS files, the certificate in use stays: {e:#}"
            ),
        }
    }
}
