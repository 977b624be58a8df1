//! The live hub: routes each message to the WebSocket clients of its tenant, and only those.
//!
//! One broadcast channel per tenant. Publishing never waits: each client reads from a bounded
//! ring, and a client that falls a whole ring behind is dropped (it reconnects and re-reads the
//! state). A slow dashboard can thus never slow ingestion or another dashboard.
//!
//! The hub also tells the sockets when a session ends or changes ([`Revoked`]): a socket is
//! authorised once, at its handshake, so a sign-out, a deleted user or a new role must reach it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use assetlog_core::RunState;
use serde::Serialize;
use tokio::sync::{broadcast, mpsc};

use crate::domain::{AssetId, TenantId, UserId};

/// Messages a dashboard receives.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveMessage {
    AssetStateChange {
        asset_id: AssetId,
        asset_name: String,
        logger_id: String,
        pin_number: u8,
        state: RunState,
        /// When the change happened, RFC 3339 UTC.
        timestamp: String,
        /// How long the previous state lasted; null for an asset's first state.
        duration_ms: Option<i64>,
    },
    LoggerStatus {
        logger_id: String,
        online: bool,
        last_seen: String,
    },
    /// An alert opened, was acknowledged, escalated or cleared.
    Alert {
        event: &'static str,
        alert: crate::store::Alert,
    },
    /// The tenant's alert rules or channels changed (re-read them).
    AlertConfigChanged {},
}

pub type Frame = Arc<str>;

/// A session that ended or changed; the live sockets it opened close at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoked {
    /// One session signed out: the hash of its token.
    Session(Arc<str>),
    /// Every session of a user: deleted, or given another role.
    User(UserId),
    /// Every socket: this server missed messages (replicas.rs), so each client reconnects and
    /// re-reads the state.
    Everyone,
}

impl Revoked {
    /// Whether this ends the session of `token_hash`, of user `user_id`.
    pub fn ends(&self, token_hash: &str, user_id: UserId) -> bool {
        match self {
            Self::Session(hash) => hash.as_ref() == token_hash,
            Self::User(id) => *id == user_id,
            Self::Everyone => true,
        }
    }
}

/// Revocations a socket may fall behind before it is closed (to reconnect and be checked anew).
const REVOCATION_BUFFER: usize = 256;

pub struct LiveHub {
    tenants: Mutex<HashMap<TenantId, broadcast::Sender<Frame>>>,
    /// Messages a client may fall behind before it is dropped.
    buffer: usize,
    revocations: broadcast::Sender<Revoked>,
    /// Where what is published and revoked here also goes, for the other servers on the same
    /// database (replicas.rs); unset for a server alone.
    others: OnceLock<mpsc::UnboundedSender<Outgoing>>,
    /// Every message delivered here, of every tenant, for those inside the server that follow
    /// the live state (the alert evaluator).
    observers: broadcast::Sender<(TenantId, Frame)>,
}

/// Messages an observer may fall behind before it is told it lagged (and re-reads the state).
const OBSERVER_BUFFER: usize = 65_536;

/// What the hub hands to the other servers.
#[derive(Debug, Clone)]
pub enum Outgoing {
    Frame(TenantId, Frame),
    Revoked(Revoked),
}

impl LiveHub {
    pub fn new(buffer: usize) -> Self {
        Self {
            tenants: Mutex::default(),
            buffer,
            revocations: broadcast::channel(REVOCATION_BUFFER).0,
            others: OnceLock::new(),
            observers: broadcast::channel(OBSERVER_BUFFER).0,
        }
    }

    /// From now on, everything published or revoked here is also handed to the receiver, for
    /// the other servers (once per hub; None when already taken).
    pub fn share(&self) -> Option<mpsc::UnboundedReceiver<Outgoing>> {
        let (sender, receiver) = mpsc::unbounded_channel();
        self.others.set(sender).ok().map(|()| receiver)
    }

    /// Closes the sockets of a session that ended or changed (see [`LiveHub::revocations`]),
    /// here and on the other servers.
    pub fn revoke(&self, revoked: Revoked) {
        if let Some(others) = self.others.get() {
            let _ = others.send(Outgoing::Revoked(revoked.clone()));
        }
        self.revoke_here(revoked);
    }

    /// [`LiveHub::revoke`] on this server only (what another server revoked).
    pub fn revoke_here(&self, revoked: Revoked) {
        // No receiver: no socket is open.
        let _ = self.revocations.send(revoked);
    }

