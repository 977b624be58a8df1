//! A logger's report stored: the hot path of the server, one writer job per request.
//!
//! [`store_events`] takes the request's events in named steps: [`Report::begin`] reads the
//! logger's standing and the stored seqs around the request and picks the sink (the inbox for a
//! few events, `events` for a batch: store/inbox.rs); per event, [`Report::classify`] tells a
//! new event from a retransmit, [`Report::asset`] finds or creates the asset of a new one,
//! [`Report::insert`] stores it and [`Report::apply`] moves its asset's current state when it is
//! not late; [`Report::finish`] writes each asset's state and
//! the seq runs once, forgets the cached days a late batch event made stale, and acknowledges.
//! Each asset is read once and written once per request, whatever the number of its events.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use rusqlite::{CachedStatement, Connection, OptionalExtension, params};

use super::pending::{PendingLimit, PendingLimits};
use super::seqs::{LoggerSeqs, advance_stored_ack};
use super::{DeviceAuth, Result, Sqlite, StoreError, inbox, now_ms};
use crate::domain::{AssetId, LoggerRow, TenantId};

/// One reported change, validated.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub pin: u8,
    pub running: bool,
    pub ts: i64,
    pub seq: Option<i64>,
    /// Names the asset if it is created by this event.
    pub asset_name: Option<String>,
}

/// A stored event that changed its asset's current state: what the live board is told.
#[derive(Debug, Clone)]
pub struct StoredChange {
    pub asset_id: AssetId,
    pub asset_name: String,
    pub pin: u8,
    pub running: bool,
    pub ts: i64,
    /// How long the previous state lasted; None for an asset's first state.
    pub duration_ms: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct IngestOutcome {
    /// The tenant the events belong to now (None: pending logger).
    pub tenant_id: Option<TenantId>,
    pub stored: usize,
    pub duplicates: usize,
    /// Row id and asset of the first event of the request (stored now or before).
    pub first: Option<(i64, AssetId)>,
    /// The time of the earliest event stored now (not of a retransmit).
    pub earliest: Option<i64>,
    pub changes: Vec<StoredChange>,
    pub acked_seq: i64,
}

pub(super) struct AssetNow {
    id: AssetId,
    name: String,
    running: Option<bool>,
    since: Option<i64>,
    last_ts: Option<i64>,
}

impl AssetNow {
    /// Whether an event at `ts` is older than the asset's newest: only an event at or after it
    /// moves the current state; a late backfill is history, not news, and makes the asset's
    /// cached days from there on stale.
    fn is_late(&self, ts: i64) -> bool {
        self.last_ts.is_some_and(|last| ts < last)
    }
}

/// The asset on a logger's pin, made if it is new; `max_assets` caps the assets of a pending
/// logger (None for a claimed one).
pub(super) fn ensure_asset(
    conn: &Connection,
    logger_row: LoggerRow,
    tenant_id: Option<TenantId>,
    logger_name: &str,
    pin: u8,
    name: Option<&str>,
    max_assets: Option<i64>,
) -> Result<AssetNow> {
    let found = conn
        .prepare_cached("SELECT id, name, running, since, last_ts FROM assets WHERE logger_row = ?1 AND pin = ?2")?
        .query_row(params![logger_row, pin], |r| {
            Ok(AssetNow { id: r.get(0)?, name: r.get(1)?, running: r.get(2)?, since: r.get(3)?, last_ts: r.get(4)? })
        })
        .optional()?;
    if let Some(asset) = found {
        return Ok(asset);
    }
    if let Some(max) = max_assets
        && super::pending::count_assets(conn, logger_row)? >= max
    {
        return Err(StoreError::PendingFull {
            what: PendingLimit::Assets,
            limit: max,
        });
    }
    let name = name
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{logger_name} pin {pin}"));
    conn.prepare_cached(
        "INSERT INTO assets (logger_row, tenant_id, pin, name) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![logger_row, tenant_id, pin, name])?;
    Ok(AssetNow {
        id: AssetId(conn.last_insert_rowid()),
        name,
        running: None,
        since: None,
        last_ts: None,
    })
}

/// Requests of at most this many events go through the inbox (store/inbox.rs).
const INBOX_MAX_EVENTS: usize = 8;

/// Where a request's new events are inserted.
enum Sink {
    /// The inbox, with the id the next event gets.
    Inbox { next_id: i64 },
    /// Straight into `events`, with ids from SQLite.
    Events,
}

/// What [`Report::classify`] found an event to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    New,
    /// Stored before (a retransmit): answered as a duplicate.
    Repeat,
}

/// One request's events on their way in (see the module documentation).
struct Report<'c> {
    conn: &'c Connection,
    device: &'c DeviceAuth,
    received_at: i64,
    sink: Sink,
    insert: CachedStatement<'c>,
    /// The stored seqs around the request's numbered events.
    seqs: Option<LoggerSeqs>,
    /// Each asset of the request, and whether its current state moved.
    assets: HashMap<u8, (AssetNow, bool)>,
    /// The earliest late event of each asset that went straight into `events`: its cached days
    /// from there on are stale (the inbox keeps that in its `late` column instead).
    late_events: HashMap<AssetId, i64>,
    /// The caps of a pending logger; None for a claimed one.
    pending: Option<PendingLimits>,
    out: IngestOutcome,
}

