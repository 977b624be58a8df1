//! A logger's report stored: the hot path. Reports that wait at the same moment share one
//! transaction (group commit): a few writer tasks each take the waiting reports as one group and
//! store the group in a fixed number of set-based statements, whatever its size.
//!
//! A group, in named steps: [`Group::lock`] locks and reads the loggers (in id order, so two
//! groups, or two replicas, never deadlock on them; `NO KEY UPDATE`, which the foreign-key
//! checks of other inserts do not wait for) with the seq runs and assets the reports
//! touch, and their credentials, which must still be those each report was authenticated with
//! (the server remembers credentials: store/postgres/devices.rs); per report,
//! [`Group::classify`] tells new events from retransmits in memory (seq runs
//! for numbered events, the stored keys for unnumbered ones), makes the assets of new pins and
//! moves each asset's current state; [`Group::finish`] inserts every new event in one statement
//! and writes the assets, seq runs and loggers once. A report that cannot be taken (its logger
//! deleted, a pending logger's cap) is answered alone and leaves nothing; a database error fails
//! the whole group, and nothing of it is stored.
//!
//! The rules are the SQLite backend's (store/sqlite/reports): the same answers for the same
//! reports.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use assetlog_core::seq::SeqRuns;
use deadpool_postgres::Transaction;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::super::{
    BackendError, DeviceAuth, IngestOutcome, NewEvent, PendingLimit, PendingLimits, Result,
    StoreError, StoredChange, now_ms, sqlite::run_changes,
};
use super::devices::still_holds;
use super::rollups::forget_days_for_late_event;
use super::{Pg, Scope, begin};
use crate::domain::{AssetId, LoggerRow, TenantId};

/// Writer tasks: while one group commits, the next is being stored.
const WRITERS: usize = 4;

/// Events a group holds at most (a batch alone may be larger).
const GROUP_EVENTS: usize = 8192;

/// Tries of a group that failed for a reason that may pass (see `write_reports`).
const GROUP_TRIES: usize = 3;

/// How many of an asset's latest events are searched for a retransmit whose time differs.
const RECENT_EVENTS: i64 = 1000;

struct Job {
    device: Arc<DeviceAuth>,
    events: Vec<NewEvent>,
    acknowledge: bool,
    received_at: i64,
    caps: PendingLimits,
    reply: oneshot::Sender<Result<IngestOutcome>>,
}

/// The reports waiting for a writer.
pub(super) struct Queue {
    sender: Mutex<Option<mpsc::UnboundedSender<Job>>>,
    receiver: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Job>>>,
    writers: Mutex<Vec<JoinHandle<()>>>,
}

impl Default for Queue {
    fn default() -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        Self {
            sender: Mutex::new(Some(sender)),
            receiver: Arc::new(tokio::sync::Mutex::new(receiver)),
            writers: Mutex::default(),
        }
    }
}

impl Pg {
    pub(super) fn start_reports(&self) {
        let mut writers = self.inner.reports.writers.lock().expect("writers");
        for _ in 0..WRITERS {
            let pg = self.clone();
            writers.push(tokio::spawn(async move { pg.write_reports().await }));
        }
    }

    /// Stops taking reports; those already queued are stored first.
    pub(super) async fn stop_reports(&self) {
        drop(self.inner.reports.sender.lock().expect("queue").take());
        let writers = std::mem::take(&mut *self.inner.reports.writers.lock().expect("writers"));
        for writer in writers {
            let _ = writer.await;
        }
    }

