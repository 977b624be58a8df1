//! The rows the store hands out.

use assetlog_core::RunState;
use serde::Serialize;

use crate::domain::{AssetId, LoggerRow, TenantId, UserId};

/// What a user may do in their tenant.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A wall screen's token (a display, not a person): reads, and changes nothing. Never a
    /// user's role: it cannot be given.
    #[serde(skip_deserializing)]
    Display,
    /// Reads everything of the tenant.
    Viewer,
    /// Also annotates stops.
    Operator,
    /// Also manages loggers, assets, users and settings.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Display => "display",
            Self::Viewer => "viewer",
            Self::Operator => "operator",
            Self::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "viewer" => Some(Self::Viewer),
            "operator" => Some(Self::Operator),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub role: Role,
    #[serde(skip)]
    pub tenant_id: TenantId,
}

/// A wall screen's read-only token (kiosk): what its admin named it. The token is shown once.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Display {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
}

/// A signed-in user and their tenant, as a valid token proves.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub tenant: Tenant,
    /// When the token stops being valid, epoch ms.
    pub expires_at: i64,
}

/// A logger as its tenant sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Logger {
    pub id: LoggerRow,
    pub logger_id: String,
    pub name: String,
    /// `pending` or `claimed`.
    #[schema(value_type = String)]
    pub status: &'static str,
    pub online: bool,
    pub last_seen: Option<i64>,
    pub firmware_version: Option<String>,
    pub ip_address: Option<String>,
    pub rssi: Option<i64>,
    pub free_heap: Option<i64>,
    pub uptime_s: Option<i64>,
    pub queued_events: Option<i64>,
    /// Events the logger had to drop because its queue was full (as its heartbeats report).
    pub dropped_events: Option<i64>,
    pub allow_keyless: bool,
    pub acked_seq: i64,
    pub assets: Vec<Asset>,
    #[serde(skip)]
    pub tenant_id: Option<TenantId>,
}

/// A change of an asset: what is `Some` changes; `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct AssetChange {
    pub name: Option<String>,
    pub threshold_s: Option<Option<i64>>,
    pub line: Option<Option<String>>,
    pub area: Option<Option<String>>,
    /// Target availability in basis points (8500 = 85 %).
    pub target_bp: Option<Option<i64>>,
}

/// One machine: one input of one logger, with its latest reported state.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Asset {
    pub id: AssetId,
    pub name: String,
    pub logger_id: String,
    pub pin_number: u8,
    pub short_stop_threshold_s: Option<i64>,
    /// The production line it stands in, and the area of the plant (null: none given): the
    /// board and the analytics table group by them. The plant's structure, not the wiring.
    pub line: Option<String>,
    pub area: Option<String>,
    /// Its own target availability, 0 to 1 (null: the tenant's).
    pub target_availability: Option<f64>,
    /// RUNNING, STOPPED or UNKNOWN (no event yet, or the logger is offline).
    #[schema(value_type = crate::http::openapi::RunStateSchema)]
    pub state: RunState,
    /// Since when the asset is in `state`, epoch ms; for UNKNOWN of an offline logger, its last contact.
    pub since: Option<i64>,
    #[serde(skip)]
    pub running: Option<bool>,
    #[serde(skip)]
    pub logger_row: LoggerRow,
}

/// One stored report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Event {
    pub id: i64,
    pub asset_id: AssetId,
    pub logger_id: String,
    pub pin: u8,
    #[schema(value_type = crate::http::openapi::RunStateSchema)]
    pub state: RunState,
    pub ts: i64,
    pub received_at: i64,
    pub seq: Option<i64>,
}

/// The state a stored `running` column means; NULL (no event yet) is unknown.
pub(crate) fn state_of(running: Option<bool>) -> RunState {
    running.map_or(RunState::Unknown, RunState::from_running)
}

/// What of alerting is kept as checked JSON documents (alerts/config.rs): one table each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertDoc {
    Channel,
    Rule,
    /// A shift report's schedule (reports/config.rs).
    Report,
}

impl AlertDoc {
    pub(crate) fn table(self) -> &'static str {
        match self {
            Self::Channel => "alert_channels",
            Self::Rule => "alert_rules",
            Self::Report => "reports",
        }
    }
}

