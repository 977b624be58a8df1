//! `GET /api/v1/live`: the WebSocket a dashboard keeps open.

use crate::domain::UserId;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::sync::broadcast;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::ErrorBody;
use super::{ApiQuery, bearer, session_for};
use crate::AppState;
use crate::error::{ApiError, Result};
use crate::live::{Frame, Revoked};
use crate::secrets::hash_secret;
use crate::store::now_ms;

/// A client that cannot take a message within this long is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a closing socket waits for its close frame to be taken before it is dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// Read buffer of a live socket.
const READ_BUFFER: usize = 4096;

/// Close code "try again later": sent to a client dropped for falling behind.
const CLOSE_TOO_SLOW: u16 = 1013;
/// Close code "going away": sent when the server shuts down.
const CLOSE_GOING_AWAY: u16 = 1001;
/// Close code "policy violation": the session that opened the socket ended or changed.
const CLOSE_REVOKED: u16 = 1008;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(live))
        .route("/api/live", get(live))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct LiveParams {
    /// The user's token, for browsers (which cannot set headers on a WebSocket).
    token: Option<String>,
}

/// The live WebSocket: state changes, logger status and presence of the tenant, as JSON
/// messages (docs/API.md §11). Authenticated by `?token=` or the bearer header; closed with 1008
/// when the session ends.
#[utoipa::path(
    get,
    path = "/api/v1/live",
    tag = "live",
    security(("user_token" = []), ()),
    params(LiveParams),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, description = "Not a WebSocket handshake, or the query does not parse", body = ErrorBody),
        (status = 401, description = "No token, or an invalid, expired or revoked one", body = ErrorBody),
        (status = 426, description = "The connection cannot be upgraded", body = ErrorBody),
    )
)]
async fn live(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<LiveParams>,
    upgrade: std::result::Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response> {
    // Browsers cannot set headers on a WebSocket, hence the query parameter.
    let token = params
        .token
        .as_deref()
        .or_else(|| bearer(&headers))
        .ok_or_else(|| ApiError::unauthorized("sign in first: pass ?token= or a bearer header"))?;
    // Listen for revocations before the session is checked: a sign-out that races the
    // handshake then still closes the socket.
    let revocations = state.live.revocations();
    let session = session_for(&state, token).await?;
    let owner = Owner {
        token_hash: hash_secret(token),
        user_id: session.user.id,
        expires_at: session.expires_at,
        revocations,
    };
    let upgrade =
        upgrade.map_err(|r| ApiError::new(r.status(), "websocket_required", r.body_text()))?;
    // Subscribe before answering, so every message after the handshake reaches the client.
    let messages = state.live.subscribe(session.tenant.id);
    // Counted from here, so the gauge is right as soon as the handshake is answered; the guard
    // uncounts the client however the connection ends (or if the upgrade never happens).
    let counted = ClientCount::new(&state);
    // Clients send almost nothing; a small read buffer saves clearing 128 KiB on every poll.
    Ok(upgrade
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| serve_client(state, socket, messages, owner, counted)))
}

/// Whose socket it is, and what ends it: a revocation, or its token's expiry.
struct Owner {
    token_hash: String,
    user_id: UserId,
    /// The token's expiry, epoch ms.
    expires_at: i64,
    revocations: broadcast::Receiver<Revoked>,
}

impl Owner {
    /// Resolves with the close to send once the session is revoked or its token expires (or
    /// the socket missed revocations and must reconnect to be checked again).
    async fn revoked(&mut self) -> (u16, &'static str) {
        let left = u64::try_from(self.expires_at.saturating_sub(now_ms())).unwrap_or(0);
        let expiry = tokio::time::sleep(Duration::from_millis(left));
        tokio::select! {
            closed = self.revocation() => closed,
            () = expiry => (CLOSE_REVOKED, "the session expired: sign in again"),
        }
    }

    async fn revocation(&mut self) -> (u16, &'static str) {
        loop {
            match self.revocations.recv().await {
                Ok(Revoked::Everyone) => {
                    return (
                        CLOSE_TOO_SLOW,
                        "the server missed messages: reconnect and re-read the state",
                    );
                }
                Ok(revoked) if revoked.ends(&self.token_hash, self.user_id) => {
                    return (CLOSE_REVOKED, "the session ended or changed: sign in again");
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    return (CLOSE_REVOKED, "sessions changed: reconnect");
                }
                Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
            }
        }
    }
}

struct ClientCount(prometheus_client::metrics::gauge::Gauge);

impl ClientCount {
    fn new(state: &AppState) -> Self {
        state.metrics.live_clients.inc();
        Self(state.metrics.live_clients.clone())
    }
}

impl Drop for ClientCount {
    fn drop(&mut self) {
        self.0.dec();
    }
}

async fn serve_client(
    state: AppState,
    socket: WebSocket,
    mut messages: broadcast::Receiver<Frame>,
    mut owner: Owner,
    _counted: ClientCount,
) {
    let (mut sink, mut incoming) = socket.split();
    let mut shutdown = state.shutdown.clone();
    let close = loop {
        tokio::select! {
            message = messages.recv() => match message {
                Ok(frame) => {
                    let text = Message::Text(frame.as_ref().into());
                    // A revocation does not wait for a slow client to take the message.
                    let sent = tokio::select! {
                        sent = tokio::time::timeout(SEND_TIMEOUT, sink.send(text)) => sent,
                        close = owner.revoked() => break Some(close),
                    };
                    match sent {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) => break None, // the client went away
                        Err(_) => {
                            state.metrics.live_dropped.inc();
                            break None;
                        }
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::info!(missed, "dropping a live client that fell behind");
                    state.metrics.live_dropped.inc();
                    break Some((CLOSE_TOO_SLOW, "too slow: reconnect and re-read the state"));
                }
                Err(broadcast::error::RecvError::Closed) => break Some((CLOSE_GOING_AWAY, "server shutting down")),
            },
            received = incoming.next() => match received {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break None,
                Some(Ok(_)) => {}
            },
            close = owner.revoked() => break Some(close),
            _ = crate::stopped(&mut shutdown) => break Some((CLOSE_GOING_AWAY, "server shutting down")),
        }
    };
    if let Some((code, reason)) = close {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, sink.send(Message::Close(Some(frame)))).await;
    }
}
