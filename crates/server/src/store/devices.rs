//! What loggers do: register, send heartbeats, report state changes.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use assetlog_core::seq::SeqRuns;
use rusqlite::{Connection, OptionalExtension, params};

use super::{Result, Store, StoreError, inbox, now_ms};
use crate::secrets::hash_secret;

/// A logger's credentials, as every device request checks them.
#[derive(Debug, Clone)]
pub struct DeviceAuth {
    /// The logger's row id (the `id` of the API).
    pub row: i64,
    pub logger_id: String,
    pub name: String,
    /// None while the logger is pending.
    pub tenant_id: Option<i64>,
    pub allow_keyless: bool,
    key_hash: String,
}

impl DeviceAuth {
    /// Credentials with a throwaway key, for unit tests of code that only routes by logger.
    #[cfg(test)]
    pub fn for_tests(row: i64, logger_id: &str, tenant_id: Option<i64>) -> Self {
        Self {
            row,
            logger_id: logger_id.into(),
            name: logger_id.into(),
            tenant_id,
            allow_keyless: false,
            key_hash: String::new(),
        }
    }

    /// A request is the logger's when it carries the logger's key, or carries none and an admin
    /// allowed keyless posts for this claimed logger.
    pub fn accepts(&self, key: Option<&str>) -> bool {
        match key {
            Some(key) => hash_secret(key) == self.key_hash,
            None => self.allow_keyless && self.tenant_id.is_some(),
        }
    }
}

fn device_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeviceAuth> {
    Ok(DeviceAuth {
        row: r.get("id")?,
        logger_id: r.get("logger_id")?,
        name: r.get("name")?,
        tenant_id: r.get("tenant_id")?,
        allow_keyless: r.get("allow_keyless")?,
        key_hash: r.get("key_hash")?,
    })
}

pub(super) fn load_device(
    conn: &Connection,
    logger_id: &str,
) -> rusqlite::Result<Option<DeviceAuth>> {
    conn.prepare_cached(
        "SELECT id, logger_id, name, tenant_id, allow_keyless, key_hash FROM loggers
         WHERE logger_id = ?1 AND deleted_at IS NULL",
    )?
    .query_row([logger_id], device_from_row)
    .optional()
}

/// A `POST /api/device/register`, parsed.
#[derive(Debug, Clone)]
pub struct Registration {
    pub logger_id: String,
    pub logger_name: Option<String>,
    pub firmware_version: Option<String>,
    pub ip_address: Option<String>,
    pub assets: Vec<(u8, String)>,
    /// The key the request carried, if any.
    pub key: Option<String>,
    /// Used only when the logger is new: its key (shown once) and claim code.
    pub new_key: String,
    pub new_claim_code: String,
    /// Claim a new logger at once into the first tenant (`--enrollment auto`).
    pub auto_claim: bool,
}

#[derive(Debug, Clone)]
pub enum RegistrationOutcome {
    /// First registration of this hardware id: the key is in `Registration::new_key`.
    Created {
        device: DeviceAuth,
        claim_code: String,
    },
    Known {
        device: DeviceAuth,
        claim_code: String,
    },
    /// A known logger without its key.
    Rejected,
}

/// A heartbeat's telemetry.
#[derive(Debug, Clone, Default)]
pub struct Heartbeat {
    pub uptime_s: Option<i64>,
    pub rssi: Option<i64>,
    pub free_heap: Option<i64>,
    pub queued_events: Option<i64>,
    /// Events the logger's full queue dropped, since it was first set up.
    pub dropped_events: Option<i64>,
    pub firmware_version: Option<String>,
}

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
    pub asset_id: i64,
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
    pub tenant_id: Option<i64>,
    pub stored: usize,
    pub duplicates: usize,
    /// Row id and asset of the first event of the request (stored now or before).
    pub first: Option<(i64, i64)>,
    pub changes: Vec<StoredChange>,
    pub acked_seq: i64,
}

