//! The events inbox: new events are appended to `events_inbox` and moved into `events` in bulk.
//!
//! Inserting an event into `events` also inserts it into the `(asset_id, ts)` index, at the spot
//! of its asset; with many assets reporting, every event of a commit dirties an index page of its
//! own, and the commit writes each of those pages to the WAL. Appended to the inbox, an event
//! shares its page with the others of the commit. A settle moves the inbox in chunks of
//! [`CHUNK`] events sorted by asset and time, so each index page is written about once for all
//! the events of its asset in the chunk, and the requests committed between two chunks wait for
//! one chunk at most (the once-a-second move of a full inbox used to hold them up to 180 ms).
//!
//! The rule that keeps readers right: **nothing reads `events` without settling first**. Readers
//! can only read events through `Sqlite::read_events` (the read-only connections refuse any other
//! statement that reads them), which asks the writer to settle and then reads, so they see every
//! event acknowledged before their request; writer jobs that read events call [`settle`] inline. A
//! reader may miss events that arrive between its settle and its read, like a read that began a
//! moment earlier. Cached day rollups stay right because a late event forgets the days it touches
//! when it is moved, in the same transaction that makes it visible: a rollup computed without it
//! is either deleted by that move or refused when saved (its generation is then stale).

use rusqlite::{Connection, OptionalExtension, params};

use crate::domain::AssetId;

use super::rollups::forget_days_for_late_event;
use super::{Result, Sqlite};

/// Moves every event of the inbox into `events`, in one go: for writer jobs that are about to
/// read events themselves. Returns how many events joined the history.
pub(crate) fn settle(conn: &Connection) -> Result<usize> {
    // Without a limit the one chunk is the whole inbox.
    Ok(settle_chunk(conn, None, usize::MAX)?.moved)
}

/// Events moved at most by one writer job of [`Sqlite::settle`]: the job holds up the requests
/// of its group commit, so it is bounded (about 5 µs an event: 10 ms), and a full inbox moves in
/// several jobs with other requests between them. Large enough that an asset's events still
/// share index pages in the move.
const CHUNK: usize = 2048;

/// What one [`settle_chunk`] did.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Chunk {
    pub moved: usize,
    /// The highest inbox id the caller asked to move (or found, when it asked for all).
    pub upto: i64,
    /// Events up to `upto` are still waiting.
    pub more: bool,
}

/// Moves the oldest events of the inbox (at most `limit`, none above `upto` when given) into
/// `events`, then forgets the cached days of the assets that received late events.
pub(crate) fn settle_chunk(conn: &Connection, upto: Option<i64>, limit: usize) -> Result<Chunk> {
    // Most calls find it empty (a read with nothing new): then nothing is written at all.
    let (first, last): (Option<i64>, Option<i64>) = conn
        .prepare_cached("SELECT MIN(id), MAX(id) FROM events_inbox")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let upto = upto.or(last).unwrap_or(0);
    let Some(first) = first.filter(|f| *f <= upto) else {
        return Ok(Chunk {
            moved: 0,
            upto,
            more: false,
        });
    };
    // Ids are given in arrival order, so the oldest `limit` events have ids up to this one.
    let beyond = match i64::try_from(limit) {
        Ok(offset) => conn
            .prepare_cached(
                "SELECT id FROM events_inbox WHERE id <= ?1 ORDER BY id LIMIT 1 OFFSET ?2",
            )?
            .query_row(params![upto, offset], |r| r.get::<_, i64>(0))
            .optional()?,
        Err(_) => None,
    };
    let end = beyond.map_or(upto, |next| next - 1);
    let late: Vec<(AssetId, i64)> = conn
        .prepare_cached(
            "SELECT asset_id, MIN(ts) FROM events_inbox WHERE id BETWEEN ?1 AND ?2 AND late = 1
             GROUP BY asset_id",
        )?
        .query_map(params![first, end], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let moved = conn
        .prepare_cached(
            // In index order, so consecutive inserts land on the same `(asset_id, ts)` leaf. An
            // unnumbered report already in `events` is the same event (`store_events` checks
            // before it inserts, so this is a guard that keeps a settle from failing for good).
            "INSERT INTO events (id, tenant_id, logger_row, asset_id, pin, running, ts, received_at, seq)
             SELECT id, tenant_id, logger_row, asset_id, pin, running, ts, received_at, seq
             FROM events_inbox WHERE id BETWEEN ?1 AND ?2 ORDER BY asset_id, ts
             ON CONFLICT (logger_row, pin, ts, running) WHERE seq IS NULL DO NOTHING",
        )?
        .execute(params![first, end])?;
    conn.prepare_cached("DELETE FROM events_inbox WHERE id BETWEEN ?1 AND ?2")?
        .execute(params![first, end])?;
    for (asset_id, ts) in late {
        forget_days_for_late_event(conn, asset_id, ts)?;
    }
    Ok(Chunk {
        moved,
        upto,
        more: end < upto,
    })
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

impl Sqlite {
    /// Moves the inbox, as it is now, into `events` (see the module documentation), in writer
    /// jobs of at most [`CHUNK`] events so that requests in between wait for one chunk at most.
    /// Cheap when it is empty. Events that arrive meanwhile wait for the next settle.
    pub async fn settle(&self) -> Result<usize> {
        let mut upto = None;
        let mut moved = 0;
        loop {
            let chunk = self
                .write(move |conn| settle_chunk(conn, upto, CHUNK))
                .await?;
            moved += chunk.moved;
            if !chunk.more {
                return Ok(moved);
            }
            upto = Some(chunk.upto);
        }
    }

    /// What every read of `events` calls first. If the inbox cannot be moved (a full disk, the
    /// writer closing), the read goes on without its newest events rather than failing: the
    /// history stays readable when nothing can be written. Cached days stay right either way,
    /// since a late event forgets them only when it moves.
    pub(super) async fn settle_before_read(&self) {
        // A store that started read-only cannot move anything: its reads just go on.
        if self.inner.health.refusal().is_some() {
            return;
        }
        if let Err(e) = self.settle().await {
            tracing::warn!(error = %e, "reading without the newest events: cannot move the events inbox");
        }
    }
}