#[cfg(test)]
fn store_events(
    conn: &Connection,
    device: &DeviceAuth,
    events: &[NewEvent],
    received_at: i64,
    acknowledge: bool,
) -> Result<IngestOutcome> {
    store_events_within(
        conn,
        device,
        events,
        received_at,
        acknowledge,
        PendingLimits::DEFAULT,
    )
}

fn store_events_within(
    conn: &Connection,
    device: &DeviceAuth,
    events: &[NewEvent],
    received_at: i64,
    acknowledge: bool,
    caps: PendingLimits,
) -> Result<IngestOutcome> {
    let mut report = Report::begin(conn, device, events, received_at, caps)?;
    for e in events {
        // A retransmit creates nothing, not even the asset of a pin it names wrongly.
        let stored = match report.classify(e)? {
            Seen::New => {
                let asset = report.asset(e)?;
                report.insert(asset, e)?
            }
            Seen::Repeat => None,
        };
        match stored {
            Some(id) => report.apply(id, e)?,
            None => report.repeat(e)?,
        }
    }
    report.finish(acknowledge)
}

impl<'c> Report<'c> {
    fn begin(
        conn: &'c Connection,
        device: &'c DeviceAuth,
        events: &[NewEvent],
        received_at: i64,
        caps: PendingLimits,
    ) -> Result<Self> {
        // The logger may have been claimed or deleted since its credentials were cached.
        let (tenant_id, acked, pending_events): (Option<TenantId>, i64, i64) = conn
            .prepare_cached(
                "SELECT tenant_id, acked_seq, pending_events FROM loggers
                 WHERE id = ?1 AND deleted_at IS NULL",
            )?
            .query_row([device.row], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?
            .ok_or(StoreError::NotFound)?;
        // A pending logger's report must fit whole (retransmits counted too: it may not be
        // told which of its events are stored already); a claimed one pays nothing here.
        let pending = tenant_id.is_none().then_some(caps);
        if pending.is_some() && pending_events.saturating_add(events.len() as i64) > caps.events {
            return Err(StoreError::PendingFull {
                what: PendingLimit::Events,
                limit: caps.events,
            });
        }
        let seqs = LoggerSeqs::around(conn, device.row, events.iter().filter_map(|e| e.seq))?;
        // A report of a few events goes to the inbox, which moves it into `events` later together
        // with others; a batch goes straight into `events`, where its events of one asset share
        // index pages anyway (store/inbox.rs).
        let sink = if events.len() <= INBOX_MAX_EVENTS {
            Sink::Inbox {
                next_id: inbox::next_event_id(conn)?,
            }
        } else {
            // Empty the inbox first: its events have ids above those in `events`, which the ids
            // SQLite gives the batch's events must not collide with.
            inbox::settle(conn)?;
            Sink::Events
        };
        let insert = conn.prepare_cached(match sink {
            Sink::Inbox { .. } => {
                "INSERT INTO events_inbox (id, tenant_id, logger_row, asset_id, pin, running, ts, received_at, seq, late)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT DO NOTHING"
            }
            Sink::Events => {
                "INSERT INTO events (id, tenant_id, logger_row, asset_id, pin, running, ts, received_at, seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING"
            }
        })?;
        Ok(Self {
            conn,
            device,
            received_at,
            sink,
            insert,
            seqs,
            assets: HashMap::new(),
            late_events: HashMap::new(),
            pending,
            out: IngestOutcome {
                tenant_id,
                acked_seq: acked,
                ..Default::default()
            },
        })
    }

    /// The id of the asset `e` reports on, read (or created) at its first event.
    fn asset(&mut self, e: &NewEvent) -> Result<AssetId> {
        Ok(match self.assets.entry(e.pin) {
            Entry::Occupied(entry) => entry.get().0.id,
            Entry::Vacant(entry) => {
                let asset = ensure_asset(
                    self.conn,
                    self.device.row,
                    self.out.tenant_id,
                    &self.device.name,
                    e.pin,
                    e.asset_name.as_deref(),
                    self.pending.map(|caps| caps.assets),
                )?;
                entry.insert((asset, false)).0.id
            }
        })
    }

    /// New or a retransmit: numbered events by the logger's seq runs, unnumbered ones by their
    /// key (the inbox's unique index catches a repeat while both copies wait there; `events`'
    /// own catches it at the insert).
    fn classify(&mut self, e: &NewEvent) -> Result<Seen> {
        let repeat = match (e.seq, self.seqs.as_mut(), &self.sink) {
            (Some(seq), Some(seqs), _) => !seqs.insert(seq),
            (Some(_), None, _) | (None, _, Sink::Events) => false,
            (None, _, Sink::Inbox { .. }) => {
                stored_unnumbered(self.conn, self.device.row, e)?.is_some()
            }
        };
        Ok(if repeat { Seen::Repeat } else { Seen::New })
    }

    /// Inserts a new event into the sink; its id, or None when the sink already held it.
    fn insert(&mut self, asset_id: AssetId, e: &NewEvent) -> Result<Option<i64>> {
        let asset = &self.assets[&e.pin].0;
        let late = asset.is_late(e.ts);
        let id = match self.sink {
            Sink::Inbox { next_id } => Some(next_id),
            Sink::Events => None,
        };
        let values = params![
            id,
            self.out.tenant_id,
            self.device.row,
            asset_id,
            e.pin,
            e.running,
            e.ts,
            self.received_at,
            e.seq,
            late
        ];
        // `events` takes the first nine: no `late`, and a NULL id, which SQLite fills in.
        let columns = self.insert.parameter_count();
        if self.insert.execute(&values[..columns])? != 1 {
            return Ok(None);
        }
        Ok(Some(match &mut self.sink {
            Sink::Inbox { next_id } => {
                *next_id += 1;
                *next_id - 1
            }
            Sink::Events => self.conn.last_insert_rowid(),
        }))
    }

    /// Counts a stored event and moves its asset's current state (unless it is late).
    fn apply(&mut self, id: i64, e: &NewEvent) -> Result<()> {
        let (asset, moved) = self.assets.get_mut(&e.pin).expect("read by `asset`");
        self.out.stored += 1;
        self.out.first.get_or_insert((id, asset.id));
        self.out.earliest = Some(self.out.earliest.map_or(e.ts, |t| t.min(e.ts)));
        if asset.is_late(e.ts) {
            if matches!(self.sink, Sink::Events) {
                self.late_events
                    .entry(asset.id)
                    .and_modify(|t| *t = (*t).min(e.ts))
                    .or_insert(e.ts);
            }
            return Ok(());
        }
        if asset.running != Some(e.running) {
            self.out.changes.push(StoredChange {
                asset_id: asset.id,
                asset_name: asset.name.clone(),
                pin: e.pin,
                running: e.running,
                ts: e.ts,
                duration_ms: asset.since.map(|s| e.ts - s),
            });
            asset.running = Some(e.running);
            asset.since = Some(e.ts);
        }
        asset.last_ts = Some(e.ts);
        *moved = true;
        Ok(())
    }

    /// Counts a retransmit; the request's first event names the stored one.
    fn repeat(&mut self, e: &NewEvent) -> Result<()> {
        self.out.duplicates += 1;
        if self.out.first.is_none() {
            // Without an asset on that pin, no stored event is there to name.
            let asset_id = match self.assets.get(&e.pin) {
                Some((asset, _)) => Some(asset.id),
                None => self
                    .conn
                    .prepare_cached("SELECT id FROM assets WHERE logger_row = ?1 AND pin = ?2")?
                    .query_row(params![self.device.row, e.pin], |r| r.get(0))
                    .optional()?,
            };
            if let Some(asset_id) = asset_id {
                self.out.first = existing_event(self.conn, self.device.row, asset_id, e)?;
            }
        }
        Ok(())
    }

    /// Writes what changed once per request, and acknowledges when asked.
    fn finish(self, acknowledge: bool) -> Result<IngestOutcome> {
        let Self {
            conn,
            device,
            insert,
            seqs,
            assets,
            late_events,
            pending,
            mut out,
            ..
        } = self;
        drop(insert);
        if pending.is_some() && out.stored > 0 {
            super::pending::add_events(conn, device.row, out.stored)?;
        }
        for (asset_id, ts) in late_events {
            super::rollups::forget_days_for_late_event(conn, asset_id, ts)?;
        }
        for (asset, _) in assets.values().filter(|(_, moved)| *moved) {
            conn.prepare_cached(
                "UPDATE assets SET running = ?1, since = ?2, last_ts = ?3 WHERE id = ?4",
            )?
            .execute(params![asset.running, asset.since, asset.last_ts, asset.id])?;
        }
        if let Some(seqs) = &seqs {
            seqs.save(conn)?;
        }
        if acknowledge {
            out.acked_seq = advance_stored_ack(conn, device.row, out.acked_seq)?;
        }
        Ok(out)
    }
}

/// How many of an asset's latest events are searched for a retransmit whose time differs.
const RECENT_EVENTS: i64 = 1000;

/// The id and asset of the stored event that `e` repeats, when it can be found cheaply: a numbered
/// event with the same pin and time, or with the same pin among the asset's latest
/// [`RECENT_EVENTS`] (a retransmit without its own timestamp); an unnumbered one by its key.
fn existing_event(
    conn: &Connection,
    logger_row: LoggerRow,
    asset_id: AssetId,
    e: &NewEvent,
) -> Result<Option<(i64, AssetId)>> {
    // The stored event may still be in the inbox; it has to move some time, so move it now.
    inbox::settle(conn)?;
    let id = match e.seq {
        Some(seq) => {
            let same_time = conn
                .prepare_cached(
                    "SELECT id FROM events WHERE asset_id = ?1 AND ts = ?2 AND seq = ?3",
                )?
                .query_row(params![asset_id, e.ts, seq], |r| r.get(0))
                .optional()?;
            match same_time {
                Some(id) => Some(id),
                None => conn
                    .prepare_cached(
                        "SELECT id FROM (SELECT id, seq FROM events WHERE asset_id = ?1
                                         ORDER BY ts DESC LIMIT ?2)
                         WHERE seq = ?3",
                    )?
                    .query_row(params![asset_id, RECENT_EVENTS, seq], |r| r.get(0))
                    .optional()?,
            }
        }
        None => stored_unnumbered(conn, logger_row, e)?,
    };
    Ok(id.map(|id| (id, asset_id)))
}

/// The id of the unnumbered report in `events` with the same logger, pin, time and state as `e`
/// (the inbox's own unique index catches a repeat while both copies wait there).
fn stored_unnumbered(
    conn: &Connection,
    logger_row: LoggerRow,
    e: &NewEvent,
) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached(
            "SELECT id FROM events WHERE logger_row = ?1 AND pin = ?2 AND ts = ?3 AND running = ?4 AND seq IS NULL",
        )?
        .query_row(params![logger_row, e.pin, e.ts, e.running], |r| r.get(0))
        .optional()?)
}

impl Sqlite {
    /// Stores a logger's events, all or nothing, each once; answers after they are durable.
    /// With `acknowledge`, also advances and returns the logger's acknowledgement watermark
    /// (the batched protocol needs it; single reports do not pay for it).
    pub async fn ingest(
        &self,
        device: Arc<DeviceAuth>,
        events: Vec<NewEvent>,
        acknowledge: bool,
    ) -> Result<IngestOutcome> {
        let received_at = now_ms();
        let caps = self.pending_limits();
        self.write(move |conn| {
            store_events_within(conn, &device, &events, received_at, acknowledge, caps)
        })
        .await
    }
}

#[cfg(test)]
mod tests;
