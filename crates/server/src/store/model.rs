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

/// One machine: one input of one logger, with its latest reported state.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Asset {
    pub id: AssetId,
    pub name: String,
    pub logger_id: String,
    pub pin_number: u8,
    pub short_stop_threshold_s: Option<i64>,
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
