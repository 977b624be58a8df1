//! Alerting's API: channels (admins), rules (everyone reads, admins change), alerts (everyone
//! reads, operators and admins acknowledge) and the log of deliveries (docs/ALERTS.md).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::{ErrorBody, TimeSchema};
use super::{Admin, ApiJson, ApiPath, ApiQuery, CurrentUser, Operator, parse_id, parse_time_param};
use crate::AppState;
use crate::alerts::config::{Channel, ChannelBody, Rule, RuleBody};
use crate::alerts::{self, deliver, guard};
use crate::domain::{Comment, TenantId};
use crate::error::{ApiError, Result, not_found_as};
use crate::store::{
    Alert, AlertDoc, AlertQuery, Attempt, DeliveryAttempt, NewDelivery, StoreError, now_ms,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_channels, add_channel))
        .routes(routes!(update_channel, delete_channel))
        .routes(routes!(test_channel))
        .routes(routes!(list_rules, add_rule))
        .routes(routes!(update_rule, delete_rule))
        .routes(routes!(list_alerts))
        .routes(routes!(acknowledge))
        .routes(routes!(list_deliveries))
}

/// Most alerts and attempts one answer lists.
const LIST_LIMIT: i64 = 1000;

async fn channels(state: &AppState, tenant: TenantId) -> Result<Vec<Channel>> {
    Ok(alerts::channels(&state.store, tenant).await?)
}

async fn rules(state: &AppState, tenant: TenantId) -> Result<Vec<Rule>> {
    Ok(alerts::rules(&state.store, tenant).await?)
}

/// A channel's body checked, its receiver resolved (refused on a private address).
async fn checked_channel(
    state: &AppState,
    body: ChannelBody,
    secret: Option<String>,
) -> Result<Channel> {
    let targets = state.alerts.targets;
    let channel = Channel::check(body, secret, &targets, state.alerts.mailer.is_some())?;
    if let Some(url) = &channel.url {
        let url = guard::check_url(url, &targets)?;
        guard::check_reachable(&url, &targets).await?;
    }
    Ok(channel)
}

/// The tenant's alert channels (admins only: they hold webhook URLs and secrets).
#[utoipa::path(
    get,
    path = "/api/v1/alert-channels",
    tag = "alerts",
    security(("user_token" = [])),
    responses(
        (status = 200, description = "The channels", body = Vec<Channel>),
        (status = 403, description = "Not an admin", body = ErrorBody),
    )
)]
async fn list_channels(
    State(state): State<AppState>,
    Admin(user): Admin,
) -> Result<Json<Vec<Channel>>> {
    Ok(Json(channels(&state, user.tenant_id()).await?))
}

/// Adds a channel. Webhook, Slack and Teams receivers must be public addresses unless the
/// server allows private ones (`--allow-private-webhooks`); a webhook channel gets a secret.
#[utoipa::path(
    post,
    path = "/api/v1/alert-channels",
    tag = "alerts",
    security(("user_token" = [])),
    request_body = ChannelBody,
    responses(
        (status = 201, description = "The channel", body = Channel),
        (status = 400, description = "Invalid, or a private address", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    )
)]
async fn add_channel(
    State(state): State<AppState>,
    Admin(user): Admin,
    ApiJson(body): ApiJson<ChannelBody>,
) -> Result<(StatusCode, Json<Channel>)> {
    let tenant = user.tenant_id();
    let mut channel = checked_channel(&state, body, None).await?;
    channel.id = state
        .store
        .add_alert_doc(tenant, AlertDoc::Channel, channel.to_stored())
        .await?;
    alerts::config_changed(&state, tenant);
    Ok((StatusCode::CREATED, Json(channel)))
}

