//! The schema: `migrations/NNNN_*.sql`, applied in order when the database is opened.
//! `PRAGMA user_version` is the number applied; each runs in its own transaction with the
//! version it sets, so a failed one leaves the database as it was.

use anyhow::Context;
use rusqlite::Connection;

pub(super) const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/sqlite/0001_init.sql"),
    include_str!("../../../migrations/sqlite/0002_analytics.sql"),
    include_str!("../../../migrations/sqlite/0003_dropped_events.sql"),
    include_str!("../../../migrations/sqlite/0004_day_rollups.sql"),
    include_str!("../../../migrations/sqlite/0005_packed_day_rollups.sql"),
    include_str!("../../../migrations/sqlite/0006_seq_runs.sql"),
    include_str!("../../../migrations/sqlite/0007_events_inbox.sql"),
    include_str!("../../../migrations/sqlite/0008_pending_limits.sql"),
    include_str!("../../../migrations/sqlite/0009_tenant_names.sql"),
    include_str!("../../../migrations/sqlite/0010_retention.sql"),
    include_str!("../../../migrations/sqlite/0011_alerts.sql"),
    include_str!("../../../migrations/sqlite/0012_reports.sql"),
    include_str!("../../../migrations/sqlite/0013_alert_rule_ids.sql"),
    include_str!("../../../migrations/sqlite/0014_one_stop_definition.sql"),
    include_str!("../../../migrations/sqlite/0015_lines_and_targets.sql"),
];

/// The line that marks a migration rebuilding a table other tables refer to (SQLite changes a
/// column constraint only by a new table, a copy, a drop and a rename). With foreign keys on,
/// dropping the old table would delete or refuse what refers to it, so such a migration runs
/// with them off, and every reference is checked before it commits.
const REBUILDS: &str = "-- rebuilds tables";

/// Applies the migrations this database has not had yet.
pub(super) fn run(conn: &mut Connection) -> anyhow::Result<()> {
    apply(conn, MIGRATIONS)
}

fn apply(conn: &mut Connection, migrations: &[&str]) -> anyhow::Result<()> {
    let applied: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let applied = usize::try_from(applied).unwrap_or(usize::MAX);
    anyhow::ensure!(
        applied <= migrations.len(),
        "the database was written by a newer assetlog (schema {applied}, this build knows {})",
        migrations.len()
    );
    for (i, sql) in migrations.iter().enumerate().skip(applied) {
        let version = i + 1;
        if !sql.lines().any(|line| line.trim() == REBUILDS) {
            apply_one(conn, version, sql, false)?;
            continue;
        }
        // The pragma is a no-op inside a transaction, hence around it; it is turned back on
        // whether the migration succeeded or not.
        conn.pragma_update(None, "foreign_keys", false)?;
        let applied = apply_one(conn, version, sql, true);
        let restored = conn.pragma_update(None, "foreign_keys", true);
        applied?;
        restored?;
    }
    Ok(())
}

