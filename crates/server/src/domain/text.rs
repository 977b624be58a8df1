//! Text that people and loggers send, checked by one rule: trimmed, bounded in characters, no
//! control characters (comments may hold line breaks). Each kind of text is a newtype made only
//! by its `parse`, so a handler cannot store text that skipped the check.

use super::Refusal;

/// Unicode's format characters (general category Cf, Unicode 15): invisible, and some reorder
/// what is shown around them (U+202E shows "exe.txt" as "txt.exe"), so a name could pass for
/// another. No name, id or email needs one.
pub fn is_format(c: char) -> bool {
    matches!(c,
        '\u{AD}' | '\u{600}'..='\u{605}' | '\u{61C}' | '\u{6DD}' | '\u{70F}' | '\u{890}'..='\u{891}'
        | '\u{8E2}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}'
        | '\u{110BD}' | '\u{110CD}' | '\u{13430}'..='\u{1343F}' | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}' | '\u{E0001}' | '\u{E0020}'..='\u{E007F}')
}

/// The one text rule. `min` is 0 or 1 (may the text be empty once trimmed?).
fn checked(
    raw: &str,
    field: &str,
    min: usize,
    max: usize,
    newlines: bool,
) -> Result<String, Refusal> {
    let text = raw.trim();
    let chars = text.chars().count();
    let control = text
        .chars()
        .any(|c| (c.is_control() && !(newlines && c == '\n')) || is_format(c));
    if chars < min || chars > max || control {
        let bound = if min == 0 {
            format!("at most {max}")
        } else {
            format!("{min} to {max}")
        };
        return Err(Refusal::new(
            "invalid_field",
            format!("{field} must be {bound} printable characters"),
        ));
    }
    Ok(text.to_owned())
}

macro_rules! text_newtype {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
    };
}

/// A name (of an asset, a logger, a tenant, a reason, a shift, …): 1 to [`Name::MAX`] printable
/// characters unless a field says fewer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(String);
text_newtype!(Name);

impl Name {
    pub const MAX: usize = 100;

    pub fn parse(raw: &str, field: &str) -> Result<Self, Refusal> {
        Self::parse_max(raw, field, Self::MAX)
    }

    /// A name of a field that allows at most `max` characters (shift names: 50).
    pub fn parse_max(raw: &str, field: &str, max: usize) -> Result<Self, Refusal> {
        checked(raw, field, 1, max, false).map(Self)
    }
}

/// Free text a person writes (a stop's comment, a planned stop's note): may be empty, may hold
/// line breaks, at most `max` characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment(String);
text_newtype!(Comment);

impl Comment {
    pub fn parse(raw: &str, field: &str, max: usize) -> Result<Self, Refusal> {
        checked(raw, field, 0, max, true).map(Self)
    }
}

/// An optional text a logger reports about itself (its name, firmware version, address): empty
/// means absent, else at most `max` printable characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceText(String);
text_newtype!(DeviceText);

impl DeviceText {
    pub fn parse(raw: Option<&str>, field: &str, max: usize) -> Result<Option<Self>, Refusal> {
        match raw.map(str::trim).filter(|s| !s.is_empty()) {
            Some(text) => checked(text, field, 0, max, false).map(|t| Some(Self(t))),
            None => Ok(None),
        }
    }
}

/// An email address, trimmed and lower-cased, with the shape of one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);
text_newtype!(Email);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, Refusal> {
        let email = raw.trim().to_lowercase();
        let valid = email.len() <= 254
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            })
            && !email
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || is_format(c));
        if valid {
            Ok(Self(email))
        } else {
            Err(Refusal::new(
                "invalid_email",
                "that is not an email address",
            ))
        }
    }
}

