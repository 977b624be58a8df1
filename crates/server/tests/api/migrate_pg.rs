//! `assetlog migrate-to-postgres`: a demo's SQLite installation, with its week of history, copied
//! into a new PostgreSQL database. Needs `ASSETLOG_TEST_DATABASE_URL` (a role that may create
//! databases); without it these tests return at once.

use std::path::{Path, PathBuf};
use std::process::Output;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::demo::start_demo;
use crate::helpers::*;

/// A database of its own for one test, dropped when it ends.
struct FreshDatabase {
    admin: String,
    name: String,
    url: String,
}

impl FreshDatabase {
    fn create() -> Option<Self> {
        let admin = std::env::var(TEST_DATABASE_ENV).ok()?;
        let unique = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let name = format!("assetlog_m_{:x}_{unique:x}", std::process::id());
        let (server, _) = admin
            .rsplit_once('/')
            .expect("the test database URL ends in /DATABASE");
        let url = format!("{server}/{name}");
        admin_sql(&admin, format!("CREATE DATABASE {name}"));
        Some(Self { admin, name, url })
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        admin_sql(
            &self.admin,
            format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

/// Runs `sql` on the admin database, from a thread of its own (callers may be in a runtime).
fn admin_sql(admin: &str, sql: String) {
    let admin = admin.to_owned();
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let (client, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
                    .await
                    .expect("the test database server answers");
                tokio::spawn(connection);
                client.batch_execute(&sql).await.expect(&sql);
            });
    })
    .join()
    .unwrap();
}

/// The row count of every data table (PostgreSQL's names; SQLite's inbox counted with events).
const TABLES: [&str; 12] = [
    "tenants",
    "users",
    "sessions",
    "loggers",
    "assets",
    "events",
    "planned_downtime",
    "reasons",
    "stop_parts",
    "logger_offline",
    "day_rollups",
    "seq_runs",
];

fn sqlite_counts(data: &Path) -> Vec<i64> {
    let conn = rusqlite::Connection::open_with_flags(
        assetlog_server::startup::database_path(data),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    TABLES
        .iter()
        .map(|table| {
            let mut sql = format!("SELECT COUNT(*) FROM {table}");
            if *table == "events" {
                sql = format!("SELECT ({sql}) + (SELECT COUNT(*) FROM events_inbox)");
            }
            conn.query_row(&sql, [], |r| r.get(0)).unwrap()
        })
        .collect()
}

async fn postgres_counts(url: &str) -> Vec<i64> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    // The tables have row-level security: the server's own scope sees every tenant.
    client
        .batch_execute("SET assetlog.system = 'on'")
        .await
        .unwrap();
    let mut counts = Vec::new();
    for table in TABLES {
        let row = client
            .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])
            .await
            .unwrap();
        counts.push(row.get(0));
    }
    counts
}

