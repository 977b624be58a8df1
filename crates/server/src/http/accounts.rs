//! Sign-up, sign-in, sign-out, and the people of a tenant.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::ErrorBody;
use super::peer::{ClientAddr, busy, too_many_attempts};
use super::{Admin, ApiJson, ApiPath, CurrentUser, bearer, parse_id};
use crate::AppState;
use crate::domain::{Email, Name, Password};
use crate::error::{ApiError, Result, not_found_as};
use crate::live::Revoked;
use crate::secrets::{hash_password, hash_secret, new_secret, verify_password};
use crate::store::{Role, Tenant, User, now_ms};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(signup))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(list_users, create_user))
        .routes(routes!(delete_user, update_user))
}

/// A tenant's name, with the refusal sign-up has always answered.
fn parse_tenant_name(raw: &str) -> Result<String> {
    Name::parse(raw, "tenant_name")
        .map(String::from)
        .map_err(|_| {
            ApiError::bad_request(
                "invalid_tenant_name",
                "tenant names are 1 to 100 printable characters",
            )
        })
}

/// Checks a chosen password in one of the few hashing slots (`crate::limits::HashGate`): the
/// strength estimate costs up to tens of milliseconds of CPU, which must neither hold an async
/// worker nor run unbounded.
async fn chosen_password(state: &AppState, raw: String, known: [String; 2]) -> Result<Password> {
    state
        .auth
        .hashing
        .run(move || Password::parse(&raw, &known.each_ref().map(String::as_str)))
        .await
        .map_err(|_| busy())?
        .map_err(ApiError::from)
}

/// Hashes a password in one of the few hashing slots (`crate::limits::HashGate`).
async fn hash(state: &AppState, password: Password) -> Result<String> {
    state
        .auth
        .hashing
        .run(move || hash_password(password.expose()))
        .await
        .map_err(|_| busy())?
        .map_err(ApiError::Internal)
}

/// A new session: its token (send it as `Authorization: Bearer`), when it expires (epoch ms),
/// and who it is for.
#[derive(Serialize, ToSchema)]
struct SessionAnswer {
    token: String,
    expires_at: i64,
    user: User,
    tenant: Tenant,
}

/// The signed-in user and their tenant.
#[derive(Serialize, ToSchema)]
struct MeAnswer {
    user: User,
    tenant: Tenant,
}

async fn start_session(state: &AppState, user: &User, tenant: &Tenant) -> Result<SessionAnswer> {
    let token = new_secret("alt_");
    let expires_at = now_ms() + state.config.token_ttl_hours as i64 * 3_600_000;
    state
        .store
        .create_session(user.id, hash_secret(&token), expires_at)
        .await?;
    Ok(SessionAnswer {
        token,
        expires_at,
        user: user.clone(),
        tenant: tenant.clone(),
    })
}

fn closed_signup() -> ApiError {
    ApiError::forbidden("sign-up is closed: ask an admin of your tenant to add you")
}

#[derive(Deserialize, ToSchema)]
struct SignupBody {
    email: String,
    password: String,
    tenant_name: String,
}

/// Creates a tenant and its first admin, and signs them in. Open to anyone only with
/// `--open-signup`; otherwise only while the server has no user.
#[utoipa::path(
    post,
    path = "/api/v1/auth/signup",
    tag = "accounts",
    request_body = SignupBody,
    responses(
        (status = 201, description = "Signed up and signed in", body = SessionAnswer),
        (status = 400, description = "Invalid email, tenant name or a weak password", body = ErrorBody),
        (status = 403, description = "Sign-up is closed", body = ErrorBody),
        (status = 409, description = "Taken (answered neutrally)", body = ErrorBody),
        (status = 429, description = "Too many attempts from this address (`Retry-After`)", body = ErrorBody),
    )
)]
async fn signup(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiJson(body): ApiJson<SignupBody>,
) -> Result<(StatusCode, Json<SessionAnswer>)> {
    let email = Email::parse(&body.email)?.into_string();
    let tenant_name = parse_tenant_name(&body.tenant_name)?;
    // Refuse a closed sign-up before paying for a password check (the store checks again, atomically).
    if !state.config.open_signup && state.store.has_users().await? {
        return Err(closed_signup());
    }
    // Every sign-up counts, a successful one too: each costs a strength estimate and a hash,
    // and makes a tenant. Sign-ups have their own allowance, apart from sign-ins'.
    state.auth.signup(client).map_err(too_many_attempts)?;
    let known = [email.clone(), tenant_name.clone()];
    let password = chosen_password(&state, body.password, known).await?;
    let password_hash = hash(&state, password).await?;
    let created = state
        .store
        .signup(tenant_name, email, password_hash, !state.config.open_signup)
        .await?;
    let (user, tenant) = created.ok_or_else(closed_signup)?;
    tracing::info!(user = %user.id, tenant = %tenant.id, "signed up");
    Ok((
        StatusCode::CREATED,
        Json(start_session(&state, &user, &tenant).await?),
    ))
}

#[derive(Deserialize, ToSchema)]
struct LoginBody {
    email: String,
    password: String,
}

