//! The OpenAPI 3.1 document of the API, generated from the handlers and served at
//! `GET /api/v1/openapi.json`.
//!
//! Each domain module builds its router as a `utoipa_axum::router::OpenApiRouter`, registering
//! every `/api/v1` endpoint with `routes!(handler, …)`: the path and methods come from the
//! handler's `#[utoipa::path]`, so one declaration both routes the request and documents it, and
//! an endpoint cannot be added to the API without its entry in the document. We chose
//! `utoipa-axum` for exactly that; its routers merge like axum's, so the per-domain layout stays.
//! Only the original paths (the legacy aliases of docs/API.md §1) are added with axum's plain
//! `route` and left out of the document; a test checks that nothing else is.
//!
//! What every operation shares is added here once, by [`Shared`], rather than in 42 annotations:
//! `500 internal` and `503` (shutting down, busy) everywhere; `401` where a credential is asked
//! for; `400`/`413` for a body that does not parse or is too big; `507` where a write may find
//! the disk full. Each handler's annotation lists its own answers and their bodies.
//!
//! Types of `assetlog-core` (no_std, no utoipa) are described by the mirror schemas below, each
//! named like the type it describes; the hand-written analytics JSON by [`AnalyticsAnswer`].

use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::domain::AssetId;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "assetlog",
        description = "Machine availability: loggers report RUNNING/STOPPED changes, dashboards \
                       read the history, the figures and the live stream. See docs/API.md."
    ),
    components(schemas(ErrorBody)),
    tags(
        (name = "accounts", description = "Sign-up, sign-in, users"),
        (name = "device", description = "The logger protocol (device key)"),
        (name = "loggers", description = "A tenant's loggers, claiming, pending loggers"),
        (name = "assets", description = "Assets and their events"),
        (name = "analytics", description = "Figures and stops"),
        (name = "settings", description = "Settings, shifts, planned downtime, reasons"),
        (name = "alerts", description = "Alert channels, rules, alerts and their deliveries"),
        (name = "reports", description = "Shift reports: emails at the end of each shift, day or week"),
        (name = "live", description = "The live WebSocket"),
        (name = "ops", description = "Health, metrics, this document"),
    )
)]
struct ApiDoc;

/// The API's routers with their documentation, before the legacy aliases and layers.
pub(super) fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi()).routes(routes!(document_json))
}

/// The document, as served.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut document = super::documented().split_for_parts().1;
    // After the routers added their paths (a modifier of the derive would run before).
    Shared.modify(&mut document);
    document
}

static DOCUMENT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    document()
        .to_json()
        .expect("the OpenAPI document serialises")
});

/// The OpenAPI 3.1 document of this API.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "ops",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = serde_json::Value))
)]
async fn document_json() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
}

/// Every refusal: `{"error": {"code", "message"}}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, for programs: `invalid_field`, `not_found`, `unauthorized`, …
    pub code: String,
    /// For people.
    pub message: String,
}

/// The security schemes, and the answers every operation shares (module doc).
struct Shared;

impl Modify for Shared {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        let bearer = |what: &str| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(what))
                    .build(),
            )
        };
        components.add_security_scheme(
            "user_token",
            bearer("A user's token, from sign-up or sign-in (`alt_…`)."),
        );
        components.add_security_scheme(
            "device_key",
            bearer("A logger's device key, from its first registration (`ald_…`)."),
        );
        for (path, item) in api.paths.paths.iter_mut() {
            for (method, op) in [
                ("get", &mut item.get),
                ("put", &mut item.put),
                ("post", &mut item.post),
                ("delete", &mut item.delete),
                ("patch", &mut item.patch),
            ] {
                if let Some(op) = op {
                    shared_answers(path, method, op);
                }
            }
        }
    }
}