    /// One writer: takes what waits as a group, stores it, answers each report.
    async fn write_reports(&self) {
        loop {
            let group = {
                let mut receiver = self.inner.reports.receiver.lock().await;
                let Some(first) = receiver.recv().await else {
                    return;
                };
                let mut events = first.events.len();
                let mut group = vec![first];
                while events < GROUP_EVENTS {
                    match receiver.try_recv() {
                        Ok(job) => {
                            events += job.events.len();
                            group.push(job);
                        }
                        Err(_) => break,
                    }
                }
                group
            };
            let jobs: Vec<_> = group
                .iter()
                .map(|j| {
                    (
                        j.device.clone(),
                        &j.events[..],
                        j.acknowledge,
                        j.received_at,
                        j.caps,
                    )
                })
                .collect();
            // A group that met another transaction (a deadlock PostgreSQL broke) or lost its
            // connection goes again, a few times, before its reports are answered 503.
            let mut answers = self.store_group(&jobs).await;
            for _ in 1..GROUP_TRIES {
                match &answers {
                    Err(StoreError::Unavailable(why)) => {
                        tracing::info!(why = %why, "storing a group of reports again");
                        answers = self.store_group(&jobs).await;
                    }
                    _ => break,
                }
            }
            match answers {
                Ok(answers) => {
                    for (job, answer) in group.into_iter().zip(answers) {
                        // Remembered credentials that no longer hold: read them again next.
                        if matches!(
                            answer,
                            Err(StoreError::CredentialsChanged | StoreError::NotFound)
                        ) {
                            self.forget_device(&job.device.logger_id);
                        }
                        let _ = job.reply.send(answer);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, reports = group.len(), "a group of reports failed");
                    for job in group {
                        let _ = job.reply.send(Err(shared(&e)));
                    }
                }
            }
        }
    }

    /// Stores a logger's events, all or nothing, each once; answers after they are durable.
    /// With `acknowledge`, also advances and returns the logger's acknowledgement watermark.
    pub async fn ingest(
        &self,
        device: Arc<DeviceAuth>,
        events: Vec<NewEvent>,
        acknowledge: bool,
    ) -> Result<IngestOutcome> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            device,
            events,
            acknowledge,
            received_at: now_ms(),
            caps: self.pending_limits(),
            reply,
        };
        let sent = match &*self.inner.reports.sender.lock().expect("queue") {
            Some(sender) => sender.send(job).is_ok(),
            None => false,
        };
        if !sent {
            return Err(StoreError::Closed);
        }
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// PostgreSQL has no inbox: events go straight into `events`.
    pub async fn settle(&self) -> Result<usize> {
        Ok(0)
    }

    /// Stores a group of reports in one transaction; each report's own answer.
    async fn store_group(&self, jobs: &[Report<'_>]) -> Result<Vec<Result<IngestOutcome>>> {
        let mut client = self.client().await?;
        let tx = begin(&mut client, Scope::System).await?;
        let mut group = Group::lock(&tx, jobs).await?;
        let mut answers = Vec::with_capacity(jobs.len());
        for job in jobs {
            answers.push(group.classify(&tx, job).await?);
        }
        let answers = group
            .finish(&tx, &self.inner.allocate_event_ids, answers)
            .await?;
        tx.commit().await?;
        Ok(answers)
    }
}

/// The statement that draws `$1` new event ids. The sequence is named once, at start: asked of
/// `pg_get_serial_sequence` in the statement, it was looked up again for every id, which took
/// a third of a 1000-event batch's time in PostgreSQL (docs/PERFORMANCE.md).
pub(super) async fn allocate_ids_sql(client: &tokio_postgres::Client) -> Result<String> {
    let sequence: String = client
        .query_one("SELECT pg_get_serial_sequence('events', 'id')", &[])
        .await?
        .try_get(0)?;
    // As a string literal (the name comes quoted where it needs to be), cast once.
    let literal = format!("'{}'", sequence.replace('\'', "''"));
    Ok(format!(
        "SELECT nextval({literal}::regclass) FROM generate_series(1, $1::bigint)"
    ))
}

/// A report as the group takes it: the logger, its events, whether to acknowledge, when it
/// arrived, the pending caps in force.
type Report<'a> = (Arc<DeviceAuth>, &'a [NewEvent], bool, i64, PendingLimits);

/// A group's failure, told to each of its reports.
fn shared(e: &StoreError) -> StoreError {
    match e {
        StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
        StoreError::Closed => StoreError::Closed,
        other => StoreError::Database(BackendError::from(other.to_string())),
    }
}