fn apply_one(
    conn: &mut Connection,
    version: usize,
    sql: &str,
    check_references: bool,
) -> anyhow::Result<()> {
    let tx = conn.transaction()?;
    tx.execute_batch(sql)
        .with_context(|| format!("migration {version} failed"))?;
    if check_references {
        let broken: i64 =
            tx.query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })?;
        anyhow::ensure!(
            broken == 0,
            "migration {version} would break {broken} references: not applied"
        );
    }
    tx.pragma_update(None, "user_version", version as i64)?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{TenantId, UserId};
    use crate::store::sqlite::Sqlite;
    use rusqlite::params;

    #[test]
    fn alert_rule_ids_go_on_above_every_id_a_rule_or_an_alert_carried() {
        let mut conn = Connection::open_in_memory().unwrap();
        apply(&mut conn, &MIGRATIONS[..12]).unwrap();
        // As schema 12 left it: rules 1 and 2, rule 3 deleted after it alerted, rule 2 deleted
        // too (so a plain rowid would hand out 2 again).
        conn.execute_batch(
            "INSERT INTO tenants (id, name, created_at) VALUES (1, 't', 0);
             INSERT INTO alert_rules (id, tenant_id, body, created_at) VALUES (1, 1, '{}', 0), (2, 1, '{}', 0);
             INSERT INTO alerts (tenant_id, rule_id, rule_name, kind, since, opened_at, detail)
             VALUES (1, 3, 'gone', 'stop_longer_than', 0, 0, '{}');
             DELETE FROM alert_rules WHERE id = 2;",
        )
        .unwrap();
        apply(&mut conn, MIGRATIONS).unwrap();
        conn.execute(
            "INSERT INTO alert_rules (tenant_id, body, created_at) VALUES (1, '{}', 0)",
            [],
        )
        .unwrap();
        let ids: Vec<i64> = conn
            .prepare("SELECT id FROM alert_rules ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(ids, [1, 4]);
        // And once deleted, the newest is not given again either.
        conn.execute_batch("DELETE FROM alert_rules WHERE id = 4; INSERT INTO alert_rules (tenant_id, body, created_at) VALUES (1, '{}', 0);")
            .unwrap();
        let newest: i64 = conn
            .query_row("SELECT MAX(id) FROM alert_rules", [], |r| r.get(0))
            .unwrap();
        assert_eq!(newest, 5);
    }

    #[tokio::test]
    async fn the_seq_index_becomes_runs_per_logger() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        {
            // A database as schema 5 left it, with gaps, a second logger and unnumbered events.
            let conn = Connection::open(&path).unwrap();
            for sql in &MIGRATIONS[..5] {
                conn.execute_batch(sql).unwrap();
            }
            conn.execute_batch(
                "PRAGMA user_version = 5;
                 INSERT INTO tenants (id, name, created_at) VALUES (1, 't', 0);
                 INSERT INTO loggers (id, logger_id, tenant_id, name, key_hash, claim_code, created_at)
                 VALUES (1, 'a', 1, 'a', 'h', 'c', 0), (2, 'b', 1, 'b', 'h', 'c', 0);
                 INSERT INTO assets (id, logger_row, tenant_id, pin, name) VALUES (1, 1, 1, 0, 'a0'), (2, 2, 1, 0, 'b0');",
            )
            .unwrap();
            let events: &[(i64, Option<i64>)] = &[
                (1, Some(9)),
                (1, Some(1)),
                (1, Some(2)),
                (1, Some(3)),
                (1, Some(5)),
                (1, Some(6)),
                (1, None),
                (2, Some(1)),
                (2, None),
            ];
            for (n, (logger, seq)) in events.iter().enumerate() {
                conn.execute(
                    "INSERT INTO events (tenant_id, logger_row, asset_id, pin, running, ts, received_at, seq)
                     VALUES (1, ?1, ?1, 0, 1, ?2, 0, ?3)",
                    params![logger, n as i64, seq],
                )
                .unwrap();
            }
        }
        Sqlite::open(&path).unwrap().close().await;
        let conn = Connection::open(&path).unwrap();
        let runs: Vec<(i64, i64, i64)> = conn
            .prepare("SELECT logger_row, first, last FROM seq_runs ORDER BY logger_row, first")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(runs, [(1, 1, 3), (1, 5, 6), (1, 9, 9), (2, 1, 1)]);
        let index: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'events_logger_seq'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(index, 0);
    }

    /// A database as schema 8 left it: two tenants and what refers to them.
    fn schema_8_with_data(path: &std::path::Path) -> Connection {
        let conn = Connection::open(path).unwrap();
        super::super::open::configure(&conn).unwrap();
        for sql in &MIGRATIONS[..8] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(
            r#"PRAGMA user_version = 8;
             INSERT INTO tenants (id, name, timezone, short_stop_threshold_s, created_at, shifts)
             VALUES (1, 'ACME', 'Europe/Berlin', 120, 5, '[{"name":"Day"}]'),
                    (2, 'Other', 'UTC', 300, 6, '[]');
             INSERT INTO users (id, tenant_id, email, password_hash, role, created_at)
             VALUES (1, 1, 'ada@acme.example', 'h', 'admin', 0),
                    (2, 2, 'bob@other.example', 'h', 'admin', 0);
             INSERT INTO sessions (token_hash, user_id, created_at, expires_at)
             VALUES ('t1', 1, 0, 9999999999999);
             INSERT INTO loggers (id, logger_id, tenant_id, name, key_hash, claim_code, created_at)
             VALUES (1, 'esp-1', 1, 'esp-1', 'h', 'c', 0), (2, 'esp-pending', NULL, 'p', 'h', 'c', 0);
             INSERT INTO assets (id, logger_row, tenant_id, pin, name) VALUES (1, 1, 1, 0, 'Press');
             INSERT INTO events (tenant_id, logger_row, asset_id, pin, running, ts, received_at, seq)
             VALUES (1, 1, 1, 0, 1, 10, 10, 1), (1, 1, 1, 0, 0, 20, 20, 2);
             INSERT INTO reasons (id, tenant_id, category, name) VALUES (1, 1, 'Tooling', 'Die change');
             INSERT INTO planned_downtime (tenant_id, asset_id, start_ms, end_ms, created_at)
             VALUES (1, 1, 100, 200, 0);
             INSERT INTO stop_parts (tenant_id, asset_id, stop_start, part_start, reason_id, updated_at)
             VALUES (1, 1, 20, 20, 1, 0);"#,
        )
        .unwrap();
        conn
    }

    fn count(conn: &Connection, sql: &str) -> i64 {
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    #[tokio::test]
    async fn tenant_names_become_labels_and_what_refers_to_tenants_survives() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut conn = schema_8_with_data(&path);
        let tables = [
            "users",
            "sessions",
            "loggers",
            "assets",
            "events",
            "reasons",
            "planned_downtime",
            "stop_parts",
        ];
        let before: Vec<i64> = tables
            .iter()
            .map(|t| count(&conn, &format!("SELECT COUNT(*) FROM {t}")))
            .collect();

        run(&mut conn).unwrap();

        assert_eq!(count(&conn, "PRAGMA user_version"), MIGRATIONS.len() as i64);
        assert_eq!(count(&conn, "PRAGMA foreign_keys"), 1, "turned back on");
        type Row = (i64, String, String, i64, i64, String);
        let tenants: Vec<Row> = conn
            .prepare("SELECT id, name, timezone, short_stop_threshold_s, created_at, shifts FROM tenants ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            tenants,
            [
                (
                    1,
                    "ACME".into(),
                    "Europe/Berlin".into(),
                    120,
                    5,
                    r#"[{"name":"Day"}]"#.into()
                ),
                (2, "Other".into(), "UTC".into(), 300, 6, "[]".into()),
            ]
        );
        let after: Vec<i64> = tables
            .iter()
            .map(|t| count(&conn, &format!("SELECT COUNT(*) FROM {t}")))
            .collect();
        assert_eq!(after, before, "{tables:?}");
        assert_eq!(
            count(&conn, "SELECT COUNT(*) FROM pragma_foreign_key_check"),
            0
        );
        assert_eq!(
            count(
                &conn,
                "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE 'tenants_new%'"
            ),
            0
        );

        // The references hold against the new table: a tenant with people cannot go, a user
        // of no tenant cannot come; and a second tenant may take a name.
        assert!(
            conn.execute("DELETE FROM tenants WHERE id = 1", [])
                .is_err()
        );
        assert!(
            conn.execute(
                "INSERT INTO users (tenant_id, email, password_hash, role, created_at)
                 VALUES (99, 'x@y.example', 'h', 'viewer', 0)",
                [],
            )
            .is_err()
        );
        conn.execute(
            "INSERT INTO tenants (name, created_at) VALUES ('ACME', ?1)",
            params![7],
        )
        .unwrap();
        drop(conn);

        // And the server reads it.
        let store = Sqlite::open(&path).unwrap();
        let (user, tenant, _) = store
            .user_for_login("ada@acme.example".into())
            .await
            .unwrap()
            .expect("the user survived");
        assert_eq!(
            (user.id, tenant.id, tenant.name.as_str()),
            (UserId(1), TenantId(1), "ACME")
        );
        store.close().await;
    }

    #[test]
    fn a_rebuild_that_would_break_references_is_not_applied() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = schema_8_with_data(&dir.path().join("t.db"));
        run(&mut conn).unwrap();
        let mut migrations = MIGRATIONS.to_vec();
        migrations.push("-- rebuilds tables\nDELETE FROM tenants WHERE id = 1;");

        let refused = apply(&mut conn, &migrations).unwrap_err();
        assert!(refused.to_string().contains("break"), "{refused}");
        assert_eq!(count(&conn, "PRAGMA user_version"), MIGRATIONS.len() as i64);
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM tenants WHERE id = 1"), 1);
        assert_eq!(count(&conn, "PRAGMA foreign_keys"), 1, "turned back on");
    }
}
