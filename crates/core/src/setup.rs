//! The logger's setup form: what a person types into the ESP32-C3's Wi-Fi portal (the access
//! point `assetlog-XXXX` it opens when it has no network) — the network to join and the server to
//! report to — read from the browser's `application/x-www-form-urlencoded` POST and checked before
//! anything is written to flash.

use alloc::borrow::ToOwned;
use alloc::string::String;

/// Longest server URL the logger keeps.
pub const MAX_URL_LEN: usize = 128;
/// Longest CA certificate (PEM) the logger keeps: it must fit one 4 KiB flash sector of the
/// settings map, with room for the rest.
pub const MAX_CA_PEM_LEN: usize = 3072;

/// A checked setup form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupForm {
    /// The Wi-Fi network's name, 1 to 32 bytes.
    pub ssid: String,
    /// Its WPA2 passphrase (8 to 63 characters, or 64 hex digits), or empty for an open network.
    pub password: String,
    /// `http://` or `https://` and a host, without a trailing `/`.
    pub server_url: String,
    /// With `https://`, exactly one of these: the server certificate's SHA-256, as 64 hex
    /// digits (upper case, no colons), or the CA certificate that signed it, as PEM.
    pub tls_pin_sha256: Option<String>,
    pub tls_ca_pem: Option<String>,
}

/// What is wrong with a setup form: shown to the person on the portal page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupError {
    MissingSsid,
    SsidTooLong,
    BadPassword,
    MissingServerUrl,
    BadServerUrl,
    BadPin,
    BadCaPem,
    HttpsNeedsCheck,
    TwoChecks,
    CheckWithoutHttps,
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
            Self::BadPin => {
                "The certificate's SHA-256 is 64 hex digits (colons between pairs allowed), as `openssl x509 -noout -fingerprint -sha256` prints it."
            }
            Self::BadCaPem => {
                "The CA certificate is PEM: -----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----, at most 3072 characters."
            }
            Self::HttpsNeedsCheck => {
                "An https:// server needs its CA certificate or its certificate's SHA-256, so the logger knows it is the server."
            }
            Self::TwoChecks => "Give the CA certificate or the SHA-256, not both.",
            Self::CheckWithoutHttps => {
                "A CA certificate or SHA-256 is for an https:// server: use https:// or leave them empty."
            }
        })
    }
}

/// Reads and checks the portal's form body (`ssid=…&password=…&server_url=…`). Other fields are
/// ignored; a field given twice counts with its last value.
pub fn parse_form(body: &str) -> Result<SetupForm, SetupError> {
    let (mut ssid, mut password, mut server_url) = (String::new(), String::new(), String::new());
    let (mut pin, mut ca) = (String::new(), String::new());
    for (key, value) in form_urlencoded::parse(body.as_bytes()) {
        match &*key {
            "ssid" => ssid = value.into_owned(),
            "password" => password = value.into_owned(),
            "server_url" => server_url = value.trim().to_owned(),
            "tls_pin_sha256" => pin = value.trim().to_owned(),
            "tls_ca_pem" => ca = value.trim().to_owned(),
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
    let tls_pin_sha256 = match pin.as_str() {
        "" => None,
        pin => Some(normal_pin(pin).ok_or(SetupError::BadPin)?),
    };
    let tls_ca_pem = match ca.as_str() {
        "" => None,
        ca if is_certificate_pem(ca) => Some(ca.replace("\r\n", "\n")),
        _ => return Err(SetupError::BadCaPem),
    };
    match (
        server_url.starts_with("https://"),
        tls_pin_sha256.is_some(),
        tls_ca_pem.is_some(),
    ) {
        (true, false, false) => return Err(SetupError::HttpsNeedsCheck),
        (_, true, true) => return Err(SetupError::TwoChecks),
        (false, true, _) | (false, _, true) => return Err(SetupError::CheckWithoutHttps),
        _ => {}
    }
    Ok(SetupForm {
        ssid,
        password,
        server_url,
        tls_pin_sha256,
        tls_ca_pem,
    })
}

/// A fingerprint as [`crate::fingerprint`] reads it: upper case without colons.
fn normal_pin(raw: &str) -> Option<String> {
    crate::fingerprint::parse(raw)
        .map(|digest| crate::fingerprint::format(&digest).replace(':', ""))
}

/// One PEM certificate block, in bounds (the base64 inside is decoded by the logger).
fn is_certificate_pem(text: &str) -> bool {
    text.len() <= MAX_CA_PEM_LEN
        && text.starts_with("-----BEGIN CERTIFICATE-----")
        && text.ends_with("-----END CERTIFICATE-----")
        && text.matches("-----BEGIN").count() == 1
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
            parse_form("ssid=guest&password=&server_url=http://assetlog.example.com").unwrap();
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
    fn an_https_server_is_checked_by_a_pin_or_a_ca() {
        let pin = "ab:".repeat(31) + "ab";
        let form = parse_form(&alloc::format!(
            "ssid=a&server_url=https://h&tls_pin_sha256={pin}"
        ))
        .unwrap();
        assert_eq!(form.tls_pin_sha256, Some("AB".repeat(32)));
        assert_eq!(form.tls_ca_pem, None);
        let ca = "-----BEGIN CERTIFICATE-----%0D%0AMIIB%0D%0A-----END CERTIFICATE-----";
        let form = parse_form(&alloc::format!(
            "ssid=a&server_url=https://h&tls_ca_pem={ca}"
        ))
        .unwrap();
        assert_eq!(
            form.tls_ca_pem.as_deref(),
            Some("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----")
        );
        let plain = parse_form("ssid=a&server_url=http://h&tls_pin_sha256=&tls_ca_pem=").unwrap();
        assert_eq!((plain.tls_pin_sha256, plain.tls_ca_pem), (None, None));

        let ca = "-----BEGIN CERTIFICATE-----x-----END CERTIFICATE-----";
        let pin = "0".repeat(64);
        let cases = [
            ("ssid=a&server_url=https://h", SetupError::HttpsNeedsCheck),
            (
                &*alloc::format!(
                    "ssid=a&server_url=https://h&tls_pin_sha256={pin}&tls_ca_pem={ca}"
                ),
                SetupError::TwoChecks,
            ),
            (
                &*alloc::format!("ssid=a&server_url=http://h&tls_pin_sha256={pin}"),
                SetupError::CheckWithoutHttps,
            ),
            (
                &*alloc::format!("ssid=a&server_url=http://h&tls_ca_pem={ca}"),
                SetupError::CheckWithoutHttps,
            ),
            (
                "ssid=a&server_url=https://h&tls_pin_sha256=abc",
                SetupError::BadPin,
            ),
            (
                &*alloc::format!(
                    "ssid=a&server_url=https://h&tls_pin_sha256={}",
                    "g".repeat(64)
                ),
                SetupError::BadPin,
            ),
            (
                "ssid=a&server_url=https://h&tls_ca_pem=MIIB",
                SetupError::BadCaPem,
            ),
            (
                &*alloc::format!("ssid=a&server_url=https://h&tls_ca_pem={ca}{ca}"),
                SetupError::BadCaPem,
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