#[derive(Debug, Clone)]
struct AssetNow {
    id: AssetId,
    name: String,
    running: Option<bool>,
    since: Option<i64>,
    last_ts: Option<i64>,
    /// Its current state moved in this group.
    moved: bool,
}

impl AssetNow {
    /// Whether an event at `ts` is older than the asset's newest (see store/sqlite/reports).
    fn is_late(&self, ts: i64) -> bool {
        self.last_ts.is_some_and(|last| ts < last)
    }
}

/// One logger as the group found it and changes it.
#[derive(Debug, Clone)]
struct LoggerNow {
    tenant_id: Option<TenantId>,
    allow_keyless: bool,
    key_hash: String,
    acked: i64,
    pending_events: i64,
    /// The seq runs read (around every seq of the group's reports).
    read_runs: Vec<(u64, u64)>,
    runs: SeqRuns,
    assets: HashMap<u8, AssetNow>,
    /// Unnumbered events stored before (their key: pin, ts, running), with their id and asset,
    /// and those of this group.
    unnumbered: HashMap<(u8, i64, bool), Option<(i64, AssetId)>>,
    /// Something of the row changed: pending events or the watermark.
    dirty: bool,
}

/// An event to insert, with where its id goes.
struct Row {
    tenant_id: Option<TenantId>,
    logger_row: LoggerRow,
    asset_id: AssetId,
    pin: u8,
    running: bool,
    ts: i64,
    received_at: i64,
    seq: Option<i64>,
}

struct Group {
    loggers: HashMap<LoggerRow, LoggerNow>,
    rows: Vec<Row>,
    /// For each report, in order: the row of its first event when that event is stored now.
    firsts: Vec<Option<usize>>,
    /// The earliest late event of each asset: its cached days from there on are stale.
    late: HashMap<AssetId, i64>,
}

