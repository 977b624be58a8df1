//! The query parameters analytics and stops share, parsed once into typed values.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use serde::Deserialize;
use serde::de::IntoDeserializer;
use serde::de::value::{Error as ValueError, StrDeserializer};

use crate::AppState;
use crate::analytics::Scope;
use crate::calendar::Bucket;
use crate::domain::AssetId;
use crate::error::{ApiError, Result};
use crate::http::{CurrentUser, parse_time_param};

/// The query of `GET /api/v1/analytics`, for the document ([`Params::parse`] reads it: `asset_id`
/// repeats, and an unknown parameter is refused).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(in crate::http) struct AnalyticsParams {
    /// RFC 3339 or epoch ms, 1970 to 2100; default: `to` minus 24 hours.
    from: Option<String>,
    /// RFC 3339 or epoch ms; default: now.
    to: Option<String>,
    /// Only these assets (repeat the parameter); default: all of the tenant's.
    #[param(explode = true)]
    asset_id: Option<Vec<i64>>,
    /// Figures per bucket too.
    #[param(inline)]
    bucket: Option<Bucket>,
    /// `json` (the default) or `csv`.
    #[param(pattern = "^(json|csv)$")]
    format: Option<String>,
}

/// The query of `GET /api/v1/stops`, for the document (read by [`Params::parse`] too).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(in crate::http) struct StopsParams {
    /// RFC 3339 or epoch ms, 1970 to 2100; default: `to` minus 24 hours.
    from: Option<String>,
    /// RFC 3339 or epoch ms; default: now.
    to: Option<String>,
    /// Only these assets (repeat the parameter); default: all of the tenant's.
    #[param(explode = true)]
    asset_id: Option<Vec<i64>>,
    /// Only stops at least this long.
    #[param(minimum = 0)]
    min_duration_ms: Option<i64>,
    /// Only stops without a reason.
    unassigned: Option<bool>,
    /// `json` (the default) or `csv`.
    #[param(pattern = "^(json|csv)$")]
    format: Option<String>,
}

/// The query of `GET /api/v1/timeline`, for the document (read by [`Params::parse`] too).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(in crate::http) struct TimelineParams {
    /// RFC 3339 or epoch ms, 1970 to 2100; default: today's local midnight.
    from: Option<String>,
    /// RFC 3339 or epoch ms; at most 8 days after `from`; default: the next local midnight.
    to: Option<String>,
    /// Only these assets (repeat the parameter); default: all of the tenant's.
    #[param(explode = true)]
    asset_id: Option<Vec<i64>>,
}

pub(in crate::http) struct Params {
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub asset_ids: Vec<AssetId>,
    pub bucket: Option<Bucket>,
    pub csv: bool,
    pub min_duration_ms: Option<i64>,
    pub unassigned: bool,
}

impl Params {
    /// Parses the query (repeats kept: `asset_id=1&asset_id=2`); CSV also by `Accept: text/csv`.
    pub fn parse(query: Option<&str>, headers: &HeaderMap) -> Result<Self> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or_default())
            .map_err(|_| {
                ApiError::bad_request("invalid_query", "the query string does not parse")
            })?;
        let bad = |m: String| ApiError::bad_request("invalid_query", m);
        let mut p = Self {
            from: None,
            to: None,
            asset_ids: Vec::new(),
            bucket: None,
            csv: false,
            min_duration_ms: None,
            unassigned: false,
        };
        for (key, value) in &pairs {
            match key.as_str() {
                "from" => p.from = Some(parse_time_param(value, "from")?),
                "to" => p.to = Some(parse_time_param(value, "to")?),
                "asset_id" => p.asset_ids.push(
                    value
                        .parse()
                        .map_err(|_| bad(format!("asset_id {value:?} is not an id")))?,
                ),
                "bucket" => {
                    let text: StrDeserializer<'_, ValueError> = value.as_str().into_deserializer();
                    p.bucket = Some(Bucket::deserialize(text).map_err(|_| {
                        bad(format!(
                            "unknown bucket {value:?}: use hour, day, week, month or shift"
                        ))
                    })?)
                }
                "format" => match value.as_str() {
                    "csv" => p.csv = true,
                    "json" => {}
                    other => {
                        return Err(bad(format!("unknown format {other:?}: use json or csv")));
                    }
                },
                "min_duration_ms" => {
                    p.min_duration_ms = Some(
                        value
                            .parse()
                            .ok()
                            .filter(|v: &i64| *v >= 0)
                            .ok_or_else(|| bad("min_duration_ms must be a number ≥ 0".into()))?,
                    )
                }
                "unassigned" => {
                    p.unassigned = value
                        .parse()
                        .map_err(|_| bad("unassigned must be true or false".into()))?
                }
                other => return Err(bad(format!("unknown parameter {other:?}"))),
            }
        }
        p.csv |= super::super::csv::wants_csv(headers);
        Ok(p)
    }
}

/// An analytics or stops question of the signed-in user: the parameters, and what they cover
/// (the window and the assets, each the user's tenant's).
pub(in crate::http) struct Question {
    pub params: Params,
    pub scope: Scope,
}

impl FromRequestParts<AppState> for Question {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        let params = Params::parse(parts.uri.query(), &parts.headers)?;
        let scope = Scope::new(
            &state.store,
            user.tenant_id(),
            (params.from, params.to),
            &params.asset_ids,
        )
        .await?;
        Ok(Self { params, scope })
    }
}