/// Replaces a channel (a webhook channel keeps its secret).
#[utoipa::path(
    put,
    path = "/api/v1/alert-channels/{id}",
    tag = "alerts",
    security(("user_token" = [])),
    params(("id" = String, Path, description = "The channel's id")),
    request_body = ChannelBody,
    responses(
        (status = 200, description = "The channel", body = Channel),
        (status = 400, description = "Invalid, or a private address", body = ErrorBody),
        (status = 404, description = "No such channel", body = ErrorBody),
    )
)]
async fn update_channel(
    State(state): State<AppState>,
    Admin(user): Admin,
    ApiPath(raw): ApiPath<String>,
    ApiJson(body): ApiJson<ChannelBody>,
) -> Result<Json<Channel>> {
    let tenant = user.tenant_id();
    let id: i64 = parse_id(&raw, "alert channel")?;
    let old = channels(&state, tenant)
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| ApiError::not_found("alert channel"))?;
    let mut channel = checked_channel(&state, body, old.secret).await?;
    channel.id = id;
    state
        .store
        .update_alert_doc(tenant, AlertDoc::Channel, id, channel.to_stored())
        .await
        .map_err(not_found_as("alert channel"))?;
    alerts::config_changed(&state, tenant);
    Ok(Json(channel))
}

/// Deletes a channel no rule names (409 `channel_in_use` otherwise).
#[utoipa::path(
    delete,
    path = "/api/v1/alert-channels/{id}",
    tag = "alerts",
    security(("user_token" = [])),
    params(("id" = String, Path, description = "The channel's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such channel", body = ErrorBody),
        (status = 409, description = "A rule names it", body = ErrorBody),
    )
)]
async fn delete_channel(
    State(state): State<AppState>,
    Admin(user): Admin,
    ApiPath(raw): ApiPath<String>,
) -> Result<StatusCode> {
    let tenant = user.tenant_id();
    let id: i64 = parse_id(&raw, "alert channel")?;
    if let Some(rule) = rules(&state, tenant).await?.iter().find(|r| r.uses(id)) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "channel_in_use",
            format!(
                "the rule {:?} sends to this channel: change the rule first",
                rule.name
            ),
        ));
    }
    state
        .store
        .delete_alert_doc(tenant, AlertDoc::Channel, id)
        .await
        .map_err(not_found_as("alert channel"))?;
    alerts::config_changed(&state, tenant);
    Ok(StatusCode::NO_CONTENT)
}

/// What a test message gave.
#[derive(Serialize, ToSchema)]
struct TestResult {
    ok: bool,
    /// The receiver's HTTP status, when it answered.
    status: Option<i64>,
    error: Option<String>,
    at: i64,
}

/// Sends a test message to a channel now and answers with what the receiver said; the attempt
/// is logged with the deliveries.
#[utoipa::path(
    post,
    path = "/api/v1/alert-channels/{id}/test",
    tag = "alerts",
    security(("user_token" = [])),
    params(("id" = String, Path, description = "The channel's id")),
    responses(
        (status = 200, description = "What the receiver answered", body = TestResult),
        (status = 404, description = "No such channel", body = ErrorBody),
    )
)]
async fn test_channel(
    State(state): State<AppState>,
    Admin(user): Admin,
    ApiPath(raw): ApiPath<String>,
) -> Result<Json<TestResult>> {
    let tenant = user.tenant_id();
    let id: i64 = parse_id(&raw, "alert channel")?;
    let channel = channels(&state, tenant)
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| ApiError::not_found("alert channel"))?;
    let text = format!(
        "A test message from assetlog to the channel {:?}",
        channel.name
    );
    let message = serde_json::json!({"event": "test", "title": "assetlog test", "text": text});
    let attempt: Attempt = deliver::send(
        &state.alerts.client,
        state.alerts.mailer.as_ref(),
        &channel,
        &message,
        None,
        0,
    )
    .await;
    state.metrics.alert_attempts.inc();
    state
        .store
        .record_test_delivery(
            tenant,
            NewDelivery {
                channel_id: channel.id,
                channel_name: channel.name.clone(),
                event: "test",
                message: message.to_string(),
                due_at: attempt.at,
            },
            attempt.clone(),
        )
        .await?;
    Ok(Json(TestResult {
        ok: attempt.ok,
        status: attempt.status,
        error: attempt.error,
        at: attempt.at,
    }))
}

