//! The topics of the logger protocol over MQTT, one place for their spelling (docs/API.md,
//! "Loggers over MQTT"). Logger ids hold no `/`, `+` or `#` (`LoggerId::parse`), so a logger's
//! topics cannot reach into another's.

use assetlog_core::LoggerId;

/// The root of every assetlog topic.
pub const ROOT: &str = "assetlog/v1";

/// The shared subscription's group: each message goes to one of the servers.
pub const SHARE_GROUP: &str = "assetlog";

/// What a logger publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inbound {
    /// The body of `POST /api/v1/ingest`.
    Events,
    /// The body of `POST /api/v1/device/heartbeat`.
    Heartbeat,
}

impl Inbound {
    pub const ALL: [Inbound; 2] = [Inbound::Events, Inbound::Heartbeat];

    fn name(self) -> &'static str {
        match self {
            Self::Events => "events",
            Self::Heartbeat => "heartbeat",
        }
    }

    /// The server's subscription to this topic of every logger, shared between replicas.
    pub fn subscription(self) -> String {
        format!("$share/{SHARE_GROUP}/{ROOT}/+/{}", self.name())
    }
}

/// What assetlog publishes to a logger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outbound {
    /// `{acked_seq}` after the commit.
    Ack,
    /// `{error: {code, message, status}}` for a refused message.
    Error,
}

impl Outbound {
    fn name(self) -> &'static str {
        match self {
            Self::Ack => "ack",
            Self::Error => "error",
        }
    }
}

/// A logger's topic.
pub fn topic(logger_id: &str, name: &str) -> String {
    format!("{ROOT}/{logger_id}/{name}")
}

pub fn inbound(logger_id: &str, kind: Inbound) -> String {
    topic(logger_id, kind.name())
}

pub fn outbound(logger_id: &str, kind: Outbound) -> String {
    topic(logger_id, kind.name())
}

/// Why a received topic is not one of the logger protocol's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicError {
    /// Not `assetlog/v1/<logger>/<events|heartbeat>`.
    Unknown,
    /// The logger part is not a logger id.
    BadLogger,
}

/// The logger and kind of a received message's topic.
pub fn parse(topic: &str) -> Result<(LoggerId, Inbound), TopicError> {
    let rest = topic
        .strip_prefix(ROOT)
        .and_then(|r| r.strip_prefix('/'))
        .ok_or(TopicError::Unknown)?;
    let (logger, name) = rest.split_once('/').ok_or(TopicError::Unknown)?;
    let kind = Inbound::ALL
        .into_iter()
        .find(|k| k.name() == name)
        .ok_or(TopicError::Unknown)?;
    let logger = LoggerId::parse(logger).map_err(|_| TopicError::BadLogger)?;
    Ok((logger, kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_formats() {
        for kind in Inbound::ALL {
            let (logger, parsed) = parse(&inbound("line-1.esp32:a", kind)).unwrap();
            assert_eq!(logger.as_str(), "line-1.esp32:a");
            assert_eq!(parsed, kind);
        }
    }

    #[test]
    fn refuses_other_topics() {
        for topic in [
            "assetlog/v1/L1/ack",
            "assetlog/v1/L1/error",
            "assetlog/v1/L1/events/more",
            "assetlog/v2/L1/events",
            "assetlog/v1/events",
            "assetlog/v1//events",
            "other/assetlog/v1/L1/events",
        ] {
            assert!(parse(topic).is_err(), "{topic}");
        }
        assert_eq!(
            parse("assetlog/v1/bad id/events"),
            Err(TopicError::BadLogger)
        );
    }

    #[test]
    fn subscriptions_are_shared() {
        assert_eq!(
            Inbound::Events.subscription(),
            "$share/assetlog/assetlog/v1/+/events"
        );
        assert_eq!(outbound("L1", Outbound::Ack), "assetlog/v1/L1/ack");
    }
}
