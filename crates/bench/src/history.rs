//! `history`: analytics over a realistic history. Loads `assets × days × changes-per-day`
//! events through `/api/v1/ingest` (backfilled, as a logger catching up would), then times
//! `GET /api/v1/analytics` for all assets over the whole history by day and for one asset's
//! day, and, on the same database file, the plain SQL way (window functions over the events).

use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use hyper::StatusCode;
use serde_json::json;

use crate::client::Conn;
use crate::report::{now_ms, thousands};
use crate::target::Target;

const DAY_MS: i64 = 86_400_000;
const PINS: u32 = 8;
const BATCH: usize = 1000;
/// How long the bench waits for the server's background settle of the loaded days.
const SETTLE_WAIT: Duration = Duration::from_secs(600);

pub struct Params {
    pub assets: u32,
    pub days: u32,
    pub changes_per_day: u32,
    pub repeats: u32,
}

/// A small deterministic generator: the same history every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

/// Times `repeats` GETs of `path` as the bench's user; returns (min, median, max).
async fn time_get(
    target: &mut Target,
    path: &str,
    repeats: u32,
) -> anyhow::Result<(Duration, Duration, Duration)> {
    let mut samples = Vec::with_capacity(repeats as usize);
    for _ in 0..repeats.max(1) {
        let started = Instant::now();
        target.user_get_ok(path).await?;
        samples.push(started.elapsed());
    }
    samples.sort();
    Ok((
        samples[0],
        samples[samples.len() / 2],
        samples[samples.len() - 1],
    ))
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

pub async fn run(target: &mut Target, p: Params) -> anyhow::Result<String> {
    let loggers = target
        .register_loggers("h", p.assets.div_ceil(PINS))
        .await?;
    let now = now_ms();
    let start = (now - i64::from(p.days) * DAY_MS) / DAY_MS * DAY_MS;
    let end = now - 60_000;
    let gap = DAY_MS / i64::from(p.changes_per_day.max(1));
    let mut conn = Conn::open(target.addr).await?;
    let mut rng = Lcg(42);
    let mut total = 0u64;
    let load_started = Instant::now();
    for (l, logger) in loggers.iter().enumerate() {
        let pins = (p.assets - l as u32 * PINS).min(PINS);
        // Each pin changes about every `gap` ms; merged in time order, numbered in that order.
        let mut next: Vec<(i64, bool)> = (0..pins)
            .map(|_| (start + (rng.next() as i64 % gap), true))
            .collect();
        let mut seq = 0u64;
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            let (pin, &(ts, running)) = next
                .iter()
                .enumerate()
                .min_by_key(|(_, (ts, _))| *ts)
                .context("no pins")?;
            if ts >= end {
                break;
            }
            seq += 1;
            batch.push(json!({"seq": seq, "pin": pin, "running": running, "ts": ts}));
            // Runs last longer than stops: roughly 85 % availability.
            let mean = if running { gap * 17 / 10 } else { gap * 3 / 10 };
            next[pin] = (ts + 1 + (rng.next() as i64 % (2 * mean)), !running);
            if batch.len() == BATCH {
                total += post(
                    &mut conn,
                    &logger.id,
                    &logger.key,
                    std::mem::take(&mut batch),
                    seq,
                )
                .await?;
            }
        }
        if !batch.is_empty() {
            total += post(&mut conn, &logger.id, &logger.key, batch, seq).await?;
        }
    }
    let load = load_started.elapsed();

    // The server settles the backfilled days in the background once the load is quiet; a
    // reader that comes after finds them stored. (Polled: the bench sees only the metrics.)
    let settles = target.metrics().await?.rollup_settles;
    let settle_started = Instant::now();
    while target.metrics().await?.rollup_settles == settles {
        ensure!(
            settle_started.elapsed() < SETTLE_WAIT,
            "the server did not settle the day rollups within {SETTLE_WAIT:?} of the load"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let settle = settle_started.elapsed();

    let path_all = format!("/api/v1/analytics?from={start}&to={now}&bucket=day");
    // The first answer after the settle reads the stored days (and computes today's); the
    // repeats read the same.
    let computed = target.metrics().await?.rollup_days_computed;
    let cold_started = Instant::now();
    target.user_get_ok(&path_all).await?;
    let cold = cold_started.elapsed();
    let cold_computed = target.metrics().await?.rollup_days_computed - computed;
    let (all_min, all_med, all_max) = time_get(target, &path_all, p.repeats).await?;
    let day_from = now - DAY_MS;
    let one_asset = target.first_asset_id().await?;
    let path_one = format!("/api/v1/analytics?from={day_from}&to={now}&asset_id={one_asset}");
    let (one_min, one_med, one_max) = time_get(target, &path_one, p.repeats * 4).await?;

    let mut out = String::new();
    out.push_str("## history (analytics)\n\n");
    out.push_str(&format!(
        "{} assets × {} days × ~{} changes a day = {} events, loaded in {:.1} s ({} events/s through /api/v1/ingest).\n\n",
        p.assets,
        p.days,
        p.changes_per_day,
        thousands(total),
        load.as_secs_f64(),
        thousands((total as f64 / load.as_secs_f64()) as u64)
    ));
    out.push_str("| query | min | median | max |\n|---|---:|---:|---:|\n");
    out.push_str(&format!(
        "| all assets, whole history, `bucket=day` (API), first time, after the background settle ({:.1} s after the load; this answer computed {} asset-days) | {} | | |\n",
        settle.as_secs_f64(),
        thousands(cold_computed),
        ms(cold),
    ));
    out.push_str(&format!(
        "| all assets, whole history, `bucket=day` (API), again: from the day rollups | {} | {} | {} |\n",
        ms(all_min),
        ms(all_med),
        ms(all_max)
    ));
    out.push_str(&format!(
        "| one asset, last 24 h (API) | {} | {} | {} |\n",
        ms(one_min),
        ms(one_med),
        ms(one_max)
    ));
    if let Some(db) = target.database_path() {
        let (sql_min, sql_med, sql_max) = plain_sql(&db, start, now, p.repeats)?;
        out.push_str(&format!(
            "| all assets, whole history, run/down per UTC day (plain SQL, window functions) | {} | {} | {} |\n",
            ms(sql_min),
            ms(sql_med),
            ms(sql_max)
        ));
        out.push_str(&format!(
            "\nPlain SQL / API (medians): the API answers {:.0}× faster. The SQL computes only run and down time per asset and \
             UTC day; the API also computes unknown and unplanned time, stops, short/long, MTBF, MTTR and the reasons, per \
             local day.\n",
            sql_med.as_secs_f64() / all_med.as_secs_f64()
        ));
    }
    // Last: its events would slow the plain SQL above.
    let ingest = ingest_while_reading(target, &path_all, now).await?;
    out.push_str(&format!(
        "\nIngest while analytics are read: one connection posting batches of {BATCH} in-order events \
         (new loggers, after the history) for {INGEST_SECONDS} s each time.\n\n\
         | reader | ingest events/s | change | whole-history answers read |\n|---|---:|---:|---:|\n\
         | none | {} | | |\n| one query a second | {} | {:+.1} % | {} |\n| back to back | {} | {:+.1} % | {} |\n",
        thousands(ingest.alone as u64),
        thousands(ingest.paced.0 as u64),
        (ingest.paced.0 / ingest.alone - 1.0) * 100.0,
        ingest.paced.1,
        thousands(ingest.busy.0 as u64),
        (ingest.busy.0 / ingest.alone - 1.0) * 100.0,
        ingest.busy.1,
    ));
    Ok(out)
}

const INGEST_SECONDS: u64 = 10;

/// Ingest rates alone and with a reader; with a reader also how many answers it read.
struct IngestUnderReads {
    alone: f64,
    paced: (f64, u64),
    busy: (f64, u64),
}

/// Events/s of one connection posting batches for [`INGEST_SECONDS`]: alone, while a second
/// connection reads `path` once a second, and while it reads it back to back. The events are
/// stamped after `history_end`, outside the window `path` asks about.
async fn ingest_while_reading(
    target: &mut Target,
    path: &str,
    history_end: i64,
) -> anyhow::Result<IngestUnderReads> {
    let loggers = target.register_loggers("w", 3).await?;
    let alone = ingest_for(target, &loggers[0], history_end).await?;
    let paced = ingest_with_reader(
        target,
        &loggers[1],
        history_end,
        path,
        Some(Duration::from_secs(1)),
    )
    .await?;
    let busy = ingest_with_reader(target, &loggers[2], history_end, path, None).await?;
    Ok(IngestUnderReads { alone, paced, busy })
}

async fn ingest_with_reader(
    target: &Target,
    logger: &crate::target::Logger,
    history_end: i64,
    path: &str,
    every: Option<Duration>,
) -> anyhow::Result<(f64, u64)> {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (addr, token) = (target.addr, target.user_token.clone());
    let reader = {
        let stop = stop.clone();
        let path = path.to_owned();
        tokio::spawn(async move {
            let mut conn = Conn::open(addr).await?;
            let bearer = hyper::header::HeaderValue::from_str(&format!("Bearer {token}"))?;
            let mut reads = 0u64;
            let mut tick = every.map(tokio::time::interval);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(tick) = &mut tick {
                    tick.tick().await;
                }
                let reply = conn.get(&path, Some(&bearer)).await?;
                ensure!(reply.status == StatusCode::OK, "{}", reply.snippet());
                reads += 1;
            }
            anyhow::Ok(reads)
        })
    };
    let rate = ingest_for(target, logger, history_end).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let reads = reader.await??;
    Ok((rate?, reads))
}

/// Posts batches of in-order events for one logger for [`INGEST_SECONDS`], stamped from
/// `first_ts` on, a thousand to the millisecond; returns events/s.
async fn ingest_for(
    target: &Target,
    logger: &crate::target::Logger,
    first_ts: i64,
) -> anyhow::Result<f64> {
    let mut conn = Conn::open(target.addr).await?;
    let started = Instant::now();
    let (mut seq, mut sent) = (0u64, 0u64);
    while started.elapsed() < Duration::from_secs(INGEST_SECONDS) {
        let events: Vec<serde_json::Value> = (0..BATCH)
            .map(|i| {
                seq += 1;
                let ts = first_ts + (seq / 1000) as i64;
                json!({"seq": seq, "pin": i as u32 % PINS, "running": (i / PINS as usize).is_multiple_of(2), "ts": ts})
            })
            .collect();
        sent += post(&mut conn, &logger.id, &logger.key, events, seq).await?;
    }
    Ok(sent as f64 / started.elapsed().as_secs_f64())
}

async fn post(
    conn: &mut Conn,
    id: &str,
    key: &hyper::header::HeaderValue,
    events: Vec<serde_json::Value>,
    last: u64,
) -> anyhow::Result<u64> {
    let n = events.len() as u64;
    let body = json!({"logger_id": id, "events": events}).to_string();
    let reply = conn.post("/api/v1/ingest", Some(key), body).await?;
    ensure!(
        reply.status == StatusCode::OK,
        "ingest for {id}: {}",
        reply.snippet()
    );
    let ack: serde_json::Value = serde_json::from_slice(&reply.body)?;
    ensure!(
        ack["acked_seq"] == last,
        "ingest for {id}: acked {} of {last}",
        ack["acked_seq"]
    );
    Ok(n)
}

/// The same question answered in SQL alone: each event's state lasts until the asset's next
/// event (LEAD), summed per asset and UTC day.
fn plain_sql(
    db: &std::path::Path,
    from: i64,
    to: i64,
    repeats: u32,
) -> anyhow::Result<(Duration, Duration, Duration)> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let sql = "SELECT asset_id, day, SUM(CASE WHEN running THEN len ELSE 0 END), SUM(CASE WHEN running THEN 0 ELSE len END)
               FROM (SELECT asset_id, running, ts / 86400000 AS day,
                            MIN(COALESCE(LEAD(ts) OVER (PARTITION BY asset_id ORDER BY ts, seq), ?2), ?2) - ts AS len
                     FROM events WHERE ts >= ?1 AND ts < ?2)
               GROUP BY asset_id, day";
    let mut samples = Vec::new();
    for _ in 0..repeats.max(1) {
        let started = Instant::now();
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map([from, to], |r| r.get::<_, i64>(0))?.count();
        ensure!(rows > 0, "the plain SQL found no rows");
        samples.push(started.elapsed());
    }
    samples.sort();
    Ok((
        samples[0],
        samples[samples.len() / 2],
        samples[samples.len() - 1],
    ))
}