/// One alert: about one stop of one machine, or one offline spell of one logger.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Alert {
    pub id: i64,
    pub rule_id: i64,
    /// The rule's name when the alert opened.
    pub rule_name: String,
    /// `stop_longer_than`, `logger_offline` or `availability_below`.
    pub kind: String,
    pub asset_id: Option<AssetId>,
    /// The logger's hardware id (logger alerts).
    pub logger_id: Option<String>,
    /// When what the alert is about began (the stop, the silence), epoch ms.
    pub since: i64,
    pub opened_at: i64,
    pub acknowledged_at: Option<i64>,
    /// The email of who acknowledged it.
    pub acknowledged_by: Option<String>,
    pub ack_comment: Option<String>,
    pub cleared_at: Option<i64>,
    /// When the escalation channels were told.
    pub escalated_at: Option<i64>,
    /// `active`, `acknowledged` or `cleared`.
    #[schema(value_type = String)]
    pub state: &'static str,
    /// At least `{"text": ...}`, the sentence the messages carry.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    #[serde(skip)]
    pub tenant_id: TenantId,
}

impl Alert {
    /// The state its times make.
    pub fn state_of(acknowledged_at: Option<i64>, cleared_at: Option<i64>) -> &'static str {
        match (cleared_at, acknowledged_at) {
            (Some(_), _) => "cleared",
            (None, Some(_)) => "acknowledged",
            (None, None) => "active",
        }
    }
}

/// An alert to open (`cleared_at`: a stop already over when it was seen to cross).
#[derive(Debug, Clone)]
pub struct NewAlert {
    pub tenant_id: TenantId,
    pub rule_id: i64,
    pub rule_name: String,
    pub kind: String,
    pub asset_id: Option<AssetId>,
    pub logger_id: Option<String>,
    pub since: i64,
    pub opened_at: i64,
    pub cleared_at: Option<i64>,
    pub detail: serde_json::Value,
}

/// A message for one channel, put in the outbox with the change it tells of.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub channel_id: i64,
    pub channel_name: String,
    /// `opened`, `cleared`, `escalated` or `test`.
    pub event: &'static str,
    /// The message (alerts/deliver.rs renders it per channel kind when sending).
    pub message: String,
    pub due_at: i64,
}

/// A message of the outbox, claimed for sending.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: i64,
    pub tenant_id: TenantId,
    pub alert_id: Option<i64>,
    /// A report's email: `message` is the whole email, made when its period ended.
    pub report_run_id: Option<i64>,
    pub channel_id: i64,
    pub event: String,
    pub message: String,
    pub attempts: i64,
    pub created_at: i64,
}

/// A report's period to send, once (the database's unique index decides, across servers).
#[derive(Debug, Clone)]
pub struct NewReportRun {
    pub tenant_id: TenantId,
    pub report_id: i64,
    pub period_start: i64,
    pub period_end: i64,
}

/// What one attempt to send a delivery gave.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Attempt {
    pub at: i64,
    pub ok: bool,
    /// The receiver's HTTP status, when it answered.
    pub status: Option<i64>,
    pub error: Option<String>,
}

/// What becomes of a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterAttempt {
    Sent,
    /// Tried again at this time.
    Retry(i64),
    GiveUp,
}

/// One logged attempt, as `GET /api/v1/alert-deliveries` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DeliveryAttempt {
    pub delivery_id: i64,
    pub alert_id: Option<i64>,
    /// The report whose email it was (event `report`; `channel_id` is then 0).
    pub report_id: Option<i64>,
    pub channel_id: i64,
    pub channel_name: String,
    pub event: String,
    pub at: i64,
    pub ok: bool,
    pub status: Option<i64>,
    pub error: Option<String>,
}

/// Which alerts `GET /api/v1/alerts` lists.
#[derive(Debug, Clone, Default)]
pub struct AlertQuery {
    /// `active`, `acknowledged` or `cleared`; None: all.
    pub state: Option<&'static str>,
    /// Opened at or after (epoch ms).
    pub from: Option<i64>,
    /// Opened before.
    pub to: Option<i64>,
    pub limit: i64,
}
