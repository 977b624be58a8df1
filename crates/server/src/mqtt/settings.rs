//! Where and as whom assetlog connects to the broker, from `--mqtt-*`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use assetlog_core::LoggerId;
use rumqttc::{MqttOptions, Transport};

use crate::config::ServeConfig;

/// The largest packet assetlog reads off the connection: MQTT's own limit, so that no message a
/// broker delivers can end the connection (and come again at every reconnect, holding up all
/// behind it). The broker's `max_packet_size` keeps them smaller (docs/MQTT.md).
const MAX_PACKET_BYTES: usize = 268_435_455;

/// Where and as whom assetlog connects, from `--mqtt-*`.
#[derive(Clone)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    pub ca_file: Option<PathBuf>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub client_id: String,
    /// The broker's own ACLs decide who publishes where; assetlog keeps no broker clients.
    pub trust_broker: bool,
}

/// Without the password.
impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("address", &self.address())
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .field("client_id", &self.client_id)
            .field("trust_broker", &self.trust_broker)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// The settings of `--mqtt-url` and its companions; `None` without it.
    pub fn from_config(config: &ServeConfig) -> anyhow::Result<Option<Self>> {
        let Some(raw) = &config.mqtt_url else {
            return Ok(None);
        };
        let url = url::Url::parse(raw).context("--mqtt-url is not a URL")?;
        let tls = match url.scheme() {
            "mqtt" => false,
            "mqtts" => true,
            other => bail!("--mqtt-url must be mqtt:// or mqtts://, not {other}://"),
        };
        let host = url
            .host_str()
            .context("--mqtt-url names no host")?
            .trim_matches(['[', ']'])
            .to_owned();
        let port = url.port().unwrap_or(if tls { 8883 } else { 1883 });
        let decode = |s: &str| {
            percent_decode(s).with_context(|| "--mqtt-url's credentials are not valid UTF-8")
        };
        let mut username = match url.username() {
            "" => None,
            user => Some(decode(user)?),
        };
        let mut password = url.password().map(decode).transpose()?;
        if let Some(user) = &config.mqtt_username {
            username = Some(user.clone());
        }
        if let Some(file) = &config.mqtt_password_file {
            let text = std::fs::read_to_string(file).with_context(|| {
                format!("cannot read the MQTT password file {}", file.display())
            })?;
            password = Some(text.lines().next().unwrap_or_default().to_owned());
        }
        if password.is_some() && username.is_none() {
            bail!("an MQTT password needs a username (--mqtt-username or the URL's)");
        }
        let client_id = match &config.mqtt_client_id {
            Some(id) => id.clone(),
            None => format!("assetlog@{}", hostname()),
        };
        // Each logger's broker client may connect only under its own id as client id; a server
        // client id that could be a logger's would let that logger take the server's session
        // (its subscription and everything queued for it).
        if LoggerId::parse(&client_id).is_ok() {
            bail!(
                "--mqtt-client-id {client_id:?} could be a logger's id, and a logger registered \
                 under it could take over this server's session at the broker: use an id with a \
                 character logger ids cannot have, such as @ (the default is assetlog@<hostname>)"
            );
        }
        Ok(Some(Self {
            host,
            port,
            tls,
            ca_file: config.mqtt_ca_file.clone(),
            username,
            password,
            client_id,
            trust_broker: config.mqtt_trust_broker,
        }))
    }

    pub(super) fn address(&self) -> String {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        format!("{scheme}://{}:{}", self.host, self.port)
    }

    pub(super) fn options(
        &self,
        client_id: &str,
        credentials: bool,
    ) -> anyhow::Result<MqttOptions> {
        let mut options = MqttOptions::new(client_id, &self.host, self.port);
        options
            .set_keep_alive(Duration::from_secs(30))
            .set_max_packet_size(MAX_PACKET_BYTES, MAX_PACKET_BYTES);
        if credentials && let Some(user) = &self.username {
            options.set_credentials(user, self.password.clone().unwrap_or_default());
        }
        if self.tls {
            options.set_transport(Transport::tls_with_config(tls_config(
                self.ca_file.as_deref(),
            )?));
        }
        Ok(options)
    }
}

/// Answers and acknowledgements leave at once: with Nagle's algorithm, a small answer waits for
/// the broker's ACK of the one before (tens of ms at each end).
pub(super) fn no_delay() -> rumqttc::NetworkOptions {
    let mut network = rumqttc::NetworkOptions::new();
    network.set_tcp_nodelay(true);
    network
}

fn percent_decode(s: &str) -> Result<String, std::str::Utf8Error> {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| Ok(v.into_owned()))
        .unwrap_or_else(|| Ok(String::new()))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "server".into())
}

/// TLS to the broker: the system's roots, or only the CA of `--mqtt-ca-file`.
fn tls_config(ca_file: Option<&std::path::Path>) -> anyhow::Result<rumqttc::TlsConfiguration> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(file) => {
            let certs = CertificateDer::pem_file_iter(file)
                .with_context(|| format!("cannot read --mqtt-ca-file {}", file.display()))?
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("--mqtt-ca-file {} is not PEM", file.display()))?;
            if certs.is_empty() {
                bail!("--mqtt-ca-file {} holds no certificate", file.display());
            }
            for cert in certs {
                roots
                    .add(cert)
                    .context("--mqtt-ca-file: a certificate is not valid")?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                bail!("no system root certificates for mqtts://: pass --mqtt-ca-file");
            }
        }
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(rumqttc::TlsConfiguration::Rustls(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_the_url_are_decoded() {
        assert_eq!(percent_decode("p%40ss+w%2Fd").unwrap(), "p@ss+w/d");
    }
}
