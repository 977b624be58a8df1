//! Several servers on one database behave as one: what one of them publishes live or revokes
//! reaches the clients of all (the store's broadcasts: LISTEN/NOTIFY on PostgreSQL), and one of
//! them, the leader, does the once-per-installation work (`monitor`).
//!
//! Live messages cross in batches: what the hub handed over while the previous broadcast went
//! out leaves as one notification (several when it passes PostgreSQL's 8000-byte payload
//! limit), so a busy server sends about one notification per group commit, not one per event.
//! A server that missed broadcasts (its listening connection broke) closes its clients' sockets
//! with "reconnect and re-read", so none of them stays stale.
//!
//! A SQLite server is alone: none of this runs.

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::AppState;
use crate::domain::{TenantId, UserId};
use crate::live::{Outgoing, Revoked};
use crate::store::{Broadcast, postgres::MAX_PAYLOAD};

/// One thing a broadcast carries.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "k", rename_all = "snake_case")]
enum Item {
    Live { tenant: TenantId, frame: String },
    Session { hash: String },
    User { id: UserId },
}

/// A broadcast: who sent it, and what.
#[derive(Debug, Serialize, Deserialize)]
struct Payload {
    from: u64,
    items: Vec<Item>,
}

impl Item {
    fn of(outgoing: Outgoing) -> Option<Self> {
        Some(match outgoing {
            Outgoing::Frame(tenant, frame) => Self::Live {
                tenant,
                frame: frame.to_string(),
            },
            Outgoing::Revoked(Revoked::Session(hash)) => Self::Session {
                hash: hash.to_string(),
            },
            Outgoing::Revoked(Revoked::User(id)) => Self::User { id },
            // Each server decides that for itself.
            Outgoing::Revoked(Revoked::Everyone) => return None,
        })
    }
}

/// Starts the bridge between this server's hub and the others', when the store is shared.
pub fn start(state: &AppState) -> Vec<JoinHandle<()>> {
    let (Some(outgoing), Some(incoming)) = (state.live.share(), state.store.listen()) else {
        return Vec::new();
    };
    let me: u64 = rand::random();
    vec![
        tokio::spawn(send(state.clone(), me, outgoing)),
        tokio::spawn(receive(state.clone(), me, incoming)),
    ]
}

/// Hands what the hub gives to the other servers, in as few broadcasts as fit, until shutdown.
async fn send(state: AppState, me: u64, mut outgoing: mpsc::UnboundedReceiver<Outgoing>) {
    let mut shutdown = state.shutdown.clone();
    loop {
        let first = tokio::select! {
            got = outgoing.recv() => match got {
                Some(first) => first,
                None => return,
            },
            _ = crate::stopped(&mut shutdown) => return,
        };
        let mut items: Vec<Item> = Item::of(first).into_iter().collect();
        while let Ok(more) = outgoing.try_recv() {
            items.extend(Item::of(more));
        }
        for payload in payloads(me, items) {
            if let Err(e) = state.store.broadcast(&payload).await {
                tracing::warn!(error = %e, "cannot tell the other servers");
            }
        }
    }
}

/// The broadcasts that carry `items`, each within PostgreSQL's payload limit; an item that does
/// not fit alone is dropped (logged).
fn payloads(me: u64, items: Vec<Item>) -> Vec<String> {
    let head = format!("{{\"from\":{me},\"items\":[");
    let mut out = Vec::new();
    let mut current = head.clone();
    for item in items {
        let Ok(text) = serde_json::to_string(&item) else {
            continue;
        };
        if head.len() + text.len() + 2 > MAX_PAYLOAD {
            tracing::warn!(
                bytes = text.len(),
                "a live message too large to cross to other servers"
            );
            continue;
        }
        let comma = usize::from(current.len() > head.len());
        if current.len() + comma + text.len() + 2 > MAX_PAYLOAD {
            current.push_str("]}");
            out.push(std::mem::replace(&mut current, head.clone()));
        }
        if current.len() > head.len() {
            current.push(',');
        }
        current.push_str(&text);
    }
    if current.len() > head.len() {
        current.push_str("]}");
        out.push(current);
    }
    out
}

/// Passes what the other servers broadcast to this server's clients, until shutdown.
async fn receive(state: AppState, me: u64, mut incoming: mpsc::Receiver<Broadcast>) {
    let mut shutdown = state.shutdown.clone();
    loop {
        let broadcast = tokio::select! {
            got = incoming.recv() => match got {
                Some(b) => b,
                None => return,
            },
            _ = crate::stopped(&mut shutdown) => return,
        };
        match broadcast {
            Broadcast::Message(text) => match serde_json::from_str::<Payload>(&text) {
                Ok(payload) if payload.from == me => {}
                Ok(payload) => {
                    for item in payload.items {
                        match item {
                            Item::Live { tenant, frame } => {
                                state.live.deliver(tenant, frame.into())
                            }
                            Item::Session { hash } => {
                                state.live.revoke_here(Revoked::Session(hash.into()));
                            }
                            Item::User { id } => state.live.revoke_here(Revoked::User(id)),
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "a broadcast this server cannot read"),
            },
            Broadcast::Reconnected => {
                tracing::info!("missed broadcasts: live clients reconnect and re-read");
                state.live.revoke_here(Revoked::Everyone);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(n: usize) -> Item {
        Item::Live {
            tenant: TenantId(1),
            frame: "x".repeat(n),
        }
    }

    #[test]
    fn broadcasts_fit_the_payload_limit_and_keep_every_item_that_can() {
        let items: Vec<Item> = (0..100).map(|_| live(300)).collect();
        let out = payloads(7, items);
        assert!(out.len() > 1, "100 items of 300 bytes need several");
        let mut count = 0;
        for p in &out {
            assert!(p.len() <= MAX_PAYLOAD, "{} bytes", p.len());
            let payload: Payload = serde_json::from_str(p).unwrap();
            assert_eq!(payload.from, 7);
            count += payload.items.len();
        }
        assert_eq!(count, 100);
        // One too large alone is dropped, the others go.
        let out = payloads(7, vec![live(10), live(MAX_PAYLOAD), live(10)]);
        let payload: Payload = serde_json::from_str(&out[0]).unwrap();
        assert_eq!(payload.items, vec![live(10), live(10)]);
        assert!(payloads(7, Vec::new()).is_empty());
    }
}