/// A password a person chose: at least [`Password::MIN_LEN`] characters, at most 1024 bytes
/// (argon2 hashes whatever it is given; the bound keeps a request from making that expensive),
/// and not easy to guess: zxcvbn's estimate of at least [`Password::MIN_SCORE`] ("safely
/// unguessable" against an online attack, 10^8 guesses), with the person's email and tenant
/// name counted as known to the guesser. `        `, `aaaaaaaaaa` and `1234567890` are refused.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub const MIN_LEN: usize = 10;
    /// zxcvbn's score, 0 to 4: 3 is "safely unguessable", about 10^8 guesses or more.
    pub const MIN_SCORE: u8 = 3;
    /// Characters the estimate looks at: a password whose first 32 characters are hard to guess
    /// is. Its cost grows steeply with the length (measured in release: l33t symbols take 60 ms
    /// at 32 characters, 320 ms at 64, 650 ms at 100), so callers on async threads run it on the
    /// blocking pool, bounded (`http/accounts.rs`).
    const ESTIMATED: usize = 32;

    /// `known` are what a guesser of this account knows (its email, its tenant's name).
    pub fn parse(raw: &str, known: &[&str]) -> Result<Self, Refusal> {
        if raw.chars().count() < Self::MIN_LEN {
            return Err(Refusal::new(
                "weak_password",
                format!("passwords need at least {} characters", Self::MIN_LEN),
            ));
        }
        if raw.len() > 1024 {
            return Err(Refusal::new(
                "invalid_password",
                "passwords are limited to 1024 bytes",
            ));
        }
        let estimated: String = raw.chars().take(Self::ESTIMATED).collect();
        let mut known: Vec<&str> = known.to_vec();
        // The parts of an email are guesses too (the name before @, the company's domain).
        for email in known.clone() {
            known.extend(email.split(['@', '.']).filter(|p| p.len() > 2));
        }
        let estimate = zxcvbn::zxcvbn(&estimated, &known);
        if u8::from(estimate.score()) < Self::MIN_SCORE {
            let mut message = String::from("this password is too easy to guess");
            if let Some(feedback) = estimate.feedback() {
                if let Some(warning) = feedback.warning() {
                    message.push_str(&format!(": {warning}"));
                }
                for suggestion in feedback.suggestions() {
                    message.push_str(&format!(" {suggestion}"));
                }
            }
            if !message.ends_with('.') {
                message.push('.');
            }
            message.push_str(" Try a few unrelated words.");
            return Err(Refusal::new("weak_password", message));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Never the password itself, even in a debug print.
impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            Name::parse("  Press 4 ", "name").unwrap().as_str(),
            "Press 4"
        );
        assert_eq!(
            Name::parse(&"x".repeat(100), "name")
                .unwrap()
                .as_str()
                .len(),
            100
        );
        for bad in ["", "   ", "a\tb", "a\nb", &"x".repeat(101)] {
            let refused = Name::parse(bad, "name").unwrap_err();
            assert_eq!(refused.code, "invalid_field");
            assert_eq!(
                refused.message,
                "name must be 1 to 100 printable characters"
            );
        }
        assert!(
            Name::parse_max(&"é".repeat(50), "name", 50).is_ok(),
            "characters, not bytes"
        );
        assert!(Name::parse_max(&"é".repeat(51), "name", 50).is_err());
    }

    #[test]
    fn invisible_and_reordering_characters_are_refused() {
        for bad in [
            "Press\u{202E}4",
            "Press\u{200B}4",
            "\u{FEFF}Press",
            "a\u{2066}b",
        ] {
            assert!(Name::parse(bad, "name").is_err(), "{bad:?}");
            assert!(Comment::parse(bad, "comment", 100).is_err(), "{bad:?}");
            assert!(
                DeviceText::parse(Some(bad), "logger_name", 100).is_err(),
                "{bad:?}"
            );
        }
        assert!(Email::parse("boss\u{200B}@plant.example").is_err());
        assert!(
            Name::parse("Presse Größe 4 — Linie ①", "name").is_ok(),
            "other text stays"
        );
    }

    #[test]
    fn comments_may_be_empty_and_span_lines() {
        assert_eq!(Comment::parse("  ", "comment", 10).unwrap().as_str(), "");
        assert_eq!(
            Comment::parse("a\nb", "comment", 10).unwrap().as_str(),
            "a\nb"
        );
        let refused = Comment::parse("a\u{7}b", "comment", 10).unwrap_err();
        assert_eq!(
            refused.message,
            "comment must be at most 10 printable characters"
        );
        assert!(Comment::parse(&"x".repeat(11), "comment", 10).is_err());
    }

    #[test]
    fn device_texts_are_absent_when_empty() {
        assert_eq!(DeviceText::parse(None, "ip_address", 64).unwrap(), None);
        assert_eq!(
            DeviceText::parse(Some("  "), "ip_address", 64).unwrap(),
            None
        );
        assert_eq!(
            DeviceText::parse(Some(" 1.2 "), "firmware_version", 64)
                .unwrap()
                .unwrap()
                .as_str(),
            "1.2"
        );
        assert!(DeviceText::parse(Some(&"x".repeat(65)), "firmware_version", 64).is_err());
        assert!(DeviceText::parse(Some("a\u{0}"), "logger_name", 100).is_err());
    }

    #[test]
    fn emails_are_lower_cased_and_need_a_shape() {
        assert_eq!(
            Email::parse(" Boss@Plant.Example ").unwrap().as_str(),
            "boss@plant.example"
        );
        for bad in [
            "",
            "boss",
            "@plant.example",
            "boss@plant",
            "boss@.example",
            "boss@plant.",
            "a b@c.de",
        ] {
            assert_eq!(
                Email::parse(bad).unwrap_err().code,
                "invalid_email",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn passwords_are_bounded_and_never_printed() {
        assert_eq!(
            Password::parse("short", &[]).unwrap_err().code,
            "weak_password"
        );
        assert_eq!(
            Password::parse(&"x".repeat(1025), &[]).unwrap_err().code,
            "invalid_password"
        );
        let password = Password::parse("correct horse battery", &[]).unwrap();
        assert_eq!(password.expose(), "correct horse battery");
        assert!(!format!("{password:?}").contains("horse"));
    }

    #[test]
    fn easy_passwords_are_refused_with_a_reason() {
        for easy in [
            "        ",
            "aaaaaaaa",
            "12345678",
            "          ",
            "aaaaaaaaaa",
            "1234567890",
            "password123",
            "qwertyuiop",
        ] {
            let refused = Password::parse(easy, &[]).unwrap_err();
            assert_eq!(refused.code, "weak_password", "{easy:?}");
        }
        let refused = Password::parse("aaaaaaaaaa", &[]).unwrap_err();
        assert!(
            refused
                .message
                .starts_with("this password is too easy to guess"),
            "{refused}"
        );
        assert_eq!(
            Password::parse("12345678", &[]).unwrap_err().message,
            "passwords need at least 10 characters"
        );
        // What the guesser knows counts: the email's name, the tenant's name.
        assert!(Password::parse("adalovelace2024", &["adalovelace@plant.example"]).is_err());
        // Long passphrases and random strings pass, whatever their length beyond the estimate.
        assert!(Password::parse("tiger lamp orbit velvet", &[]).is_ok());
        assert!(Password::parse("Xq7#mV2!pL9z", &[]).is_ok());
        assert!(Password::parse(&"tiger lamp orbit velvet ".repeat(40), &[]).is_ok());
        // Only the start is estimated: a strong tail does not make up for an easy start.
        let easy_start = format!("{}Xq7#mV2!pL9z", "a".repeat(32));
        assert!(Password::parse(&easy_start, &[]).is_err());
    }
}
