//! What the setup portal stores: the network to join and the server to report to.

use alloc::string::String;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    pub ssid: String,
    pub password: String,
    /// `http://host[:port]`, without a trailing `/`.
    pub server_url: String,
}

impl Settings {
    /// Whether there is a network to join at all.
    pub fn has_network(&self) -> bool {
        !self.ssid.is_empty()
    }
}
