//! The schema: `migrations/postgres/NNNN_*.sql`, applied in order at start, each in its own
//! transaction. Replicas that start together take turns: the migrations run under an advisory
//! lock, and each reads the applied version only once it holds the lock.

use anyhow::Context;
use deadpool_postgres::Object;

use super::super::now_ms;

/// The migrations, in order; the version of each is its place in the list, from 1.
pub(super) const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/postgres/0001_init.sql"),
    include_str!("../../../migrations/postgres/0002_retention.sql"),
    include_str!("../../../migrations/postgres/0003_alerts.sql"),
    include_str!("../../../migrations/postgres/0004_reports.sql"),
    include_str!("../../../migrations/postgres/0005_one_stop_definition.sql"),
    include_str!("../../../migrations/postgres/0006_lines_and_targets.sql"),
];

/// The key of the advisory lock the migrations run under (any number, the same in every replica).
const MIGRATION_LOCK: i64 = 0x6173_7365_746c_6f67; // "assetlog"

pub(super) async fn run(client: &mut Object) -> anyhow::Result<()> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .context("cannot take the migration lock")?;
    let applied = apply(client).await;
    // Released also when applying failed; the session ending would release it too.
    let _ = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await;
    applied
}

async fn apply(client: &mut Object) -> anyhow::Result<()> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    BIGINT PRIMARY KEY,
                 applied_at BIGINT NOT NULL
             )",
        )
        .await
        .context("cannot make the table of migrations")?;
    let version: i64 = client
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )
        .await?
        .get(0);
    let known = MIGRATIONS.len() as i64;
    if version > known {
        anyhow::bail!(
            "the database has schema version {version}, newer than this assetlog knows ({known}): \
             run the newer assetlog, or restore a backup made for this one"
        );
    }
    for (at, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let number = at as i64 + 1;
        let tx = client.transaction().await?;
        tx.batch_execute(sql)
            .await
            .with_context(|| format!("PostgreSQL migration {number} failed"))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
            &[&number, &now_ms()],
        )
        .await?;
        tx.commit().await?;
        tracing::info!(version = number, "applied PostgreSQL migration");
    }
    Ok(())
}