impl Group {
    /// Locks the group's loggers and reads what deciding needs.
    async fn lock(tx: &Transaction<'_>, jobs: &[Report<'_>]) -> Result<Self> {
        let ids: BTreeSet<LoggerRow> = jobs.iter().map(|j| j.0.row).collect();
        let ids: Vec<LoggerRow> = ids.into_iter().collect();
        let standing = tx
            .prepare_cached(
                "SELECT id, tenant_id, acked_seq, pending_events, allow_keyless, key_hash
                 FROM loggers WHERE id = ANY($1) AND deleted_at IS NULL
                 ORDER BY id FOR NO KEY UPDATE",
            )
            .await?;
        let mut loggers: HashMap<LoggerRow, LoggerNow> = HashMap::new();
        for r in tx.query(&standing, &[&ids]).await? {
            loggers.insert(
                r.get(0),
                LoggerNow {
                    tenant_id: r.get(1),
                    acked: r.get(2),
                    pending_events: r.get(3),
                    allow_keyless: r.get(4),
                    key_hash: r.get(5),
                    read_runs: Vec::new(),
                    runs: SeqRuns::default(),
                    assets: HashMap::new(),
                    unnumbered: HashMap::new(),
                    dirty: false,
                },
            );
        }
        // The seq window of each logger: every seq of its reports, and the seq after its
        // watermark when one of them is acknowledged.
        let mut windows: HashMap<LoggerRow, (i64, i64)> = HashMap::new();
        for (device, events, acknowledge, ..) in jobs {
            let Some(logger) = loggers.get(&device.row) else {
                continue;
            };
            let ack = acknowledge.then(|| logger.acked.saturating_add(1));
            for seq in events.iter().filter_map(|e| e.seq).chain(ack) {
                let w = windows.entry(device.row).or_insert((seq, seq));
                *w = (w.0.min(seq), w.1.max(seq));
            }
        }
        let (rows, (los, his)): (Vec<LoggerRow>, (Vec<i64>, Vec<i64>)) = windows
            .iter()
            .map(|(row, (lo, hi))| (*row, (*lo, *hi)))
            .unzip();
        // The seq runs and the assets: two reads sent together.
        let read_runs = async {
            if rows.is_empty() {
                return Ok(Vec::new());
            }
            let runs = tx
                .prepare_cached(
                    "SELECT r.logger_row, r.first, r.last FROM seq_runs r
                     JOIN unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS w(logger_row, lo, hi)
                       ON r.logger_row = w.logger_row AND r.first <= w.hi + 1 AND r.last + 1 >= w.lo
                     ORDER BY r.logger_row, r.first",
                )
                .await?;
            tx.query(&runs, &[&rows, &los, &his]).await
        };
        let read_assets = async {
            let assets = tx
                .prepare_cached(
                    "SELECT id, logger_row, pin, name, running, since, last_ts FROM assets
                     WHERE logger_row = ANY($1)",
                )
                .await?;
            tx.query(&assets, &[&ids]).await
        };
        let (runs, assets) = tokio::try_join!(read_runs, read_assets)?;
        for r in runs {
            let (row, first, last): (LoggerRow, i64, i64) = (r.get(0), r.get(1), r.get(2));
            if let Some(logger) = loggers.get_mut(&row) {
                logger.read_runs.push((first as u64, last as u64));
            }
        }
        for logger in loggers.values_mut() {
            logger.runs = SeqRuns::from_runs(logger.read_runs.iter().copied());
        }
        for r in assets {
            let row: LoggerRow = r.get(1);
            let pin: i16 = r.get(2);
            if let (Some(logger), Ok(pin)) = (loggers.get_mut(&row), u8::try_from(pin)) {
                logger.assets.insert(
                    pin,
                    AssetNow {
                        id: r.get(0),
                        name: r.get(3),
                        running: r.get(4),
                        since: r.get(5),
                        last_ts: r.get(6),
                        moved: false,
                    },
                );
            }
        }
        read_unnumbered(tx, jobs, &mut loggers).await?;
        Ok(Self {
            loggers,
            rows: Vec::new(),
            firsts: Vec::new(),
            late: HashMap::new(),
        })
    }

    /// Takes one report, or refuses it whole; what it changes stays in memory until `finish`.
    async fn classify(
        &mut self,
        tx: &Transaction<'_>,
        (device, events, acknowledge, received_at, caps): &Report<'_>,
    ) -> Result<Result<IngestOutcome>> {
        // Every report has its place in `firsts`, also one that is refused.
        self.firsts.push(None);
        let Some(logger) = self.loggers.get_mut(&device.row) else {
            return Ok(Err(StoreError::NotFound));
        };
        if !still_holds(
            device,
            logger.tenant_id,
            logger.allow_keyless,
            &logger.key_hash,
        ) {
            return Ok(Err(StoreError::CredentialsChanged));
        }
        let pending = logger.tenant_id.is_none();
        // A pending logger's report must fit whole, retransmits counted (store/sqlite/reports).
        if pending && logger.pending_events.saturating_add(events.len() as i64) > caps.events {
            return Ok(Err(StoreError::PendingFull {
                what: PendingLimit::Events,
                limit: caps.events,
            }));
        }
        let before = logger.clone();
        let new: Vec<bool> = events
            .iter()
            .map(|e| match e.seq {
                Some(seq) => logger.runs.insert(seq as u64),
                None => match logger.unnumbered.entry((e.pin, e.ts, e.running)) {
                    std::collections::hash_map::Entry::Occupied(_) => false,
                    std::collections::hash_map::Entry::Vacant(v) => {
                        v.insert(None);
                        true
                    }
                },
            })
            .collect();
        // The assets of new pins; a retransmit creates nothing, not even its pin's asset.
        let mut new_pins: Vec<(u8, Option<&str>)> = Vec::new();
        for (e, _) in events.iter().zip(&new).filter(|(_, new)| **new) {
            if !logger.assets.contains_key(&e.pin) && !new_pins.iter().any(|p| p.0 == e.pin) {
                new_pins.push((e.pin, e.asset_name.as_deref()));
            }
        }
        if pending && (logger.assets.len() + new_pins.len()) as i64 > caps.assets {
            *logger = before;
            return Ok(Err(StoreError::PendingFull {
                what: PendingLimit::Assets,
                limit: caps.assets,
            }));
        }
        for (pin, name) in new_pins {
            let name = name
                .map(str::to_owned)
                .unwrap_or_else(|| format!("{} pin {pin}", device.name));
            let insert = tx
                .prepare_cached(
                    "INSERT INTO assets (logger_row, tenant_id, pin, name) VALUES ($1, $2, $3, $4)
                     RETURNING id",
                )
                .await?;
            let id: AssetId = tx
                .query_one(
                    &insert,
                    &[&device.row, &logger.tenant_id, &i16::from(pin), &name],
                )
                .await?
                .get(0);
            logger.assets.insert(
                pin,
                AssetNow {
                    id,
                    name,
                    running: None,
                    since: None,
                    last_ts: None,
                    moved: false,
                },
            );
        }
        let mut out = IngestOutcome {
            tenant_id: logger.tenant_id,
            acked_seq: logger.acked,
            ..Default::default()
        };
        let mut first_row = None;
        for (e, is_new) in events.iter().zip(new) {
            if !is_new {
                out.duplicates += 1;
                if out.first.is_none() && first_row.is_none() {
                    out.first = repeated_event(tx, logger, device.row, e).await?;
                }
                continue;
            }
            let asset = logger.assets.get_mut(&e.pin).expect("made above");
            out.stored += 1;
            out.earliest = Some(out.earliest.map_or(e.ts, |t| t.min(e.ts)));
            if out.first.is_none() && first_row.is_none() {
                first_row = Some(self.rows.len());
            }
            self.rows.push(Row {
                tenant_id: logger.tenant_id,
                logger_row: device.row,
                asset_id: asset.id,
                pin: e.pin,
                running: e.running,
                ts: e.ts,
                received_at: *received_at,
                seq: e.seq,
            });
            if asset.is_late(e.ts) {
                self.late
                    .entry(asset.id)
                    .and_modify(|t| *t = (*t).min(e.ts))
                    .or_insert(e.ts);
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
            asset.moved = true;
        }
        if pending && out.stored > 0 {
            logger.pending_events += out.stored as i64;
            logger.dirty = true;
        }
        if *acknowledge {
            let acked = logger.runs.advance(logger.acked.max(0) as u64) as i64;
            if acked != logger.acked {
                logger.acked = acked;
                logger.dirty = true;
            }
            out.acked_seq = acked;
        }
        *self.firsts.last_mut().expect("pushed above") = first_row;
        Ok(Ok(out))
    }

    /// Inserts the group's events and writes each asset, seq run and logger once; then each
    /// report's watermark and first event id.
    async fn finish(
        mut self,
        tx: &Transaction<'_>,
        allocate: &str,
        mut answers: Vec<Result<IngestOutcome>>,
    ) -> Result<Vec<Result<IngestOutcome>>> {
        let ids = self.insert_events(tx, allocate).await?;
        // Late events forget the cached days they make stale (after the insert: the search for
        // the last RUNNING event before one sees the group's own).
        let mut late: Vec<(AssetId, i64)> = std::mem::take(&mut self.late).into_iter().collect();
        late.sort();
        for (asset_id, ts) in late {
            forget_days_for_late_event(tx, asset_id, ts).await?;
        }
        // Independent writes: sent together (pipelined on the one connection), not one round
        // trip each.
        tokio::try_join!(self.write_assets(tx), self.write_runs(tx))?;
        for (answer, first) in answers.iter_mut().zip(&self.firsts) {
            if let (Ok(out), Some(row)) = (answer, first) {
                out.first = Some((ids[*row], self.rows[*row].asset_id));
            }
        }
        Ok(answers)
    }

    async fn insert_events(&self, tx: &Transaction<'_>, allocate: &str) -> Result<Vec<i64>> {
        if self.rows.is_empty() {
            return Ok(Vec::new());
        }
        let allocate = tx.prepare_cached(allocate).await?;
        let ids: Vec<i64> = tx
            .query(&allocate, &[&(self.rows.len() as i64)])
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let insert = tx
            .prepare_cached(
                "INSERT INTO events (id, tenant_id, logger_row, asset_id, pin, running, ts, received_at, seq)
                 SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[],
                                      $5::smallint[], $6::boolean[], $7::bigint[], $8::bigint[], $9::bigint[])",
            )
            .await?;
        let tenants: Vec<Option<TenantId>> = self.rows.iter().map(|r| r.tenant_id).collect();
        let loggers: Vec<LoggerRow> = self.rows.iter().map(|r| r.logger_row).collect();
        let assets: Vec<AssetId> = self.rows.iter().map(|r| r.asset_id).collect();
        let pins: Vec<i16> = self.rows.iter().map(|r| i16::from(r.pin)).collect();
        let running: Vec<bool> = self.rows.iter().map(|r| r.running).collect();
        let ts: Vec<i64> = self.rows.iter().map(|r| r.ts).collect();
        let received: Vec<i64> = self.rows.iter().map(|r| r.received_at).collect();
        let seqs: Vec<Option<i64>> = self.rows.iter().map(|r| r.seq).collect();
        tx.execute(
            &insert,
            &[
                &ids, &tenants, &loggers, &assets, &pins, &running, &ts, &received, &seqs,
            ],
        )
        .await?;
        Ok(ids)
    }

    async fn write_assets(&self, tx: &Transaction<'_>) -> Result<()> {
        let mut moved: Vec<&AssetNow> = self
            .loggers
            .values()
            .flat_map(|l| l.assets.values())
            .filter(|a| a.moved)
            .collect();
        // In id order, as every writer locks assets (rollup saves too), so none deadlocks.
        moved.sort_by_key(|a| a.id);
        if moved.is_empty() {
            return Ok(());
        }
        let update = tx
            .prepare_cached(
                "UPDATE assets a SET running = u.running, since = u.since, last_ts = u.last_ts
                 FROM unnest($1::bigint[], $2::boolean[], $3::bigint[], $4::bigint[])
                      AS u(id, running, since, last_ts)
                 WHERE a.id = u.id",
            )
            .await?;
        let ids: Vec<AssetId> = moved.iter().map(|a| a.id).collect();
        let running: Vec<Option<bool>> = moved.iter().map(|a| a.running).collect();
        let since: Vec<Option<i64>> = moved.iter().map(|a| a.since).collect();
        let last: Vec<Option<i64>> = moved.iter().map(|a| a.last_ts).collect();
        tx.execute(&update, &[&ids, &running, &since, &last])
            .await?;
        Ok(())
    }

    /// Writes back the seq runs that changed, and each logger's pending count and watermark.
    async fn write_runs(&self, tx: &Transaction<'_>) -> Result<()> {
        let (mut gone_rows, mut gone_firsts) = (Vec::<LoggerRow>::new(), Vec::<i64>::new());
        let (mut rows, mut firsts, mut lasts) = (
            Vec::<LoggerRow>::new(),
            Vec::<i64>::new(),
            Vec::<i64>::new(),
        );
        for (row, logger) in &self.loggers {
            let (gone, changed) = run_changes(&logger.read_runs, logger.runs.runs());
            for first in gone {
                gone_rows.push(*row);
                gone_firsts.push(first as i64);
            }
            for (first, last) in changed {
                rows.push(*row);
                firsts.push(first as i64);
                lasts.push(last as i64);
            }
        }
        if !gone_rows.is_empty() {
            let delete = tx
                .prepare_cached(
                    "DELETE FROM seq_runs r USING unnest($1::bigint[], $2::bigint[]) AS g(logger_row, first)
                     WHERE r.logger_row = g.logger_row AND r.first = g.first",
                )
                .await?;
            tx.execute(&delete, &[&gone_rows, &gone_firsts]).await?;
        }
        if !rows.is_empty() {
            let upsert = tx
                .prepare_cached(
                    "INSERT INTO seq_runs (logger_row, first, last)
                     SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[])
                     ON CONFLICT (logger_row, first) DO UPDATE SET last = excluded.last",
                )
                .await?;
            tx.execute(&upsert, &[&rows, &firsts, &lasts]).await?;
        }
        let dirty: Vec<(&LoggerRow, &LoggerNow)> =
            self.loggers.iter().filter(|(_, l)| l.dirty).collect();
        if !dirty.is_empty() {
            let update = tx
                .prepare_cached(
                    "UPDATE loggers l SET pending_events = u.pending_events, acked_seq = u.acked_seq
                     FROM unnest($1::bigint[], $2::bigint[], $3::bigint[])
                          AS u(id, pending_events, acked_seq)
                     WHERE l.id = u.id",
                )
                .await?;
            let ids: Vec<LoggerRow> = dirty.iter().map(|(row, _)| **row).collect();
            let pending: Vec<i64> = dirty.iter().map(|(_, l)| l.pending_events).collect();
            let acked: Vec<i64> = dirty.iter().map(|(_, l)| l.acked).collect();
            tx.execute(&update, &[&ids, &pending, &acked]).await?;
        }
        Ok(())
    }
}

