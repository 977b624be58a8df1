//! What the setup portal stores: the network to join, the server to report to, and how to
//! know it is the server.

use alloc::string::String;

use crate::tls::ServerCheck;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    pub ssid: String,
    pub password: String,
    /// `http://host[:port]` or `https://host[:port]`, without a trailing `/`.
    pub server_url: String,
    /// With `https://`: the server certificate's SHA-256 (64 hex digits), or empty.
    pub tls_pin_sha256: String,
    /// With `https://`: the CA certificate that signed the server's, PEM, or empty.
    pub tls_ca_pem: String,
}

impl Settings {
    /// Whether there is a network to join at all.
    pub fn has_network(&self) -> bool {
        !self.ssid.is_empty()
    }

    /// How the server is checked: the pin, else the CA; `None` when neither is set. The error
    /// says what is wrong with the one that is set.
    pub fn server_check(&self) -> Result<Option<ServerCheck>, &'static str> {
        if !self.tls_pin_sha256.is_empty() {
            return crate::tls::parse_pin(&self.tls_pin_sha256)
                .map(|pin| Some(ServerCheck::Pin(pin)))
                .ok_or("the stored SHA-256 is not 64 hex digits");
        }
        if !self.tls_ca_pem.is_empty() {
            return crate::tls::ca_from_pem(&self.tls_ca_pem)
                .map(|der| Some(ServerCheck::Ca(der)))
                .ok_or("the stored CA certificate is not a PEM certificate that parses");
        }
        Ok(None)
    }
}
