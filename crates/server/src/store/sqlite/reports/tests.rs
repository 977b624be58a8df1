//! The hot path's steps against a real database: inbox, batches, late events, retransmits.

use super::*;
use crate::domain::{AssetId, LoggerRow, TenantId};

/// A migrated database with one tenant and one claimed logger (row 1).
fn database() -> (tempfile::TempDir, Connection, DeviceAuth) {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = Connection::open(dir.path().join("t.db")).unwrap();
    super::super::migrate::run(&mut conn).unwrap();
    conn.execute_batch(
        "INSERT INTO tenants (id, name, created_at) VALUES (1, 't', 0);
         INSERT INTO loggers (id, logger_id, tenant_id, name, key_hash, claim_code, created_at)
         VALUES (1, 'esp', 1, 'esp', 'h', 'c', 0);",
    )
    .unwrap();
    (
        dir,
        conn,
        DeviceAuth::for_tests(LoggerRow(1), "esp", Some(TenantId(1))),
    )
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
    let asset_id: AssetId = conn
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

#[test]
fn a_settle_moves_the_inbox_in_chunks_and_stops_where_it_was_asked_to() {
    let (_dir, conn, device) = database();
    let t = 1_700_000_000_000;
    for seq in 1..=10 {
        store_events(&conn, &device, &[event(seq, t + seq)], t, false).unwrap();
    }
    let chunk = inbox::settle_chunk(&conn, None, 4).unwrap();
    assert_eq!((chunk.moved, chunk.upto, chunk.more), (4, 10, true));
    assert_eq!(ids(&conn, "events"), [1, 2, 3, 4]);
    // Events that arrive after the settle began wait for the next one.
    store_events(&conn, &device, &[event(11, t + 11)], t, false).unwrap();
    let chunk = inbox::settle_chunk(&conn, Some(10), 4).unwrap();
    assert_eq!((chunk.moved, chunk.more), (4, true));
    let chunk = inbox::settle_chunk(&conn, Some(10), 4).unwrap();
    assert_eq!((chunk.moved, chunk.more), (2, false));
    assert_eq!(ids(&conn, "events"), (1..=10).collect::<Vec<_>>());
    assert_eq!(ids(&conn, "events_inbox"), [11]);
    // Nothing up to 10 is left: a settle that began before 11 arrived is done.
    let chunk = inbox::settle_chunk(&conn, Some(10), 4).unwrap();
    assert_eq!((chunk.moved, chunk.more), (0, false));
    assert_eq!(inbox::settle(&conn).unwrap(), 1);
    assert!(ids(&conn, "events_inbox").is_empty());
}

fn ids_of_days(conn: &Connection) -> Vec<i64> {
    conn.prepare("SELECT day_start FROM day_rollups ORDER BY day_start")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}
