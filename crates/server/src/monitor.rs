//! The background tasks: one marks silent loggers offline and saves last contacts; one moves
//! new events from the inbox into the history (store/inbox.rs); one keeps the day rollups
//! filled (`analytics::settle_days`), so that no reader computes a long history's days; one
//! deletes the loggers left unclaimed for too long (store/pending.rs); one keeps the database
//! (`Store::housekeeping`: PostgreSQL's coming partitions, and each tenant's retention). With replicas, the leader alone marks loggers offline, settles the
//! days, expires pending loggers and keeps the database; every server shares its contacts.

use std::time::Duration;

use crate::AppState;
use crate::ingest::publish_status;
use crate::store::now_ms;

/// How often to look: often enough that a logger is offline within 3 intervals plus a few seconds.
pub fn tick(heartbeat_interval: Duration) -> Duration {
    (heartbeat_interval / 2).clamp(Duration::from_millis(200), Duration::from_secs(2))
}

/// Runs until shutdown; then saves the contacts one last time.
pub async fn run(state: AppState) {
    let mut ticker =
        tokio::time::interval(tick(Duration::from_secs(state.config.heartbeat_interval)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut shutdown = state.shutdown.clone();
    let mut led = false;
    loop {
        tokio::select! {
            _ = ticker.tick() => led = sweep(&state, led).await,
            _ = crate::stopped(&mut shutdown) => break,
        }
    }
    sweep(&state, led).await;
}

/// How often new events move from the inbox into the history when nobody reads it. Reads
/// move them first anyway; this bounds the inbox (about 30,000 events at full single-event load).
const SETTLE_EVERY: Duration = Duration::from_secs(1);

/// Moves the events inbox into the history every [`SETTLE_EVERY`] until shutdown.
pub async fn settle_events(state: AppState) {
    let mut ticker = tokio::time::interval(SETTLE_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut shutdown = state.shutdown.clone();
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                if let Err(e) = state.store.settle().await {
                    tracing::warn!(error = %e, "cannot move new events into the history");
                }
            }
            _ = crate::stopped(&mut shutdown) => break,
        }
    }
}

/// How often the day rollups are brought up to date (`analytics::settle_days`): days that
/// ended are computed within this time of their end.
const SETTLE_DAYS_EVERY: Duration = Duration::from_secs(600);

/// A stored event older than this is a backfill (or a logger catching up): its day may have
/// ended, so the days are settled soon after, not at the next period.
pub const BACKFILL_AGE_MS: i64 = 3_600_000;

/// After a backfill, the days are settled once no further backfill came for this long (a bulk
/// load is many requests) ...
const BACKFILL_QUIET: Duration = Duration::from_secs(3);
/// ... or this long after the first one, whichever comes first.
const BACKFILL_WAIT_MAX: Duration = Duration::from_secs(60);

/// Keeps the day rollups filled in the background, every [`SETTLE_DAYS_EVERY`] (the first time
/// one period after start) and soon after a backfill, until shutdown.
pub async fn settle_days(state: AppState) {
    let mut ticker = tokio::time::interval_at(
        tokio::time::Instant::now() + SETTLE_DAYS_EVERY,
        SETTLE_DAYS_EVERY,
    );
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut shutdown = state.shutdown.clone();
    loop {
        let due = async {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = after_backfill(&state) => {}
            }
        };
        tokio::select! {
            _ = due, if *state.leads.borrow() => {
                // Stops at shutdown even half way: what it stored so far is kept.
                tokio::select! {
                    done = crate::analytics::settle_days(&state) => match done {
                        Ok(()) => {
                            state.metrics.rollup_settles.inc();
                            state.days_settled.send_modify(|n| *n += 1);
                        }
                        Err(e) => tracing::warn!(error = %e, "cannot bring the day rollups up to date"),
                    },
                    _ = crate::stopped(&mut shutdown) => break,
                }
            }
            _ = crate::stopped(&mut shutdown) => break,
        }
    }
}

/// Resolves when a backfill has come and the backfilling went quiet (see [`BACKFILL_QUIET`]).
async fn after_backfill(state: &AppState) {
    state.backfilled.notified().await;
    let deadline = tokio::time::Instant::now() + BACKFILL_WAIT_MAX;
    while let Ok(Ok(())) = tokio::time::timeout_at(
        deadline,
        tokio::time::timeout(BACKFILL_QUIET, state.backfilled.notified()),
    )
    .await
    {}
}