/// Signs in with email and password.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "accounts",
    request_body = LoginBody,
    responses(
        (status = 200, description = "Signed in", body = SessionAnswer),
        (status = 401, description = "Wrong email or password", body = ErrorBody),
        (status = 429, description = "Too many attempts (`Retry-After`)", body = ErrorBody),
    )
)]
async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Json<SessionAnswer>> {
    let email = body.email.trim().to_lowercase();
    // Known or not, an email is an account to the throttle: a 429 must not tell which exist.
    let account = format!("email:{email}");
    state
        .auth
        .attempt(client, &account)
        .map_err(too_many_attempts)?;
    let found = state.store.user_for_login(email).await?;
    // Verify against a real hash even for an unknown email, so timing does not tell which emails exist.
    let stored = found.as_ref().map(|(_, _, h)| h.clone());
    let password = body.password;
    let valid = state
        .auth
        .hashing
        .run(move || verify_password(&password, stored.as_deref().unwrap_or(&DUMMY_HASH)))
        .await
        .map_err(|_| busy())?;
    match found {
        Some((user, tenant, _)) if valid => {
            // Only failures add up: a success gives its attempts back.
            state.auth.succeeded(client, &account);
            Ok(Json(start_session(&state, &user, &tenant).await?))
        }
        _ => Err(ApiError::unauthorized("wrong email or password")),
    }
}

static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash_password("assetlog-timing-equaliser").unwrap_or_default());

/// Ends this token's session (and closes its live sockets).
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "accounts",
    security(("user_token" = [])),
    responses((status = 204, description = "Signed out"))
)]
async fn logout(
    State(state): State<AppState>,
    _user: CurrentUser,
    headers: HeaderMap,
) -> Result<StatusCode> {
    let token_hash = hash_secret(bearer(&headers).unwrap_or_default());
    state.store.delete_session(token_hash.clone()).await?;
    state.live.revoke(Revoked::Session(token_hash.into()));
    Ok(StatusCode::NO_CONTENT)
}

/// Who the token is for.
#[utoipa::path(
    get,
    path = "/api/v1/auth/me",
    tag = "accounts",
    security(("user_token" = [])),
    responses((status = 200, description = "The signed-in user", body = MeAnswer))
)]
async fn me(user: CurrentUser) -> Json<MeAnswer> {
    Json(MeAnswer {
        user: user.0.user,
        tenant: user.0.tenant,
    })
}

/// The tenant's users (admins only).
#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "accounts",
    security(("user_token" = [])),
    responses(
        (status = 200, description = "The users", body = Vec<User>),
        (status = 403, description = "Not an admin", body = ErrorBody),
    )
)]
async fn list_users(State(state): State<AppState>, Admin(user): Admin) -> Result<Json<Vec<User>>> {
    Ok(Json(state.store.list_users(user.tenant_id()).await?))
}

#[derive(Deserialize, ToSchema)]
struct NewUserBody {
    email: String,
    password: String,
    #[serde(default = "default_role")]
    role: Role,
}

fn default_role() -> Role {
    Role::Viewer
}

/// Adds a user to the tenant (admins only).
#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "accounts",
    security(("user_token" = [])),
    request_body = NewUserBody,
    responses(
        (status = 201, description = "The new user", body = User),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 409, description = "That email cannot be used", body = ErrorBody),
        (status = 429, description = "Too many refused attempts (`Retry-After`)", body = ErrorBody),
    )
)]
async fn create_user(
    State(state): State<AppState>,
    Admin(user): Admin,
    ClientAddr(client): ClientAddr,
    ApiJson(body): ApiJson<NewUserBody>,
) -> Result<(StatusCode, Json<User>)> {
    let email = Email::parse(&body.email)?.into_string();
    // Only an admin gets this far, and the slots bound the estimates: a weak password costs no
    // attempt.
    let known = [email.clone(), user.0.tenant.name.clone()];
    let password = chosen_password(&state, body.password, known).await?;
    // An email refused as taken is a guess at who has an account on this server: an admin's
    // failures count like wrong sign-ins (a success gives its attempt back). A key of its own,
    // so mistyped claim codes (`user:<id>`) do not stop an admin adding people, nor the reverse.
    let account = format!("add-user:{}", user.0.user.id);
    state
        .auth
        .attempt(client, &account)
        .map_err(too_many_attempts)?;
    let password_hash = hash(&state, password).await?;
    let created = state
        .store
        .create_user(user.tenant_id(), email, password_hash, body.role)
        .await?;
    state.auth.succeeded(client, &account);
    Ok((StatusCode::CREATED, Json(created)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UserUpdateBody {
    role: Role,
}

/// Changes a user's role (admins only); their live sockets close.
#[utoipa::path(
    patch,
    path = "/api/v1/users/{id}",
    tag = "accounts",
    security(("user_token" = [])),
    params(("id" = String, Path, description = "The user's id")),
    request_body = UserUpdateBody,
    responses(
        (status = 200, description = "The user", body = User),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 409, description = "The tenant would have no admin left", body = ErrorBody),
    )
)]
async fn update_user(
    State(state): State<AppState>,
    Admin(user): Admin,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UserUpdateBody>,
) -> Result<Json<User>> {
    let id = parse_id(&id, "user")?;
    let updated = state
        .store
        .set_user_role(user.tenant_id(), id, body.role)
        .await
        .map_err(not_found_as("user"))?;
    // Their live sockets were authorised with the old role: they reconnect with the new one.
    state.live.revoke(Revoked::User(id));
    Ok(Json(updated))
}

/// Deletes a user (admins only); their sessions and live sockets end.
#[utoipa::path(
    delete,
    path = "/api/v1/users/{id}",
    tag = "accounts",
    security(("user_token" = [])),
    params(("id" = String, Path, description = "The user's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 409, description = "The tenant would have no admin left", body = ErrorBody),
    )
)]
async fn delete_user(
    State(state): State<AppState>,
    Admin(user): Admin,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode> {
    let id = parse_id(&id, "user")?;
    state
        .store
        .delete_user(user.tenant_id(), id)
        .await
        .map_err(not_found_as("user"))?;
    state.live.revoke(Revoked::User(id));
    Ok(StatusCode::NO_CONTENT)
}