fn shared_answers(path: &str, method: &str, op: &mut Operation) {
    let ops = ["/healthz", "/metrics", "/api/v1/openapi.json"];
    if ops.contains(&path) {
        return;
    }
    let mut add = |status: &str, what: &str| {
        op.responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| error(what));
    };
    add("500", "Internal error (logged; the answer reveals nothing)");
    add(
        "503",
        "The server is shutting down, or too busy (with `Retry-After`)",
    );
    let user = op
        .security
        .iter()
        .flatten()
        .any(|s| serde_json::to_value(s).is_ok_and(|v| v.get("user_token").is_some()));
    if user {
        add("401", "No token, or an invalid, expired or revoked one");
    }
    if op.request_body.is_some() {
        add(
            "400",
            "The body is not JSON, not an object, or a field is invalid",
        );
        add("413", "The body is over 64 KiB");
    }
    if method != "get" {
        add("507", "Nothing was stored: the server's disk is full");
    }
    if path.contains('{') {
        add("400", "A path parameter that does not decode");
        add("404", "Nothing of that id in your tenant");
    }
}

fn error(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(utoipa::openapi::Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build(),
    )
}

/// What an asset is doing (`assetlog_core::RunState`).
#[derive(ToSchema)]
#[schema(as = RunState)]
#[allow(dead_code, clippy::upper_case_acronyms)]
pub enum RunStateSchema {
    RUNNING,
    STOPPED,
    UNKNOWN,
}

/// A time: RFC 3339 text or epoch milliseconds.
#[derive(Serialize, ToSchema)]
#[schema(as = Time)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum TimeSchema {
    Millis(i64),
    Text(String),
}

/// One state change in an ingest batch (`assetlog_core::wire::WireEvent`): `ts` or `age_ms`.
#[derive(ToSchema)]
#[schema(as = WireEvent)]
#[allow(dead_code)]
pub struct WireEventSchema {
    seq: u64,
    pin: u8,
    running: bool,
    ts: Option<i64>,
    age_ms: Option<u64>,
}

/// `POST /api/v1/ingest` body (`assetlog_core::wire::IngestRequest`).
#[derive(ToSchema)]
#[schema(as = IngestRequest)]
#[allow(dead_code)]
pub struct IngestRequestSchema {
    logger_id: String,
    #[schema(value_type = Vec<WireEventSchema>)]
    events: Vec<()>,
}

/// Every seq of this logger up to `acked_seq` is durably stored (`assetlog_core::wire::IngestAck`).
#[derive(ToSchema)]
#[schema(as = IngestAck)]
#[allow(dead_code)]
pub struct IngestAckSchema {
    acked_seq: u64,
}

/// `GET /api/v1/analytics` in JSON, as `http/analytics/json.rs` writes it.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct AnalyticsAnswer {
    /// RFC 3339 UTC.
    from: String,
    to: String,
    /// The tenant's IANA time zone.
    timezone: String,
    assets: Vec<AssetAnalytics>,
    total: TotalAnalytics,
}

/// One asset's figures over the window, by reason and by bucket.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct AssetAnalytics {
    asset_id: AssetId,
    asset_name: String,
    #[schema(inline)]
    #[serde(flatten)]
    figures: FiguresFields,
    downtime_by_reason: Vec<crate::analytics::ReasonShare>,
    buckets: Vec<BucketFigures>,
}

/// The figures of all the assets asked for.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct TotalAnalytics {
    #[schema(inline)]
    #[serde(flatten)]
    figures: FiguresFields,
    downtime_by_reason: Vec<crate::analytics::ReasonShare>,
    buckets: Vec<BucketFigures>,
}

/// One bucket's span (and shift, for `bucket=shift`) and its figures.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct BucketFigures {
    start: String,
    end: String,
    /// Only for `bucket=shift`.
    #[serde(skip_serializing_if = "Option::is_none")]
    shift: Option<String>,
    #[schema(inline)]
    #[serde(flatten)]
    figures: FiguresFields,
}

/// The figures of one asset, or of several summed, over one window
/// (`assetlog_core::kpi::Figures`; docs/ANALYTICS.md says what each means).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct FiguresFields {
    run_ms: i64,
    down_ms: i64,
    unknown_ms: i64,
    unplanned_ms: i64,
    stops: u64,
    short_stops: u64,
    long_stops: u64,
    /// run / (run + down); null without planned, known time.
    availability: Option<f64>,
    mtbf_ms: Option<i64>,
    mttr_ms: Option<i64>,
}
