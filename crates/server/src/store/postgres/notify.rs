//! What the servers sharing one database tell each other, and which of them leads.
//!
//! - Broadcasts: `NOTIFY assetlog, payload` on a pool connection; each server listens on a
//!   connection of its own and hands what arrives (its own broadcasts included) to `replicas`.
//!   When that connection breaks, what was sent meanwhile is lost: the listener reconnects by
//!   itself and says so ([`Broadcast::Reconnected`]), so the server can tell its clients to
//!   re-read.
//! - The leader: the server that holds a session advisory lock on a connection of its own. When
//!   it dies, PostgreSQL ends its session and frees the lock, and another server, which tries
//!   every [`LEAD_RETRY`], takes it.

use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio_postgres::{AsyncMessage, NoTls};

use super::super::Result;
use super::Pg;

/// The channel every server listens on.
const CHANNEL: &str = "assetlog";

/// The largest payload PostgreSQL takes (8000 bytes, less room for the channel name).
pub const MAX_PAYLOAD: usize = 7900;

/// The key of the leader's advisory lock.
const LEADER_LOCK: i64 = 0x6173_7365_746c_6472;

/// How often a server that does not lead tries to, and the leader checks its connection.
pub const LEAD_RETRY: Duration = Duration::from_secs(1);

/// How long to wait before connecting again after a failure.
const RECONNECT: Duration = Duration::from_millis(500);

/// What the listener hands on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Broadcast {
    Message(String),
    /// The listening connection broke and is back: broadcasts sent meanwhile were missed.
    Reconnected,
}

impl Pg {
    /// Tells every server on the database (this one too) `payload`, of at most [`MAX_PAYLOAD`]
    /// bytes.
    pub async fn broadcast(&self, payload: &str) -> Result<()> {
        let client = self.client().await?;
        let notify = client.prepare_cached("SELECT pg_notify($1, $2)").await?;
        client.execute(&notify, &[&CHANNEL, &payload]).await?;
        Ok(())
    }

    /// Listens for broadcasts until the receiver is dropped, reconnecting by itself.
    pub fn listen(&self) -> mpsc::Receiver<Broadcast> {
        let (sender, receiver) = mpsc::channel(1024);
        let config = self.config().clone();
        tokio::spawn(async move {
            let mut first = true;
            while !sender.is_closed() {
                match config.connect(NoTls).await {
                    Ok((client, mut connection)) => {
                        let (notices, mut arrived) = mpsc::unbounded_channel();
                        let driver = tokio::spawn(async move {
                            let mut messages = futures_util::stream::poll_fn(move |cx| {
                                connection.poll_message(cx)
                            });
                            while let Some(Ok(message)) = messages.next().await {
                                if let AsyncMessage::Notification(n) = message {
                                    let _ = notices.send(n.payload().to_owned());
                                }
                            }
                        });
                        if let Err(e) = client.batch_execute(&format!("LISTEN {CHANNEL}")).await {
                            tracing::warn!(error = %e, "cannot listen for other servers");
                        } else {
                            if !first {
                                tracing::info!("listening for other servers again");
                                let _ = sender.send(Broadcast::Reconnected).await;
                            }
                            first = false;
                            while let Some(payload) = arrived.recv().await {
                                if sender.send(Broadcast::Message(payload)).await.is_err() {
                                    break;
                                }
                            }
                            tracing::warn!("the connection that listens for other servers broke");
                        }
                        driver.abort();
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot connect to listen for other servers")
                    }
                }
                tokio::time::sleep(RECONNECT).await;
            }
        });
        receiver
    }

    /// Whether this server leads, kept up to date until the receivers are dropped: true while
    /// it holds the leader's lock on a connection of its own. Answers once the first try is
    /// made (at most [`LEAD_RETRY`]), so a server alone leads from its first request on.
    pub async fn lead(&self) -> watch::Receiver<bool> {
        let (leads, receiver) = watch::channel(false);
        let config = self.config().clone();
        let (tried, first_try) = tokio::sync::oneshot::channel::<()>();
        let mut tried = Some(tried);
        tokio::spawn(async move {
            while !leads.is_closed() {
                match config.connect(NoTls).await {
                    Ok((client, connection)) => {
                        let driver = tokio::spawn(connection);
                        loop {
                            let step = if *leads.borrow() {
                                client.simple_query("SELECT 1").await.map(|_| true)
                            } else {
                                client
                                    .query_one("SELECT pg_try_advisory_lock($1)", &[&LEADER_LOCK])
                                    .await
                                    .map(|r| r.get::<_, bool>(0))
                            };
                            if let Some(tried) = tried.take() {
                                let _ = tried.send(());
                            }
                            match step {
                                Ok(holds) => {
                                    if holds != *leads.borrow() {
                                        tracing::info!(leads = holds, "leadership changed");
                                        leads.send_replace(holds);
                                    }
                                }
                                Err(e) => {
                                    tracing::warn!(error = %e, "lost the connection that leads");
                                    break;
                                }
                            }
                            if leads.is_closed() {
                                break;
                            }
                            tokio::time::sleep(LEAD_RETRY).await;
                        }
                        driver.abort();
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot connect to lead"),
                }
                // Without its connection, the lock is gone: lead no more until it is taken again.
                if *leads.borrow() {
                    leads.send_replace(false);
                }
                tokio::time::sleep(RECONNECT).await;
            }
        });
        let _ = tokio::time::timeout(LEAD_RETRY, first_try).await;
        receiver
    }
}