/// The tenant's alert rules.
#[utoipa::path(
    get,
    path = "/api/v1/alert-rules",
    tag = "alerts",
    security(("user_token" = [])),
    responses((status = 200, description = "The rules", body = Vec<Rule>))
)]
async fn list_rules(State(state): State<AppState>, user: CurrentUser) -> Result<Json<Vec<Rule>>> {
    Ok(Json(rules(&state, user.tenant_id()).await?))
}

/// A rule's body checked against the tenant's channels and machines.
async fn checked_rule(state: &AppState, tenant: TenantId, body: RuleBody) -> Result<Rule> {
    let channel_ids: Vec<i64> = channels(state, tenant)
        .await?
        .iter()
        .map(|c| c.id)
        .collect();
    let asset_ids: Vec<_> = state
        .store
        .assets(tenant)
        .await?
        .iter()
        .map(|a| a.id)
        .collect();
    Ok(Rule::check(body, &channel_ids, &asset_ids)?)
}

/// Adds a rule (admins only). It applies at once, also to machines stopped already.
#[utoipa::path(
    post,
    path = "/api/v1/alert-rules",
    tag = "alerts",
    security(("user_token" = [])),
    request_body = RuleBody,
    responses(
        (status = 201, description = "The rule", body = Rule),
        (status = 400, description = "Invalid", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    )
)]
async fn add_rule(
    State(state): State<AppState>,
    Admin(user): Admin,
    ApiJson(body): ApiJson<RuleBody>,
) -> Result<(StatusCode, Json<Rule>)> {
    let tenant = user.tenant_id();
    let mut rule = checked_rule(&state, tenant, body).await?;
    rule.id = state
        .store
        .add_alert_doc(tenant, AlertDoc::Rule, rule.to_stored())
        .await?;
    alerts::config_changed(&state, tenant);
    Ok((StatusCode::CREATED, Json(rule)))
}

/// Replaces a rule (admins only); its open alerts stay open.
#[utoipa::path(
    put,
    path = "/api/v1/alert-rules/{id}",
    tag = "alerts",
    security(("user_token" = [])),
    params(("id" = String, Path, description = "The rule's id")),
    request_body = RuleBody,
    responses(
        (status = 200, description = "The rule", body = Rule),
        (status = 400, description = "Invalid", body = ErrorBody),
        (status = 404, description = "No such rule", body = ErrorBody),
    )
)]
async fn update_rule(
    State(state): State<AppState>,
    Admin(user): Admin,
    ApiPath(raw): ApiPath<String>,
    ApiJson(body): ApiJson<RuleBody>,
) -> Result<Json<Rule>> {
    let tenant = user.tenant_id();
    let id: i64 = parse_id(&raw, "alert rule")?;
    let mut rule = checked_rule(&state, tenant, body).await?;
    rule.id = id;
    state
        .store
        .update_alert_doc(tenant, AlertDoc::Rule, id, rule.to_stored())
        .await
        .map_err(not_found_as("alert rule"))?;
    alerts::config_changed(&state, tenant);
    Ok(Json(rule))
}

