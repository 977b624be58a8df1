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

    let path_all = format!("/api/v1/analytics?from={start}&to={now}&bucket=day");
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
        "| all assets, whole history, `bucket=day` (API) | {} | {} | {} |\n",
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
            "\nAPI / plain SQL (medians): {:.2}. The SQL computes only run and down time per asset and UTC day; the API \
             also computes unknown and unplanned time, stops, short/long, MTBF, MTTR and the reasons, per local day.\n",
            all_med.as_secs_f64() / sql_med.as_secs_f64()
        ));
    }
    Ok(out)
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