/// The stored unnumbered events that the group's unnumbered events repeat, into each logger's
/// `unnumbered`.
async fn read_unnumbered(
    tx: &Transaction<'_>,
    jobs: &[Report<'_>],
    loggers: &mut HashMap<LoggerRow, LoggerNow>,
) -> Result<()> {
    let mut keys = HashSet::new();
    for (device, events, ..) in jobs {
        for e in events.iter().filter(|e| e.seq.is_none()) {
            keys.insert((device.row, e.pin, e.ts, e.running));
        }
    }
    if keys.is_empty() {
        return Ok(());
    }
    let (mut rows, mut pins, mut ts, mut running) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (row, pin, t, r) in keys {
        rows.push(row);
        pins.push(i16::from(pin));
        ts.push(t);
        running.push(r);
    }
    let stored = tx
        .prepare_cached(
            "SELECT e.logger_row, e.pin, e.ts, e.running, e.id, e.asset_id FROM events e
             JOIN unnest($1::bigint[], $2::smallint[], $3::bigint[], $4::boolean[]) AS k(logger_row, pin, ts, running)
               ON e.logger_row = k.logger_row AND e.pin = k.pin AND e.ts = k.ts AND e.running = k.running
             WHERE e.seq IS NULL",
        )
        .await?;
    for r in tx.query(&stored, &[&rows, &pins, &ts, &running]).await? {
        let row: LoggerRow = r.get(0);
        let pin: i16 = r.get(1);
        if let (Some(logger), Ok(pin)) = (loggers.get_mut(&row), u8::try_from(pin)) {
            logger
                .unnumbered
                .insert((pin, r.get(2), r.get(3)), Some((r.get(4), r.get(5))));
        }
    }
    Ok(())
}

/// The id and asset of the stored event that the retransmit `e` repeats, when it can be found
/// cheaply (the rules of store/sqlite/reports' `existing_event`).
async fn repeated_event(
    tx: &Transaction<'_>,
    logger: &LoggerNow,
    logger_row: LoggerRow,
    e: &NewEvent,
) -> Result<Option<(i64, AssetId)>> {
    let Some(seq) = e.seq else {
        return Ok(logger
            .unnumbered
            .get(&(e.pin, e.ts, e.running))
            .copied()
            .flatten());
    };
    // Without an asset on that pin, no stored event is there to name.
    let Some(asset) = logger.assets.get(&e.pin) else {
        return Ok(None);
    };
    let same_time = tx
        .prepare_cached("SELECT id FROM events WHERE asset_id = $1 AND ts = $2 AND seq = $3")
        .await?;
    if let Some(r) = tx.query_opt(&same_time, &[&asset.id, &e.ts, &seq]).await? {
        return Ok(Some((r.get(0), asset.id)));
    }
    let recent = tx
        .prepare_cached(
            "SELECT id FROM (SELECT id, seq FROM events WHERE asset_id = $1 AND logger_row = $2
                             ORDER BY ts DESC LIMIT $3) recent
             WHERE seq = $4",
        )
        .await?;
    Ok(tx
        .query_opt(&recent, &[&asset.id, &logger_row, &RECENT_EVENTS, &seq])
        .await?
        .map(|r| (r.get(0), asset.id)))
}