/// Deletes a rule (admins only); its open alerts are cleared without telling anyone.
#[utoipa::path(
    delete,
    path = "/api/v1/alert-rules/{id}",
    tag = "alerts",
    security(("user_token" = [])),
    params(("id" = String, Path, description = "The rule's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such rule", body = ErrorBody),
    )
)]
async fn delete_rule(
    State(state): State<AppState>,
    Admin(user): Admin,
    ApiPath(raw): ApiPath<String>,
) -> Result<StatusCode> {
    let tenant = user.tenant_id();
    let id: i64 = parse_id(&raw, "alert rule")?;
    state
        .store
        .delete_alert_doc(tenant, AlertDoc::Rule, id)
        .await
        .map_err(not_found_as("alert rule"))?;
    alerts::config_changed(&state, tenant);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AlertsParams {
    /// `active`, `acknowledged` or `cleared`; all when absent.
    state: Option<String>,
    /// Opened at or after (RFC 3339 or epoch ms).
    #[param(value_type = Option<TimeSchema>)]
    from: Option<String>,
    /// Opened before.
    #[param(value_type = Option<TimeSchema>)]
    to: Option<String>,
}

/// The tenant's alerts, newest first (at most 1000).
#[utoipa::path(
    get,
    path = "/api/v1/alerts",
    tag = "alerts",
    security(("user_token" = [])),
    params(AlertsParams),
    responses(
        (status = 200, description = "The alerts", body = Vec<Alert>),
        (status = 400, description = "A bad parameter", body = ErrorBody),
    )
)]
async fn list_alerts(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(params): ApiQuery<AlertsParams>,
) -> Result<Json<Vec<Alert>>> {
    let wanted = match params.state.as_deref() {
        None => None,
        Some("active") => Some("active"),
        Some("acknowledged") => Some("acknowledged"),
        Some("cleared") => Some("cleared"),
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                "state must be active, acknowledged or cleared",
            ));
        }
    };
    let from = params
        .from
        .as_deref()
        .map(|t| parse_time_param(t, "from"))
        .transpose()?;
    let to = params
        .to
        .as_deref()
        .map(|t| parse_time_param(t, "to"))
        .transpose()?;
    let q = AlertQuery {
        state: wanted,
        from,
        to,
        limit: LIST_LIMIT,
    };
    Ok(Json(state.store.alerts(user.tenant_id(), q).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AckBody {
    comment: Option<String>,
}

/// Acknowledges an alert (operators and admins): it is no longer escalated. 409
/// `already_acknowledged` the second time.
#[utoipa::path(
    post,
    path = "/api/v1/alerts/{id}/ack",
    tag = "alerts",
    security(("user_token" = [])),
    params(("id" = String, Path, description = "The alert's id")),
    request_body = AckBody,
    responses(
        (status = 200, description = "The alert", body = Alert),
        (status = 403, description = "A viewer", body = ErrorBody),
        (status = 404, description = "No such alert", body = ErrorBody),
        (status = 409, description = "Acknowledged already", body = ErrorBody),
    )
)]
async fn acknowledge(
    State(state): State<AppState>,
    Operator(user): Operator,
    ApiPath(raw): ApiPath<String>,
    ApiJson(body): ApiJson<AckBody>,
) -> Result<Json<Alert>> {
    let id: i64 = parse_id(&raw, "alert")?;
    let comment = body
        .comment
        .as_deref()
        .map(|c| Comment::parse(c, "comment", 1000).map(String::from))
        .transpose()?
        .filter(|c| !c.is_empty());
    let alert = state
        .store
        .acknowledge_alert(
            user.tenant_id(),
            id,
            now_ms(),
            user.0.user.email.clone(),
            comment,
        )
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::not_found("alert"),
            StoreError::Conflict(m) => {
                ApiError::new(StatusCode::CONFLICT, "already_acknowledged", m)
            }
            other => other.into(),
        })?;
    alerts::publish(&state, "acknowledged", &alert);
    Ok(Json(alert))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct DeliveriesParams {
    /// Only this alert's deliveries.
    alert_id: Option<String>,
}

/// Every attempt to deliver the tenant's alerts (and test messages), newest first (at most
/// 1000): channel, time, status, error.
#[utoipa::path(
    get,
    path = "/api/v1/alert-deliveries",
    tag = "alerts",
    security(("user_token" = [])),
    params(DeliveriesParams),
    responses(
        (status = 200, description = "The attempts", body = Vec<DeliveryAttempt>),
        (status = 400, description = "A bad parameter", body = ErrorBody),
    )
)]
async fn list_deliveries(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(params): ApiQuery<DeliveriesParams>,
) -> Result<Json<Vec<DeliveryAttempt>>> {
    let alert_id = params
        .alert_id
        .as_deref()
        .map(|raw| {
            raw.parse::<i64>().map_err(|_| {
                ApiError::bad_request("invalid_query", "alert_id must be an alert's id")
            })
        })
        .transpose()?;
    Ok(Json(
        state
            .store
            .delivery_attempts(user.tenant_id(), alert_id, LIST_LIMIT)
            .await?,
    ))
}
