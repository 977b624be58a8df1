//! A certificate's SHA-256 fingerprint as people copy it: 64 hex digits, upper or lower case,
//! with or without the colons `openssl x509 -noout -fingerprint -sha256` puts between bytes.
//! The agent's `tls_pin_sha256`, the firmware's setup form and their messages read and write it.

use alloc::string::String;

/// The 32 bytes of a fingerprint, or `None` when it is not one.
pub fn parse(raw: &str) -> Option<[u8; 32]> {
    let hex: String = raw.trim().chars().filter(|c| *c != ':').collect();
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let mut digest = [0u8; 32];
    for (i, byte) in digest.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(digest)
}

/// `AB:CD:…`, as `openssl` prints it.
pub fn format(digest: &[u8]) -> String {
    let mut out = String::with_capacity(digest.len() * 3);
    for (i, b) in digest.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push(hex_digit(b >> 4));
        out.push(hex_digit(b & 0xf));
    }
    out
}

fn hex_digit(nibble: u8) -> char {
    char::from_digit(u32::from(nibble), 16)
        .unwrap_or('0')
        .to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_read_as_openssl_prints_them_or_as_plain_hex() {
        let colons = "AB:".repeat(31) + "AB";
        assert_eq!(parse(&colons), Some([0xab; 32]));
        assert_eq!(parse(&"ab".repeat(32)), Some([0xab; 32]));
        assert_eq!(format(&[0xab; 32]), colons);
        assert_eq!(format(&[0x0f, 0xa0]), "0F:A0");
        let bad = [
            "",
            "ab",
            &"ab".repeat(31),
            &"zz".repeat(32),
            &"+a".repeat(32),
            &"é".repeat(32),
        ];
        for bad in bad {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
