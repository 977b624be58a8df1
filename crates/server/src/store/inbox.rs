//! The events inbox: new events are appended to `events_inbox` and moved into `events` in bulk.
//!
//! Inserting an event into `events` also inserts it into the `(asset_id, ts)` index, at the spot
//! of its asset; with many assets reporting, every event of a commit dirties an index page of its
//! own, and the commit writes each of those pages to the WAL. Appended to the inbox, an event
//! shares its page with the others of the commit. [`settle`] moves everything in the inbox at
//! once, so each index page is written once for all the events of its asset since the last move.
//!
//! The rule that keeps readers right: **nothing reads `events` without settling first**. Readers
//! can only read events through `Store::read_events` (the read-only connections refuse any other
//! statement that reads them), which asks the writer to settle and then reads, so they see every
//! event acknowledged before their request; writer jobs that read events call [`settle`] inline. A
//! reader may miss events that arrive between its settle and its read, like a read that began a
//! moment earlier. Cached day rollups stay right because a late event forgets the days it touches
//! when it is moved, in the same transaction that makes it visible: a rollup computed without it
//! is either deleted by that move or refused when saved (its generation is then stale).

use rusqlite::Connection;

use super::rollups::forget_days_for_late_event;
use super::{Result, Store};

/// Moves every event of the inbox into `events`, then forgets the cached days of the assets
/// that received late events. Returns how many events joined the history.
pub(crate) fn settle(conn: &Connection) -> Result<usize> {
    // Most calls find it empty (a read with nothing new): then nothing is written at all.
    let waiting: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM events_inbox)")?
        .query_row([], |r| r.get(0))?;
    if !waiting {
        return Ok(0);
    }
    let late: Vec<(i64, i64)> = conn
        .prepare_cached(
            "SELECT asset_id, MIN(ts) FROM events_inbox WHERE late = 1 GROUP BY asset_id",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let moved = conn
        .prepare_cached(
            // In index order, so consecutive inserts land on the same `(asset_id, ts)` leaf. An
            // unnumbered report already in `events` is the same event (`store_events` checks
            // before it inserts, so this is a guard that keeps a settle from failing for good).
            "INSERT INTO events (id, tenant_id, logger_row, asset_id, pin, running, ts, received_at, seq)
             SELECT id, tenant_id, logger_row, asset_id, pin, running, ts, received_at, seq
             FROM events_inbox WHERE true ORDER BY asset_id, ts
             ON CONFLICT (logger_row, pin, ts, running) WHERE seq IS NULL DO NOTHING",
        )?
        .execute([])?;
    conn.prepare_cached("DELETE FROM events_inbox")?
        .execute([])?;
    for (asset_id, ts) in late {
        forget_days_for_late_event(conn, asset_id, ts)?;
    }
    Ok(moved)
}

/// The id the next event gets: above every id in `events` and in the inbox, so an event keeps
/// its id when it moves.
pub(crate) fn next_event_id(conn: &Connection) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT MAX(COALESCE((SELECT MAX(id) FROM events), 0),
                        COALESCE((SELECT MAX(id) FROM events_inbox), 0)) + 1",
        )?
        .query_row([], |r| r.get(0))?)
}

impl Store {
    /// Moves the inbox into `events` (see the module documentation). Cheap when it is empty.
    pub async fn settle(&self) -> Result<usize> {
        self.write(settle).await
    }

    /// What every read of `events` calls first. If the inbox cannot be moved (a full disk, the
    /// writer closing), the read goes on without its newest events rather than failing: the
    /// history stays readable when nothing can be written. Cached days stay right either way,
    /// since a late event forgets them only when it moves.
    pub(super) async fn settle_before_read(&self) {
        if let Err(e) = self.settle().await {
            tracing::warn!(error = %e, "reading without the newest events: cannot move the events inbox");
        }
    }
}
