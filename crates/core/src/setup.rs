//! The logger's setup form: what a person types into the ESP32-C3's Wi-Fi portal (the access
//! point `assetlog-XXXX` it opens when it has no network) — the network to join and the server to
//! report to — read from the browser's `application/x-www-form-urlencoded` POST and checked before
//! anything is written to flash.

use alloc::borrow::ToOwned;
use alloc::string::String;

/// Longest server URL the logger keeps.
pub const MAX_URL_LEN: usize = 128;

/// A checked setup form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupForm {
    /// The Wi-Fi network's name, 1 to 32 bytes.
    pub ssid: String,
    /// Its WPA2 passphrase (8 to 63 characters, or 64 hex digits), or empty for an open network.
    pub password: String,
    /// `http://` or `https://` and a host, without a trailing `/`.
    pub server_url: String,
}

/// What is wrong with a setup form: shown to the person on the portal page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupError {
    MissingSsid,
    SsidTooLong,
    BadPassword,
    MissingServerUrl,
    BadServerUrl,
}

impl core::fmt::Display for SetupError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::MissingSsid => "Enter the Wi-Fi network name.",
            Self::SsidTooLong => "A Wi-Fi network name has at most 32 bytes.",
            Self::BadPassword => {
                "A Wi-Fi password has 8 to 63 characters (or 64 hex digits); leave it empty for an open network."
            }
            Self::MissingServerUrl => "Enter the server URL, e.g. http://192.168.1.10:8080.",
            Self::BadServerUrl => {
                "The server URL starts with http:// or https://, names a host, has no spaces and at most 128 characters."
            }
        })
    }
}

/// Reads and checks the portal's form body (`ssid=…&password=…&server_url=…`). Other fields are
/// ignored; a field given twice counts with its last value.
pub fn parse_form(body: &str) -> Result<SetupForm, SetupError> {
    let (mut ssid, mut password, mut server_url) = (String::new(), String::new(), String::new());
    for (key, value) in form_urlencoded::parse(body.as_bytes()) {
        match &*key {
            "ssid" => ssid = value.into_owned(),
            "password" => password = value.into_owned(),
            "server_url" => server_url = value.trim().to_owned(),
            _ => {}
        }
    }
    if ssid.is_empty() {
        return Err(SetupError::MissingSsid);
    }
    if ssid.len() > 32 {
        return Err(SetupError::SsidTooLong);
    }
    let hex_key = password.len() == 64 && password.bytes().all(|b| b.is_ascii_hexdigit());
    let passphrase = (8..=63).contains(&password.chars().count())
        && password.bytes().all(|b| (0x20..0x7f).contains(&b));
    if !(password.is_empty() || hex_key || passphrase) {
        return Err(SetupError::BadPassword);
    }
    if server_url.is_empty() {
        return Err(SetupError::MissingServerUrl);
    }
    let server_url = server_url.trim_end_matches('/').to_owned();
    if !is_server_url(&server_url) {
        return Err(SetupError::BadServerUrl);
    }
    Ok(SetupForm {
        ssid,
        password,
        server_url,
    })
}

fn is_server_url(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
    else {
        return false;
    };
    let host = rest.split(['/', ':']).next().unwrap_or_default();
    url.len() <= MAX_URL_LEN
        && !host.is_empty()
        && url.bytes().all(|b| b.is_ascii_graphic())
        && !url.contains(['?', '#'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filled_in_form_is_read_and_decoded() {
        let form = parse_form(
            "ssid=Plant+Floor%20B&password=s3cret%26pass&server_url=http%3A%2F%2F10.0.0.5%3A8080%2F",
        )
        .unwrap();
        assert_eq!(form.ssid, "Plant Floor B");
        assert_eq!(form.password, "s3cret&pass");
        assert_eq!(form.server_url, "http://10.0.0.5:8080");
    }

    #[test]
    fn an_open_network_and_a_hex_key_are_fine() {
        let open =
            parse_form("ssid=guest&password=&server_url=https://assetlog.example.com").unwrap();
        assert_eq!(open.password, "");
        let hex = "a".repeat(64);
        assert!(parse_form(&alloc::format!("ssid=x&password={hex}&server_url=http://h")).is_ok());
    }

    #[test]
    fn each_mistake_gets_its_own_message() {
        let cases = [
            (
                "password=12345678&server_url=http://h",
                SetupError::MissingSsid,
            ),
            ("ssid=&server_url=http://h", SetupError::MissingSsid),
            (
                &*alloc::format!("ssid={}&server_url=http://h", "s".repeat(33)),
                SetupError::SsidTooLong,
            ),
            (
                "ssid=a&password=short&server_url=http://h",
                SetupError::BadPassword,
            ),
            (
                &*alloc::format!("ssid=a&password={}&server_url=http://h", "p".repeat(64)),
                SetupError::BadPassword,
            ),
            ("ssid=a&password=12345678", SetupError::MissingServerUrl),
            ("ssid=a&server_url=+", SetupError::MissingServerUrl),
            ("ssid=a&server_url=ftp://h", SetupError::BadServerUrl),
            ("ssid=a&server_url=http://", SetupError::BadServerUrl),
            ("ssid=a&server_url=http://:8080", SetupError::BadServerUrl),
            ("ssid=a&server_url=http://my+host", SetupError::BadServerUrl),
            ("ssid=a&server_url=http://h/?x=1", SetupError::BadServerUrl),
            (
                &*alloc::format!("ssid=a&server_url=http://{}", "h".repeat(130)),
                SetupError::BadServerUrl,
            ),
        ];
        for (body, error) in cases {
            assert_eq!(parse_form(body), Err(error), "{body}");
        }
    }

    #[test]
    fn bytes_that_are_not_utf8_do_not_panic() {
        assert!(parse_form("ssid=%FF%FE&server_url=http://h").is_ok());
        assert_eq!(parse_form("%%%&&&==="), Err(SetupError::MissingSsid));
    }
}
