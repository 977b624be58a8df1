//! Values as the server's modules pass them: raw input becomes one of these once, at the edge
//! (HTTP today, MQTT next), and nothing past the edge checks it again.
//!
//! # Layout
//! - [`ids`]: the row ids (tenant, user, asset, logger row), one type each.
//! - [`text`]: names, comments, device texts, emails and passwords: one rule per kind of text.
//! - [`Refusal`]: why an input was refused, as a client is told (a code and a message).

pub mod ids;
pub mod text;

pub use ids::{AssetId, LoggerRow, TenantId, UserId};
pub use text::{Comment, DeviceText, Email, Name, Password};

/// An input refused as it is: a stable code for programs and a message for people. The HTTP
/// layer answers it as a 400; MQTT publishes it on the logger's error topic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
}

impl Refusal {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// The same refusal, its message prefixed with where in the input it was (`events[3]: …`).
    pub fn at(self, place: impl std::fmt::Display) -> Self {
        Self {
            code: self.code,
            message: format!("{place}: {}", self.message),
        }
    }
}