    /// Every revocation from now on. A socket subscribes before its session is checked, so a
    /// sign-out that races the handshake still reaches it.
    pub fn revocations(&self) -> broadcast::Receiver<Revoked> {
        self.revocations.subscribe()
    }

    /// Every message delivered here from now on, of every tenant (published here or by the
    /// other servers).
    pub fn observe(&self) -> broadcast::Receiver<(TenantId, Frame)> {
        self.observers.subscribe()
    }

    pub fn subscribe(&self, tenant_id: TenantId) -> broadcast::Receiver<Frame> {
        let mut tenants = self.tenants.lock().expect("hub lock");
        tenants
            .entry(tenant_id)
            .or_insert_with(|| broadcast::channel(self.buffer).0)
            .subscribe()
    }

    /// Sends `message` to the tenant's clients, here and on the other servers.
    pub fn publish(&self, tenant_id: TenantId, message: &LiveMessage) {
        let others = self.others.get();
        if others.is_none() && !self.has_clients(tenant_id) && self.observers.receiver_count() == 0
        {
            return;
        }
        let frame: Frame = match serde_json::to_string(message) {
            Ok(text) => text.into(),
            Err(e) => {
                tracing::error!(error = %e, "cannot encode a live message");
                return;
            }
        };
        if let Some(others) = others {
            let _ = others.send(Outgoing::Frame(tenant_id, frame.clone()));
        }
        self.deliver(tenant_id, frame);
    }

    /// Sends an encoded message to the tenant's clients on this server only (what another
    /// server published).
    pub fn deliver(&self, tenant_id: TenantId, frame: Frame) {
        if self.observers.receiver_count() > 0 {
            let _ = self.observers.send((tenant_id, frame.clone()));
        }
        let mut tenants = self.tenants.lock().expect("hub lock");
        let Some(sender) = tenants.get(&tenant_id) else {
            return;
        };
        if sender.receiver_count() == 0 {
            tenants.remove(&tenant_id);
            return;
        }
        let _ = sender.send(frame);
    }

    fn has_clients(&self, tenant_id: TenantId) -> bool {
        let tenants = self.tenants.lock().expect("hub lock");
        tenants
            .get(&tenant_id)
            .is_some_and(|sender| sender.receiver_count() > 0)
    }
}

/// Epoch milliseconds as RFC 3339 UTC with milliseconds.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(n: i64) -> LiveMessage {
        LiveMessage::LoggerStatus {
            logger_id: format!("l{n}"),
            online: true,
            last_seen: rfc3339(n),
        }
    }

    #[tokio::test]
    async fn messages_reach_only_subscribers_of_their_tenant() {
        let hub = LiveHub::new(8);
        let mut a = hub.subscribe(TenantId(1));
        let mut b = hub.subscribe(TenantId(2));
        hub.publish(TenantId(1), &change(1));
        let got = a.recv().await.unwrap();
        assert!(got.contains("\"logger_id\":\"l1\""), "{got}");
        assert!(got.contains("\"type\":\"logger_status\""), "{got}");
        assert!(b.try_recv().is_err());
    }

    #[tokio::test]
    async fn a_client_that_falls_a_buffer_behind_is_told_it_lagged() {
        let hub = LiveHub::new(4);
        let mut slow = hub.subscribe(TenantId(1));
        for n in 0..10 {
            hub.publish(TenantId(1), &change(n)); // never blocks, however far behind `slow` is
        }
        assert!(matches!(
            slow.recv().await,
            Err(broadcast::error::RecvError::Lagged(6))
        ));
    }

    #[tokio::test]
    async fn a_revocation_names_a_session_or_every_session_of_a_user() {
        let hub = LiveHub::new(4);
        let mut socket = hub.revocations();
        hub.revoke(Revoked::Session("h1".into()));
        hub.revoke(Revoked::User(UserId(7)));
        let first = socket.recv().await.unwrap();
        assert!(first.ends("h1", UserId(3)) && !first.ends("h2", UserId(3)));
        let second = socket.recv().await.unwrap();
        assert!(second.ends("h2", UserId(7)) && !second.ends("h2", UserId(8)));
    }

    #[test]
    fn times_are_rfc3339_utc_with_milliseconds() {
        assert_eq!(rfc3339(1_764_000_000_123), "2025-11-24T16:00:00.123Z");
    }
}