fn migrate(data: &Path, url: &str) -> Output {
    assetlog()
        .args(["migrate-to-postgres", "--data-dir"])
        .arg(data)
        .env("DATABASE_URL", url)
        .output()
        .expect("the command runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A demo installation, run until it had its week of history, with one logger of known key
/// whose last event is still in SQLite's inbox, copied into `db`.
struct Migrated {
    _dir: TempDir,
    data: PathBuf,
    db: FreshDatabase,
    device: Device,
    /// A time before the demo started: the analytics window ends here, so neither server's
    /// own doings after the copy (a logger found offline) reach into it.
    before_demo: i64,
    output: Output,
}

async fn migrated_demo() -> Option<Migrated> {
    let db = FreshDatabase::create()?;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let before_demo = now_ms() - 1_000;
    let device = {
        let demo = start_demo(&data);
        let app = demo.app(tempfile::tempdir().unwrap());
        // The demo enrolls new loggers into its tenant at once.
        let device = app.register("esp-migrated").await;
        let resp = app
            .asset_state(
                &device,
                json!({"pin_number": 0, "is_running": true, "timestamp": now_ms() - 5_000}),
            )
            .await;
        assert!(resp.status().is_success(), "{}", resp.status());
        device
        // Killed here, as a crash would: the newest events stay in the inbox.
    };
    // What a crash leaves in the inbox: an event stored but not yet moved into `events`.
    rusqlite::Connection::open(assetlog_server::startup::database_path(&data))
        .unwrap()
        .execute(
            "INSERT INTO events_inbox (id, tenant_id, logger_row, asset_id, pin, running, ts,
                                       received_at, seq)
             SELECT (SELECT MAX(id) FROM events) + 1000, tenant_id, logger_row, asset_id, pin,
                    1 - running, ts + 1, received_at + 1, NULL
             FROM events ORDER BY ts DESC LIMIT 1",
            [],
        )
        .unwrap();
    let output = migrate(&data, &db.url);
    Some(Migrated {
        _dir: dir,
        data,
        db,
        device,
        before_demo,
        output,
    })
}

#[tokio::test]
async fn a_demo_installation_is_copied_whole_and_a_second_copy_is_refused() {
    let Some(m) = migrated_demo().await else {
        return;
    };
    let stdout = text(&m.output.stdout);
    assert!(
        m.output.status.success(),
        "{stdout}\n{}",
        text(&m.output.stderr)
    );
    assert!(stdout.contains("events digest"), "{stdout}");
    assert!(stdout.contains("from the inbox)"), "{stdout}");
    let sqlite = sqlite_counts(&m.data);
    let postgres = postgres_counts(&m.db.url).await;
    assert_eq!(
        TABLES.iter().zip(&postgres).collect::<Vec<_>>(),
        TABLES.iter().zip(&sqlite).collect::<Vec<_>>()
    );
    let events = sqlite[5];
    assert!(events > 1_000, "a week of history: {events} events");
    assert!(
        stdout.contains(&format!(" {events}")),
        "the summary counts the events: {stdout}"
    );

    let again = migrate(&m.data, &m.db.url);
    assert!(!again.status.success());
    let stderr = text(&again.stderr);
    assert!(
        stderr.contains("is not empty") && stderr.contains("tenants"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(":assetlog@"),
        "no password in messages: {stderr}"
    );
    assert_eq!(postgres_counts(&m.db.url).await, postgres, "nothing added");
}

/// Needs the PostgreSQL backend's accounts, devices and fleet methods (ported on other branches).
#[tokio::test]
async fn after_the_copy_keys_passwords_and_figures_are_those_of_sqlite() {
    let Some(m) = migrated_demo().await else {
        return;
    };
    assert!(m.output.status.success(), "{}", text(&m.output.stderr));
    let sqlite_server = ServerProcess::start_on(&m.data, None, &[]);
    let pg_dir = tempfile::tempdir().unwrap();
    let pg_server = ServerProcess::start_on(&pg_dir.path().join("data"), Some(&m.db.url), &[]);
    let sqlite_app = sqlite_server.app(tempfile::tempdir().unwrap());
    let pg_app = pg_server.app(tempfile::tempdir().unwrap());

    // The logger's key and the person's password work as before.
    let resp = pg_app
        .asset_state(
            &m.device,
            json!({"pin_number": 0, "is_running": false, "timestamp": now_ms()}),
        )
        .await;
    assert!(resp.status().is_success(), "{}", resp.status());
    let token = |resp: reqwest::Response| async move {
        assert_eq!(resp.status(), StatusCode::OK);
        let body: Value = resp.json().await.unwrap();
        body["token"].as_str().unwrap().to_owned()
    };
    let pg_token = token(pg_app.login(DEMO_EMAIL, DEMO_PASSWORD).await).await;
    let sqlite_token = token(sqlite_app.login(DEMO_EMAIL, DEMO_PASSWORD).await).await;

    // The same questions about the demo's week, the same answers.
    let to = m.before_demo;
    let from = to - 7 * 86_400_000;
    for query in [
        format!("/api/v1/analytics?from={from}&to={to}&bucket=day"),
        format!("/api/v1/analytics?from={from}&to={to}&bucket=hour"),
        format!("/api/v1/stops?from={from}&to={to}"),
    ] {
        let on_sqlite = settled(sqlite_app.get_json(&query, &sqlite_token).await);
        let on_postgres = settled(pg_app.get_json(&query, &pg_token).await);
        assert_eq!(on_postgres, on_sqlite, "{query}");
    }
}

/// An answer without what depends on the moment it was asked: an ongoing stop lasts until now.
fn settled(mut answer: Value) -> Value {
    if let Some(stops) = answer.as_array_mut() {
        for stop in stops.iter_mut().filter(|s| s["ongoing"] == true) {
            let stop = stop.as_object_mut().expect("a stop is an object");
            for moving in ["end", "duration_ms", "stop_duration_ms"] {
                stop.remove(moving);
            }
        }
    }
    answer
}

const DEMO_EMAIL: &str = "demo@assetlog.example";
const DEMO_PASSWORD: &str = "assetlog-demo";

#[tokio::test]
async fn a_missing_installation_or_an_unreachable_database_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = migrate(
        &dir.path().join("nothing"),
        "postgres://u:p@127.0.0.1:1/none",
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("no assetlog database at"), "{stderr}");

    // A real installation, a database server that is not there.
    let data = dir.path().join("data");
    assetlog_server::startup::open_store(&data)
        .unwrap()
        .close()
        .await;
    let out = migrate(&data, "postgres://u:s3cret@127.0.0.1:1/none");
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("cannot connect to PostgreSQL at postgres://u@127.0.0.1:1/none"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret"), "{stderr}");
}
