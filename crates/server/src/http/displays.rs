//! Displays: an admin makes a read-only token for a wall screen (the kiosk link), sees the
//! tenant's displays, and revokes one, which ends its screen's session at once.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::ErrorBody;
use super::{Admin, ApiJson, ApiPath, DISPLAY_TOKEN_PREFIX};
use crate::AppState;
use crate::domain::Name;
use crate::error::{ApiError, Result, not_found_as};
use crate::live::Revoked;
use crate::secrets::{hash_secret, new_secret};
use crate::store::Display;

/// Displays one tenant may have: a plant has a few screens, not thousands.
pub const MAX_DISPLAYS: usize = 100;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, add))
        .routes(routes!(delete))
}

/// The tenant's displays (admins only); their tokens are never shown again.
#[utoipa::path(
    get,
    path = "/api/v1/displays",
    tag = "accounts",
    security(("user_token" = [])),
    responses(
        (status = 200, description = "The displays", body = Vec<Display>),
        (status = 403, description = "Not an admin", body = ErrorBody),
    )
)]
async fn list(State(state): State<AppState>, Admin(user): Admin) -> Result<Json<Vec<Display>>> {
    Ok(Json(state.store.displays(user.tenant_id()).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewDisplay {
    /// What the screen is, e.g. "TV hall 2": 1 to 50 characters.
    name: String,
}

/// A new display and its token, shown this once.
#[derive(Serialize, ToSchema)]
struct NewDisplayAnswer {
    #[serde(flatten)]
    display: Display,
    /// The read-only token: open `/kiosk#<token>` on the screen.
    token: String,
}

/// Makes a display: a read-only token for a wall screen (admins only).
#[utoipa::path(
    post,
    path = "/api/v1/displays",
    tag = "accounts",
    security(("user_token" = [])),
    request_body = NewDisplay,
    responses(
        (status = 201, description = "The display and its token", body = NewDisplayAnswer),
        (status = 400, description = "A bad name, or too many displays", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    )
)]
async fn add(
    State(state): State<AppState>,
    Admin(user): Admin,
    ApiJson(body): ApiJson<NewDisplay>,
) -> Result<(StatusCode, Json<NewDisplayAnswer>)> {
    let name = Name::parse_max(&body.name, "name", 50)?.as_str().to_owned();
    if state.store.displays(user.tenant_id()).await?.len() >= MAX_DISPLAYS {
        return Err(ApiError::bad_request(
            "too_many_displays",
            format!("a tenant has at most {MAX_DISPLAYS} displays: revoke one first"),
        ));
    }
    let token = new_secret(DISPLAY_TOKEN_PREFIX);
    let display = state
        .store
        .add_display(user.tenant_id(), name, hash_secret(&token))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(NewDisplayAnswer { display, token }),
    ))
}

/// Revokes a display (admins only): its token stops working and its live sockets close.
#[utoipa::path(
    delete,
    path = "/api/v1/displays/{id}",
    tag = "accounts",
    security(("user_token" = [])),
    params(("id" = String, Path, description = "The display's id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such display", body = ErrorBody),
    )
)]
async fn delete(
    State(state): State<AppState>,
    Admin(user): Admin,
    ApiPath(raw): ApiPath<String>,
) -> Result<StatusCode> {
    let id: i64 = raw
        .parse()
        .map_err(|_| ApiError::not_found("display not found"))?;
    let token_hash = state
        .store
        .delete_display(user.tenant_id(), id)
        .await
        .map_err(not_found_as("display"))?;
    state.live.revoke(Revoked::Session(token_hash.into()));
    Ok(StatusCode::NO_CONTENT)
}
