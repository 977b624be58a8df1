//! The months of `events`: one partition per calendar month of `ts` (UTC), made ahead of time so
//! an event never waits for one. An event outside every month made so far (a backfill of months
//! before the server first ran) lands in the default partition, which stays small.

use chrono::{Datelike, TimeZone, Utc};
use deadpool_postgres::Object;

use super::super::Result;

/// Months made ahead of the current one.
pub const MONTHS_AHEAD: u32 = 3;

/// The key of the advisory lock partitions are made under, so replicas do not race.
const PARTITION_LOCK: i64 = 0x6173_7365_7470_6172;

/// The first millisecond of the month `months` after the month of `ms`.
fn month_start(ms: i64, months: i32) -> Option<(i64, String)> {
    let at = Utc.timestamp_millis_opt(ms).single()?;
    let index = at.year() * 12 + at.month0() as i32 + months;
    let (year, month) = (index.div_euclid(12), index.rem_euclid(12) as u32 + 1);
    let start = Utc.with_ymd_and_hms(year, month, 1, 0, 0, 0).single()?;
    Some((
        start.timestamp_millis(),
        format!("events_{year:04}_{month:02}"),
    ))
}

/// The partitions of the months from `from_ms`'s to `MONTHS_AHEAD` after `now`'s: (name,
/// first millisecond, first millisecond after).
pub fn months(from_ms: i64, now: i64) -> Vec<(String, i64, i64)> {
    let mut out = Vec::new();
    let mut at = 0;
    while let (Some((start, name)), Some((end, _))) =
        (month_start(from_ms, at), month_start(from_ms, at + 1))
    {
        if start > now
            && month_start(now, MONTHS_AHEAD as i32).is_some_and(|(last, _)| start > last)
        {
            break;
        }
        out.push((name, start, end));
        at += 1;
    }
    out
}

/// Makes the partitions of this month and the next [`MONTHS_AHEAD`] that do not exist yet.
pub async fn ensure(client: &mut Object, now: i64) -> Result<usize> {
    ensure_from(client, now, now).await
}

/// Makes the partitions of the months from `from_ms`'s on (a copy of an older history).
pub async fn ensure_from(client: &mut Object, from_ms: i64, now: i64) -> Result<usize> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PARTITION_LOCK])
        .await?;
    let mut made = 0;
    for (name, start, end) in months(from_ms, now) {
        let exists = tx
            .query_opt("SELECT 1 FROM pg_class WHERE relname = $1", &[&name])
            .await?
            .is_some();
        if exists {
            continue;
        }
        // The default partition must not hold rows of the new month; it holds only events
        // older than the first month made, so a month ahead never meets any.
        // A partition can be named in a query by itself, past the parent's policy: it gets
        // the tenant wall of its own.
        tx.batch_execute(&format!(
            "CREATE TABLE {name} PARTITION OF events FOR VALUES FROM ({start}) TO ({end});
             {}",
            wall(&name)
        ))
        .await?;
        made += 1;
    }
    tx.commit().await?;
    if made > 0 {
        tracing::info!(made, "made partitions of events");
    }
    Ok(made)
}

/// The row-level security of a partition of `events`: the parent's (migrations/postgres/0001).
pub(super) fn wall(table: &str) -> String {
    format!(
        "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
         ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
         CREATE POLICY tenant_wall ON {table}
             USING ((SELECT assetlog_system()) OR tenant_id = (SELECT assetlog_tenant()));"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_run_from_the_first_to_three_ahead() {
        let now = Utc
            .with_ymd_and_hms(2026, 11, 15, 12, 0, 0)
            .unwrap()
            .timestamp_millis();
        let names: Vec<String> = months(now, now).into_iter().map(|m| m.0).collect();
        assert_eq!(
            names,
            [
                "events_2026_11",
                "events_2026_12",
                "events_2027_01",
                "events_2027_02"
            ]
        );
        let (_, start, end) = &months(now, now)[1];
        assert_eq!(
            *start,
            Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0)
                .unwrap()
                .timestamp_millis()
        );
        assert_eq!(
            *end,
            Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0)
                .unwrap()
                .timestamp_millis()
        );
        let older = Utc
            .with_ymd_and_hms(2025, 12, 31, 23, 0, 0)
            .unwrap()
            .timestamp_millis();
        assert_eq!(months(older, now).len(), 15);
    }
}