/// How often the leader does the database's upkeep (`Store::housekeeping`).
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(3600);

/// The database's upkeep, at start and every [`HOUSEKEEPING_EVERY`], while this server leads.
pub async fn housekeeping(state: AppState) {
    let mut ticker = tokio::time::interval(HOUSEKEEPING_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut shutdown = state.shutdown.clone();
    loop {
        tokio::select! {
            _ = ticker.tick(), if *state.leads.borrow() => {
                if let Err(e) = state.store.housekeeping(now_ms()).await {
                    tracing::warn!(error = %e, "cannot do the database's upkeep");
                }
            }
            _ = crate::stopped(&mut shutdown) => break,
        }
    }
}

/// How often to look for expired pending loggers: a tenth of the expiry, between 100 ms and
/// 10 minutes.
pub fn expiry_tick(expiry: Duration) -> Duration {
    (expiry / 10).clamp(Duration::from_millis(100), Duration::from_secs(600))
}

/// Deletes the loggers still unclaimed `--pending-expiry` after their first registration, with
/// their events and assets, until shutdown.
pub async fn expire_pending(state: AppState) {
    let expiry = Duration::from_secs(state.config.pending_expiry);
    let mut ticker = tokio::time::interval(expiry_tick(expiry));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut shutdown = state.shutdown.clone();
    let expiry_ms = i64::try_from(expiry.as_millis()).unwrap_or(i64::MAX);
    loop {
        tokio::select! {
            _ = ticker.tick(), if *state.leads.borrow() => {
                match state.store.expire_pending(now_ms().saturating_sub(expiry_ms)).await {
                    Ok(expired) => {
                        for (row, logger_id) in expired {
                            tracing::info!(logger = %logger_id, "unclaimed logger expired: deleted with its events");
                            state.presence.forget(row);
                            crate::mqtt::removed(&state, &logger_id).await;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot expire unclaimed loggers"),
                }
            }
            _ = crate::stopped(&mut shutdown) => break,
        }
    }
}

/// One tick of presence; `led`: whether this server led at the last tick. Answers whether it
/// leads now.
async fn sweep(state: &AppState, led: bool) -> bool {
    let leads = *state.leads.borrow();
    if state.store.shared() {
        // A server that just took the lead first takes in what the last leader decided.
        if leads && !led {
            share_presence(state, false).await;
        }
        share_presence(state, leads).await;
    }
    if !leads {
        return false;
    }
    // Going offline (in memory) and recording the span's start happen under one lock, which a
    // logger coming back takes before recording the end: so the end never precedes the start.
    let ordered = state.transitions.lock().await;
    let (went_offline, contacts) = state.presence.sweep(now_ms());
    for change in &went_offline {
        tracing::info!(logger = %change.logger_id, "logger went offline");
        publish_status(state, change);
        if let Err(e) = state.store.open_offline(change.row, change.last_seen).await {
            tracing::warn!(error = %e, "cannot record an offline span");
        }
    }
    // Saved under the lock too: a logger that comes back meanwhile saves "online" after this
    // save, never before it (a stale "offline" last would make the next leader announce its
    // return a second time).
    if let Err(e) = state.store.save_contacts(contacts).await {
        tracing::warn!(error = %e, "cannot save logger contacts");
    }
    drop(ordered);
    true
}

/// With other servers on the database: hands on the contacts this one heard, and takes in
/// theirs; the leader announces the loggers that came back through another server.
async fn share_presence(state: &AppState, leads: bool) {
    if !leads && let Err(e) = state.store.record_last_seen(state.presence.heard()).await {
        tracing::warn!(error = %e, "cannot share logger contacts");
    }
    let rows = match state.store.presence_contacts().await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the other servers' logger contacts");
            return;
        }
    };
    let _ordered = state.transitions.lock().await;
    for change in state.presence.merge(rows, leads, now_ms()) {
        tracing::info!(logger = %change.logger_id, "logger came online (through another server)");
        if let Err(e) = state.store.close_offline(change.row, now_ms()).await {
            tracing::warn!(error = %e, "cannot record the end of an offline span");
        }
        publish_status(state, &change);
    }
}