struct AssetNow {
    id: i64,
    name: String,
    running: Option<bool>,
    since: Option<i64>,
    last_ts: Option<i64>,
}

fn ensure_asset(
    conn: &Connection,
    logger_row: i64,
    tenant_id: Option<i64>,
    logger_name: &str,
    pin: u8,
    name: Option<&str>,
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
    let name = name
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{logger_name} pin {pin}"));
    conn.prepare_cached(
        "INSERT INTO assets (logger_row, tenant_id, pin, name) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![logger_row, tenant_id, pin, name])?;
    Ok(AssetNow {
        id: conn.last_insert_rowid(),
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

fn store_events(
    conn: &Connection,
    device: &DeviceAuth,
    events: &[NewEvent],
    received_at: i64,
    acknowledge: bool,
) -> Result<IngestOutcome> {
    // The logger may have been claimed or deleted since its credentials were cached.
    let (tenant_id, acked): (Option<i64>, i64) = conn
        .prepare_cached(
            "SELECT tenant_id, acked_seq FROM loggers WHERE id = ?1 AND deleted_at IS NULL",
        )?
        .query_row([device.row], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .ok_or(StoreError::NotFound)?;
    let mut out = IngestOutcome {
        tenant_id,
        acked_seq: acked,
        ..Default::default()
    };
    // Each asset of the request is read once and written once, whatever the number of events.
    let mut assets: HashMap<u8, (AssetNow, bool)> = HashMap::new();
    // The stored seqs around this request's, to tell new events from retransmits.
    let numbered = events.iter().filter_map(|e| e.seq);
    let mut seqs = match (numbered.clone().min(), numbered.max()) {
        (Some(lo), Some(hi)) => Some(LoggerSeqs::read(conn, device.row, lo, hi)?),
        _ => None,
    };
    // A report of a few events goes to the inbox, which moves it into `events` later together
    // with others; a batch goes straight into `events`, where its events of one asset share
    // index pages anyway (store/inbox.rs). Numbered events are told apart by `seqs`,
    // unnumbered ones by their key.
    let mut sink = if events.len() <= INBOX_MAX_EVENTS {
        Sink::Inbox {
            next_id: inbox::next_event_id(conn)?,
        }
    } else {
        // Empty the inbox first: its events have ids above those in `events`, which the ids
        // SQLite gives the batch's events must not collide with.
        inbox::settle(conn)?;
        Sink::Events
    };
    let mut insert = conn.prepare_cached(match sink {
        Sink::Inbox { .. } => {
            "INSERT INTO events_inbox (id, tenant_id, logger_row, asset_id, pin, running, ts, received_at, seq, late)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT DO NOTHING"
        }
        Sink::Events => {
            "INSERT INTO events (id, tenant_id, logger_row, asset_id, pin, running, ts, received_at, seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING"
        }
    })?;
    let columns = insert.parameter_count();
    // The earliest late event of each asset that went straight into `events`: its cached days
    // from there on are stale (the inbox keeps that in its `late` column instead).
    let mut late_events: HashMap<i64, i64> = HashMap::new();
    for e in events {
        let (asset, moved) = match assets.entry(e.pin) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                let asset = ensure_asset(
                    conn,
                    device.row,
                    tenant_id,
                    &device.name,
                    e.pin,
                    e.asset_name.as_deref(),
                )?;
                entry.insert((asset, false))
            }
        };
        let repeat = match (e.seq, seqs.as_mut(), &sink) {
            (Some(seq), Some(seqs), _) => !seqs.runs.insert(seq as u64),
            (Some(_), None, _) | (None, _, Sink::Events) => false,
            // The inbox's unique index only sees the inbox.
            (None, _, Sink::Inbox { .. }) => stored_unnumbered(conn, device.row, e)?.is_some(),
        };
        // Only an event at or after the latest one moves the current state; a late backfill
        // is history, not news, and makes the asset's cached days from there on stale.
        let late = asset.last_ts.is_some_and(|last| e.ts < last);
        let id = match sink {
            Sink::Inbox { next_id } => Some(next_id),
            Sink::Events => None,
        };
        let values = params![
            id,
            tenant_id,
            device.row,
            asset.id,
            e.pin,
            e.running,
            e.ts,
            received_at,
            e.seq,
            late
        ];
        // `events` takes the first nine: no `late`, and a NULL id, which SQLite fills in.
        let inserted = !repeat && insert.execute(&values[..columns])? == 1;
        if !inserted {
            out.duplicates += 1;
            if out.first.is_none() {
                out.first = existing_event(conn, device.row, asset.id, e)?;
            }
            continue;
        }
        out.stored += 1;
        let id = match &mut sink {
            Sink::Inbox { next_id } => {
                *next_id += 1;
                *next_id - 1
            }
            Sink::Events => conn.last_insert_rowid(),
        };
        out.first.get_or_insert((id, asset.id));
        if late {
            if matches!(sink, Sink::Events) {
                late_events
                    .entry(asset.id)
                    .and_modify(|t| *t = (*t).min(e.ts))
                    .or_insert(e.ts);
            }
            continue;
        }
        if asset.running != Some(e.running) {
            out.changes.push(StoredChange {
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
    }
    drop(insert);
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
        out.acked_seq = advance_stored_ack(conn, device.row, acked)?;
    }
    Ok(out)
}

/// One logger's stored seqs around a request's: the runs of `seq_runs` that hold or touch any
/// seq of the request, read once, updated in memory per event, and written back once.
struct LoggerSeqs {
    logger_row: i64,
    read: Vec<(u64, u64)>,
    runs: SeqRuns,
}

impl LoggerSeqs {
    fn read(conn: &Connection, logger_row: i64, lo: i64, hi: i64) -> Result<Self> {
        let mut stmt = conn.prepare_cached(
            "SELECT first, last FROM seq_runs WHERE logger_row = ?1 AND first <= ?2
             ORDER BY first DESC",
        )?;
        let mut rows = stmt.query(params![logger_row, hi.saturating_add(1)])?;
        let mut read = Vec::new();
        // Runs are disjoint, so going down by `first` also goes down by `last`.
        while let Some(row) = rows.next()? {
            let (first, last): (i64, i64) = (row.get(0)?, row.get(1)?);
            if last.saturating_add(1) < lo {
                break;
            }
            read.push((first as u64, last as u64));
        }
        read.reverse();
        let runs = SeqRuns::from_runs(read.iter().copied());
        Ok(Self {
            logger_row,
            read,
            runs,
        })
    }

    /// Writes back the runs that changed: a run that grew at its end (the usual case: the next
    /// seq) is updated in place; runs that no longer start where they did are deleted.
    fn save(&self, conn: &Connection) -> Result<()> {
        let now = self.runs.runs();
        let starts_now = |first: u64| now.binary_search_by_key(&first, |r| r.0).is_ok();
        for &(first, _) in self.read.iter().filter(|r| !starts_now(r.0)) {
            conn.prepare_cached("DELETE FROM seq_runs WHERE logger_row = ?1 AND first = ?2")?
                .execute(params![self.logger_row, first as i64])?;
        }
        for &(first, last) in now.iter().filter(|r| self.read.binary_search(r).is_err()) {
            conn.prepare_cached(
                "INSERT INTO seq_runs (logger_row, first, last) VALUES (?1, ?2, ?3)
                 ON CONFLICT (logger_row, first) DO UPDATE SET last = excluded.last",
            )?
            .execute(params![self.logger_row, first as i64, last as i64])?;
        }
        Ok(())
    }
}

/// How many of an asset's latest events are searched for a retransmit whose time differs.
const RECENT_EVENTS: i64 = 1000;

/// The id and asset of the stored event that `e` repeats, when it can be found cheaply: a numbered
/// event with the same pin and time, or with the same pin among the asset's latest
/// [`RECENT_EVENTS`] (a retransmit without its own timestamp); an unnumbered one by its key.
fn existing_event(
    conn: &Connection,
    logger_row: i64,
    asset_id: i64,
    e: &NewEvent,
) -> Result<Option<(i64, i64)>> {
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
fn stored_unnumbered(conn: &Connection, logger_row: i64, e: &NewEvent) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached(
            "SELECT id FROM events WHERE logger_row = ?1 AND pin = ?2 AND ts = ?3 AND running = ?4 AND seq IS NULL",
        )?
        .query_row(params![logger_row, e.pin, e.ts, e.running], |r| r.get(0))
        .optional()?)
}

/// Moves the logger's acknowledgement watermark from its stored value `saved` over the run of
/// stored seqs that starts right after it, and saves it if it moved.
fn advance_stored_ack(conn: &Connection, logger_row: i64, saved: i64) -> Result<i64> {
    let run: Option<(i64, i64)> = conn
        .prepare_cached(
            "SELECT first, last FROM seq_runs WHERE logger_row = ?1 AND first <= ?2
             ORDER BY first DESC LIMIT 1",
        )?
        .query_row(params![logger_row, saved.saturating_add(1)], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    let runs = SeqRuns::from_runs(run.map(|(f, l)| (f as u64, l as u64)));
    let acked = runs.advance(saved.max(0) as u64) as i64;
    if acked != saved {
        conn.prepare_cached("UPDATE loggers SET acked_seq = ?1 WHERE id = ?2")?
            .execute(params![acked, logger_row])?;
    }
    Ok(acked)
}

impl Store {
    /// The credentials of a live logger, from memory when known.
    pub async fn device(&self, logger_id: &str) -> Result<Option<Arc<DeviceAuth>>> {
        let epoch = {
            let cache = self.inner.devices.read().expect("device cache");
            if let Some(d) = cache.map.get(logger_id) {
                return Ok(Some(d.clone()));
            }
            cache.epoch
        };
        let id = logger_id.to_owned();
        let loaded = self.read(move |conn| Ok(load_device(conn, &id)?)).await?;
        let Some(device) = loaded.map(Arc::new) else {
            return Ok(None);
        };
        let mut cache = self.inner.devices.write().expect("device cache");
        // Cache only if no credential changed while we read: else our copy may be stale.
        if cache.epoch == epoch {
            cache.map.insert(logger_id.to_owned(), device.clone());
        }
        Ok(Some(device))
    }

    /// Forgets cached credentials after a change (called on the writer thread after commit).
    pub(super) fn forget_device(&self, logger_id: &str) {
        let mut cache = self.inner.devices.write().expect("device cache");
        cache.epoch += 1;
        cache.map.remove(logger_id);
    }

    pub async fn register(&self, reg: Registration) -> Result<RegistrationOutcome> {
        let store = self.clone();
        let logger_id = reg.logger_id.clone();
        self.write_then(
            move |conn| register(conn, reg),
            move |_| store.forget_device(&logger_id),
        )
        .await
    }

    pub async fn heartbeat(&self, logger_row: i64, hb: Heartbeat) -> Result<()> {
        self.write(move |conn| {
            conn.prepare_cached(
                "UPDATE loggers SET uptime_s = COALESCE(?1, uptime_s), rssi = COALESCE(?2, rssi),
                 free_heap = COALESCE(?3, free_heap), queued_events = COALESCE(?4, queued_events),
                 firmware_version = COALESCE(?5, firmware_version),
                 dropped_events = COALESCE(?6, dropped_events) WHERE id = ?7",
            )?
            .execute(params![
                hb.uptime_s,
                hb.rssi,
                hb.free_heap,
                hb.queued_events,
                hb.firmware_version,
                hb.dropped_events,
                logger_row
            ])?;
            Ok(())
        })
        .await
    }

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
        self.write(move |conn| store_events(conn, &device, &events, received_at, acknowledge))
            .await
    }
}

fn register(conn: &Connection, reg: Registration) -> Result<RegistrationOutcome> {
    let now = now_ms();
    if let Some(device) = load_device(conn, &reg.logger_id)? {
        if !device.accepts(reg.key.as_deref()) {
            return Ok(RegistrationOutcome::Rejected);
        }
        conn.execute(
            "UPDATE loggers SET firmware_version = COALESCE(?1, firmware_version),
             ip_address = COALESCE(?2, ip_address) WHERE id = ?3",
            params![reg.firmware_version, reg.ip_address, device.row],
        )?;
        for (pin, name) in &reg.assets {
            ensure_asset(
                conn,
                device.row,
                device.tenant_id,
                &device.name,
                *pin,
                Some(name),
            )?;
        }
        let claim_code: String = conn.query_row(
            "SELECT claim_code FROM loggers WHERE id = ?1",
            [device.row],
            |r| r.get(0),
        )?;
        return Ok(RegistrationOutcome::Known { device, claim_code });
    }
    let tenant_id: Option<i64> = if reg.auto_claim {
        conn.query_row("SELECT MIN(id) FROM tenants", [], |r| r.get(0))?
    } else {
        None
    };
    let name = reg
        .logger_name
        .clone()
        .unwrap_or_else(|| reg.logger_id.clone());
    conn.execute(
        "INSERT INTO loggers (logger_id, tenant_id, name, key_hash, claim_code, firmware_version, ip_address, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            reg.logger_id,
            tenant_id,
            name,
            hash_secret(&reg.new_key),
            reg.new_claim_code,
            reg.firmware_version,
            reg.ip_address,
            now
        ],
    )?;
    let device = load_device(conn, &reg.logger_id)?.ok_or(StoreError::NotFound)?;
    for (pin, asset_name) in &reg.assets {
        ensure_asset(conn, device.row, tenant_id, &name, *pin, Some(asset_name))?;
    }
    Ok(RegistrationOutcome::Created {
        device,
        claim_code: reg.new_claim_code,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A migrated database with one tenant and one claimed logger (row 1).
    fn database() -> (tempfile::TempDir, Connection, DeviceAuth) {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("t.db")).unwrap();
        super::super::migrate(&mut conn).unwrap();
        conn.execute_batch(
            "INSERT INTO tenants (id, name, created_at) VALUES (1, 't', 0);
             INSERT INTO loggers (id, logger_id, tenant_id, name, key_hash, claim_code, created_at)
             VALUES (1, 'esp', 1, 'esp', 'h', 'c', 0);",
        )
        .unwrap();
        (dir, conn, DeviceAuth::for_tests(1, "esp", Some(1)))
    }

    fn event(seq: i64, ts: i64) -> NewEvent {
        NewEvent {
            pin: 0,
            running: seq % 2 == 1,
            ts,
            seq: Some(seq),
            asset_name: None,
        }
    }

    fn ids(conn: &Connection, table: &str) -> Vec<i64> {
        conn.prepare(&format!("SELECT id FROM {table} ORDER BY id"))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn single_reports_wait_in_the_inbox_and_keep_their_ids_when_they_move() {
        let (_dir, conn, device) = database();
        let t = 1_700_000_000_000;
        for seq in 1..=2 {
            let out = store_events(&conn, &device, &[event(seq, t + seq)], t, false).unwrap();
            assert_eq!(out.first.map(|f| f.0), Some(seq));
        }
        assert_eq!(ids(&conn, "events_inbox"), [1, 2]);
        assert!(ids(&conn, "events").is_empty());

        // A batch empties the inbox first, then goes straight into the history.
        let batch: Vec<NewEvent> = (3..=12).map(|seq| event(seq, t + seq)).collect();
        let out = store_events(&conn, &device, &batch, t, true).unwrap();
        assert_eq!((out.stored, out.acked_seq), (10, 12));
        assert!(ids(&conn, "events_inbox").is_empty());
        assert_eq!(ids(&conn, "events"), (1..=12).collect::<Vec<_>>());

        store_events(&conn, &device, &[event(13, t + 13)], t, false).unwrap();
        assert_eq!(ids(&conn, "events_inbox"), [13]);
        assert_eq!(inbox::settle(&conn).unwrap(), 1);
        assert_eq!(ids(&conn, "events"), (1..=13).collect::<Vec<_>>());

        // A retransmit of an event still in the inbox is found, once it has moved.
        store_events(&conn, &device, &[event(14, t + 14)], t, false).unwrap();
        let again = store_events(&conn, &device, &[event(14, t + 14)], t, false).unwrap();
        assert_eq!(
            (again.stored, again.duplicates, again.first.map(|f| f.0)),
            (0, 1, Some(14))
        );
        assert!(ids(&conn, "events_inbox").is_empty());
    }

    #[test]
    fn a_late_single_report_forgets_cached_days_when_it_moves_not_before() {
        let (_dir, conn, device) = database();
        let day = 86_400_000;
        let t = 1_700_000_000_000 / day * day;
        let batch: Vec<NewEvent> = (1..=10).map(|seq| event(seq, t + seq * day)).collect();
        store_events(&conn, &device, &batch, t, true).unwrap();
        let asset_id: i64 = conn
            .query_row("SELECT id FROM assets", [], |r| r.get(0))
            .unwrap();
        let cache_day = |start: i64| {
            conn.execute(
                "INSERT INTO day_rollups (asset_id, day_start, tenant_id, day_end, figures)
                 VALUES (?1, ?2, 1, ?3, x'00')",
                params![asset_id, start, start + day],
            )
            .unwrap();
        };
        let cached = || ids_of_days(&conn);
        cache_day(t + 2 * day);
        cache_day(t + 6 * day);
        // Seq 11 at day 5.5: late, its stop began with the RUNNING event of day 5.
        store_events(
            &conn,
            &device,
            &[event(11, t + 5 * day + day / 2)],
            t,
            false,
        )
        .unwrap();
        assert_eq!(cached(), [t + 2 * day, t + 6 * day], "nobody sees it yet");
        inbox::settle(&conn).unwrap();
        assert_eq!(cached(), [t + 2 * day], "the days from day 5 on are stale");
    }

    #[test]
    fn an_unnumbered_report_is_stored_once_wherever_the_first_copy_waits() {
        let (_dir, conn, device) = database();
        let t = 1_700_000_000_000;
        let report = || NewEvent {
            pin: 0,
            running: true,
            ts: t,
            seq: None,
            asset_name: None,
        };
        let first = store_events(&conn, &device, &[report()], t, false).unwrap();
        // Again while the first copy is in the inbox, then once it is in the history.
        let again = store_events(&conn, &device, &[report()], t, false).unwrap();
        assert_eq!((again.stored, again.first), (0, first.first));
        inbox::settle(&conn).unwrap();
        let later = store_events(&conn, &device, &[report()], t, false).unwrap();
        assert_eq!((later.stored, later.first), (0, first.first));
        // A copy that reached the inbox anyway is dropped by the move, which still succeeds.
        conn.execute(
            "INSERT INTO events_inbox (id, tenant_id, logger_row, asset_id, pin, running, ts, received_at, seq)
             SELECT id + 100, tenant_id, logger_row, asset_id, pin, running, ts, received_at, seq FROM events",
            [],
        )
        .unwrap();
        assert_eq!(inbox::settle(&conn).unwrap(), 0);
        assert!(ids(&conn, "events_inbox").is_empty());
        assert_eq!(ids(&conn, "events"), [1]);
    }

    fn ids_of_days(conn: &Connection) -> Vec<i64> {
        conn.prepare("SELECT day_start FROM day_rollups ORDER BY day_start")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }
}
