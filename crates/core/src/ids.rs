//! Identifiers that arrive from the outside world, parsed once into types that cannot be invalid.

use alloc::string::String;
use core::fmt;

/// Longest accepted logger id, in bytes.
pub const LOGGER_ID_MAX_LEN: usize = 64;

/// A logger's hardware id: 1 to 64 characters of `[A-Za-z0-9_.:-]` (a MAC address, a serial, a name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LoggerId(String);

/// Why a string is not a [`LoggerId`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoggerIdError {
    Empty,
    TooLong,
    BadCharacter,
}

impl fmt::Display for LoggerIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "logger_id is empty"),
            Self::TooLong => write!(f, "logger_id is longer than {LOGGER_ID_MAX_LEN} characters"),
            Self::BadCharacter => write!(f, "logger_id may only contain A-Z a-z 0-9 _ . : -"),
        }
    }
}

impl LoggerId {
    pub fn parse(raw: &str) -> Result<Self, LoggerIdError> {
        if raw.is_empty() {
            return Err(LoggerIdError::Empty);
        }
        if raw.len() > LOGGER_ID_MAX_LEN {
            return Err(LoggerIdError::TooLong);
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-');
        if !raw.chars().all(allowed) {
            return Err(LoggerIdError::BadCharacter);
        }
        Ok(Self(raw.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LoggerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Highest input pin number a logger may report.
pub const PIN_MAX: u8 = 63;

/// An input pin of a logger, `0..=63`. With the logger it names one asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pin(u8);

/// A pin number outside `0..=63`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinError;

impl fmt::Display for PinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pin numbers are 0..={PIN_MAX}")
    }
}

impl Pin {
    pub fn new(n: i64) -> Result<Self, PinError> {
        u8::try_from(n)
            .ok()
            .filter(|n| *n <= PIN_MAX)
            .map(Self)
            .ok_or(PinError)
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logger_ids_follow_the_character_rules() {
        for ok in ["esp32-AABBCC", "a", "line1.press:2_x", &"x".repeat(64)] {
            assert_eq!(LoggerId::parse(ok).unwrap().as_str(), ok);
        }
        assert_eq!(LoggerId::parse(""), Err(LoggerIdError::Empty));
        assert_eq!(
            LoggerId::parse(&"x".repeat(65)),
            Err(LoggerIdError::TooLong)
        );
        for bad in ["a b", "a/b", "ä", "a\n", "<script>", "a;b"] {
            assert_eq!(
                LoggerId::parse(bad),
                Err(LoggerIdError::BadCharacter),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn pins_are_0_to_63() {
        assert_eq!(Pin::new(0).unwrap().get(), 0);
        assert_eq!(Pin::new(63).unwrap().get(), 63);
        assert_eq!(Pin::new(64), Err(PinError));
        assert_eq!(Pin::new(-1), Err(PinError));
        assert_eq!(Pin::new(1 << 40), Err(PinError));
    }
}
