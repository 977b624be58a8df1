//! `assetlog migrate-to-postgres`: a whole SQLite installation copied into a new PostgreSQL
//! database, ids and key hashes kept, so loggers and people go on with the keys and passwords
//! they have.
//!
//! # How
//! - The SQLite file is opened read-only and read in one transaction (one snapshot: the counts,
//!   the rows and the events agree with each other even if a server still writes). Nothing is
//!   settled: the events still in `events_inbox` are stored events all the same, so they are
//!   copied with `events`, as a settle would have moved them.
//! - A thread of its own reads SQLite in chunks of [`CHUNK`] rows and hands them over a short
//!   channel, so a history of millions of events is never in memory at once.
//! - PostgreSQL gets them by `COPY … FROM STDIN (FORMAT binary)`, every table in one transaction
//!   in the order of their foreign keys. COPY refuses tables under forced row-level security,
//!   so each table's `FORCE` is lifted for its copy and put back before the commit (the role
//!   owns the tables: it made them by applying the migrations); no other session sees the
//!   tables meanwhile, the `ALTER` locks them until the commit. The foreign keys of `events`
//!   are dropped for its copy and made again after it: one check over all rows, not three
//!   lookups per event.
//! - Before the commit: the rows of every table are counted on both sides, and a digest of the
//!   events (an order-free sum of a SHA-256 per event over all its columns) is computed from
//!   what was read out of SQLite and, in SQL, from what PostgreSQL stored. Any difference rolls the
//!   whole copy back.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use bytes::BytesMut;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{IsNull, ToSql, Type};

use super::postgres::{self, Pg, Scope, begin, partitions, redact};
use super::{now_ms, sqlite};

/// Rows per chunk handed from the SQLite reader to the copy.
const CHUNK: usize = 10_000;

/// Chunks waiting between the reader and the copy (so about `CHUNK * QUEUED` rows in memory).
const QUEUED: usize = 4;

/// How a column is stored in PostgreSQL; SQLite holds each as an integer, text or blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// INTEGER → BIGINT.
    Int,
    /// INTEGER → SMALLINT (a pin).
    Small,
    /// INTEGER 0/1 → BOOLEAN.
    Bool,
    Text,
    /// BLOB → BYTEA.
    Bytes,
}

impl Kind {
    fn pg_type(self) -> Type {
        match self {
            Self::Int => Type::INT8,
            Self::Small => Type::INT2,
            Self::Bool => Type::BOOL,
            Self::Text => Type::TEXT,
            Self::Bytes => Type::BYTEA,
        }
    }
}

/// A table copied, with the columns of the final schema (SQLite's order differs where columns
/// were added later; both sides are named by column).
struct Table {
    name: &'static str,
    columns: &'static [(&'static str, Kind)],
}

impl Table {
    /// Tables whose `id` is an identity column in PostgreSQL (its sequence is moved past them).
    fn has_identity(&self) -> bool {
        self.columns[0].0 == "id"
    }

    fn column_list(&self) -> String {
        self.columns
            .iter()
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

use Kind::{Bool, Bytes, Int, Small, Text};

/// Every table of the data, in the order of their foreign keys. SQLite's `events_inbox` is read
/// with `events`.
const TABLES: &[Table] = &[
    Table {
        name: "tenants",
        columns: &[
            ("id", Int),
            ("name", Text),
            ("timezone", Text),
            ("short_stop_threshold_s", Int),
            ("created_at", Int),
            ("shifts", Text),
            ("retention_days", Int),
            ("target_bp", Int),
        ],
    },
    Table {
        name: "users",
        columns: &[
            ("id", Int),
            ("tenant_id", Int),
            ("email", Text),
            ("password_hash", Text),
            ("role", Text),
            ("created_at", Int),
        ],
    },
    Table {
        name: "sessions",
        columns: &[
            ("token_hash", Text),
            ("user_id", Int),
            ("created_at", Int),
            ("expires_at", Int),
        ],
    },
    Table {
        name: "loggers",
        columns: &[
            ("id", Int),
            ("logger_id", Text),
            ("tenant_id", Int),
            ("name", Text),
            ("key_hash", Text),
            ("claim_code", Text),
            ("allow_keyless", Bool),
            ("firmware_version", Text),
            ("ip_address", Text),
            ("rssi", Int),
            ("free_heap", Int),
            ("uptime_s", Int),
            ("queued_events", Int),
            ("last_seen", Int),
            ("online", Bool),
            ("acked_seq", Int),
            ("created_at", Int),
            ("deleted_at", Int),
            ("dropped_events", Int),
            ("pending_events", Int),
            ("remote_address", Text),
        ],
    },
    Table {
        name: "assets",
        columns: &[
            ("id", Int),
            ("logger_row", Int),
            ("tenant_id", Int),
            ("pin", Small),
            ("name", Text),
            ("short_stop_threshold_s", Int),
            ("running", Bool),
            ("since", Int),
            ("last_ts", Int),
            ("rollup_gen", Int),
        ],
    },
    Table {
        name: EVENTS,
        columns: EVENT_COLUMNS,
    },
    Table {
        name: "planned_downtime",
        columns: &[
            ("id", Int),
            ("tenant_id", Int),
            ("asset_id", Int),
            ("start_ms", Int),
            ("end_ms", Int),
            ("note", Text),
            ("created_at", Int),
            ("weekly", Text),
        ],
    },
    Table {
        name: "reasons",
        columns: &[
            ("id", Int),
            ("tenant_id", Int),
            ("category", Text),
            ("name", Text),
        ],
    },
    Table {
        name: "stop_parts",
        columns: &[
            ("tenant_id", Int),
            ("asset_id", Int),
            ("stop_start", Int),
            ("part_start", Int),
            ("reason_id", Int),
            ("comment", Text),
            ("updated_at", Int),
        ],
    },
    Table {
        name: "logger_offline",
        columns: &[
            ("id", Int),
            ("logger_row", Int),
            ("start_ms", Int),
            ("end_ms", Int),
        ],
    },
    Table {
        name: "day_rollups",
        columns: &[
            ("asset_id", Int),
            ("day_start", Int),
            ("tenant_id", Int),
            ("day_end", Int),
            ("figures", Bytes),
        ],
    },
    Table {
        name: "seq_runs",
        columns: &[("logger_row", Int), ("first", Int), ("last", Int)],
    },
    Table {
        name: "alert_channels",
        columns: &[
            ("id", Int),
            ("tenant_id", Int),
            ("body", Text),
            ("created_at", Int),
        ],
    },
    Table {
        name: "displays",
        columns: &[
            ("id", Int),
            ("tenant_id", Int),
            ("name", Text),
            ("token_hash", Text),
            ("created_at", Int),
        ],
    },
    Table {
        name: "alert_rules",
        columns: &[
            ("id", Int),
            ("tenant_id", Int),
            ("body", Text),
            ("created_at", Int),
        ],
    },
    Table {
        name: "alerts",
        columns: &[
            ("id", Int),
            ("tenant_id", Int),
            ("rule_id", Int),
            ("rule_name", Text),
            ("kind", Text),
            ("asset_id", Int),
            ("logger_id", Text),
            ("since", Int),
            ("opened_at", Int),
            ("acknowledged_at", Int),
            ("acknowledged_by", Text),
            ("ack_comment", Text),
            ("cleared_at", Int),
            ("escalated_at", Int),
            ("detail", Text),
        ],
    },
    Table {
        name: "reports",
        columns: &[
            ("id", Int),
            ("tenant_id", Int),
            ("body", Text),
            ("created_at", Int),
        ],
    },
    Table {
        name: "report_runs",
        columns: &[
            ("id", Int),
            ("tenant_id", Int),
            ("report_id", Int),
            ("period_start", Int),
            ("period_end", Int),
            ("created_at", Int),
        ],
    },
    Table {
        name: "alert_deliveries",
        columns: &[
            ("id", Int),
            ("tenant_id", Int),
            ("alert_id", Int),
            ("report_run_id", Int),
            ("channel_id", Int),
            ("channel_name", Text),
            ("event", Text),
            ("message", Text),
            ("state", Text),
            ("due_at", Int),
            ("attempts", Int),
            ("created_at", Int),
        ],
    },
    Table {
        name: "alert_attempts",
        columns: &[
            ("id", Int),
            ("tenant_id", Int),
            ("delivery_id", Int),
            ("at", Int),
            ("ok", Bool),
            ("status", Int),
            ("error", Text),
        ],
    },
];

const EVENTS: &str = "events";

/// The columns of an event, in the order the digest reads them.
const EVENT_COLUMNS: &[(&str, Kind)] = &[
    ("id", Int),
    ("tenant_id", Int),
    ("logger_row", Int),
    ("asset_id", Int),
    ("pin", Small),
    ("running", Bool),
    ("ts", Int),
    ("received_at", Int),
    ("seq", Int),
];

/// The inbox events a settle would move: all but an unnumbered report already in `events` (the
/// settle's `ON CONFLICT DO NOTHING`; PostgreSQL's unique index would refuse it).
const INBOX_MOVED: &str = "FROM events_inbox i WHERE NOT (i.seq IS NULL AND EXISTS (
     SELECT 1 FROM events e WHERE e.seq IS NULL AND e.logger_row = i.logger_row
         AND e.pin = i.pin AND e.ts = i.ts AND e.running = i.running))";

/// One value on its way from SQLite to PostgreSQL.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    Int(i64),
    Small(i16),
    Bool(bool),
    Text(String),
    Bytes(Vec<u8>),
}

impl Cell {
    /// The SQLite value `value` as a column of kind `kind`; the reason when it is not one.
    fn read(value: ValueRef<'_>, kind: Kind) -> Result<Self, String> {
        Ok(match (value, kind) {
            (ValueRef::Null, _) => Self::Null,
            (ValueRef::Integer(v), Kind::Int) => Self::Int(v),
            (ValueRef::Integer(v), Kind::Small) => {
                Self::Small(i16::try_from(v).map_err(|_| format!("{v} does not fit SMALLINT"))?)
            }
            (ValueRef::Integer(0), Kind::Bool) => Self::Bool(false),
            (ValueRef::Integer(1), Kind::Bool) => Self::Bool(true),
            (ValueRef::Integer(v), Kind::Bool) => return Err(format!("{v} is not a flag (0/1)")),
            (ValueRef::Text(text), Kind::Text) => {
                Self::Text(String::from_utf8(text.to_vec()).map_err(|_| "text that is not UTF-8")?)
            }
            (ValueRef::Blob(blob), Kind::Bytes) => Self::Bytes(blob.to_vec()),
            (other, kind) => {
                return Err(format!(
                    "a {:?} value where {kind:?} belongs",
                    other.data_type()
                ));
            }
        })
    }

    fn int(&self) -> Option<i64> {
        match self {
            Self::Int(v) => Some(*v),
            Self::Small(v) => Some(i64::from(*v)),
            Self::Bool(v) => Some(i64::from(*v)),
            _ => None,
        }
    }

    /// Whether PostgreSQL's `ty` takes this value.
    fn fits(&self, ty: &Type) -> bool {
        match self {
            Self::Null => true,
            Self::Int(_) => <i64 as ToSql>::accepts(ty),
            Self::Small(_) => <i16 as ToSql>::accepts(ty),
            Self::Bool(_) => <bool as ToSql>::accepts(ty),
            Self::Text(_) => <String as ToSql>::accepts(ty),
            Self::Bytes(_) => <Vec<u8> as ToSql>::accepts(ty),
        }
    }
}

type BoxError = Box<dyn std::error::Error + Sync + Send>;

impl ToSql for Cell {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        match self {
            Self::Null => Ok(IsNull::Yes),
            Self::Int(v) => v.to_sql(ty, out),
            Self::Small(v) => v.to_sql(ty, out),
            Self::Bool(v) => v.to_sql(ty, out),
            Self::Text(v) => v.to_sql(ty, out),
            Self::Bytes(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        // Which types a cell takes depends on its variant: checked per value below.
        true
    }

    fn to_sql_checked(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        if !self.fits(ty) {
            return Err(format!("{self:?} cannot be stored as {ty}").into());
        }
        self.to_sql(ty, out)
    }
}

/// The digest of a set of events: of each event a SHA-256 over its columns (each NULL as a 0
/// byte, else a 1 byte and the value as a big-endian i64), the first two 64-bit words of it
/// summed over the events, wrapping. The order the events are read in does not matter; a
/// changed, lost or extra event changes it. PostgreSQL computes the same in SQL
/// ([`events_digest`]), so its side costs no transfer of the events.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct EventsDigest {
    first: i64,
    second: i64,
}

impl EventsDigest {
    /// Adds one event; `columns` in the order of [`EVENT_COLUMNS`], each an integer or NULL.
    fn add(&mut self, columns: impl IntoIterator<Item = Option<i64>>) {
        let mut hasher = Sha256::new();
        for value in columns {
            match value {
                Some(v) => {
                    hasher.update([1]);
                    hasher.update(v.to_be_bytes());
                }
                None => hasher.update([0]),
            }
        }
        let hash = hasher.finalize();
        let word = |at: usize| {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&hash[at..at + 8]);
            i64::from_be_bytes(bytes)
        };
        self.first = self.first.wrapping_add(word(0));
        self.second = self.second.wrapping_add(word(8));
    }
}

impl fmt::Display for EventsDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}{:016x}", self.first as u64, self.second as u64)
    }
}

/// What a copy did.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Rows of each table, in the order copied (the same on both sides).
    pub tables: Vec<(&'static str, u64)>,
    /// Of the events, how many were still in SQLite's inbox.
    pub inbox_events: u64,
    /// The digest of the events, the same on both sides.
    pub events_digest: EventsDigest,
    /// Monthly partitions of `events` made for the history.
    pub partitions_made: usize,
    pub elapsed: Duration,
}

impl Summary {
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|(_, n)| n).sum()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (table, rows) in &self.tables {
            write!(f, "{table:>18}  {rows:>12}")?;
            if *table == EVENTS && self.inbox_events > 0 {
                write!(f, "  ({} from the inbox)", self.inbox_events)?;
            }
            writeln!(f)?;
        }
        let seconds = self.elapsed.as_secs_f64();
        writeln!(
            f,
            "events digest {} (same on both sides); {} partitions of events made",
            self.events_digest, self.partitions_made
        )?;
        write!(
            f,
            "{} rows in {seconds:.1} s ({:.0} rows/s)",
            self.rows(),
            self.rows() as f64 / seconds.max(1e-3)
        )
    }
}

/// Copies the SQLite database at `sqlite_path` into the empty PostgreSQL database at
/// `database_url` (its schema is made first), checks the copy and commits it; nothing is
/// written to either side when it fails.
pub async fn migrate(sqlite_path: &Path, database_url: &str) -> anyhow::Result<Summary> {
    let started = Instant::now();
    ensure!(
        sqlite_path.is_file(),
        "no assetlog database at {}: give the --data-dir of the SQLite installation",
        sqlite_path.display()
    );
    let (sender, mut from_sqlite) = mpsc::channel(QUEUED);
    let path = sqlite_path.to_owned();
    let reader = std::thread::Builder::new()
        .name("sqlite-reader".into())
        .spawn(move || read_sqlite(path, sender))
        .context("cannot start the SQLite reader")?;
    // The file is checked before PostgreSQL is touched: a wrong directory changes nothing.
    let survey = match from_sqlite.recv().await {
        Some(Read::Survey(survey)) => survey,
        Some(Read::Failed(e)) => return Err(e),
        _ => bail!("the SQLite reader stopped"),
    };
    let pg = Pg::connect(database_url, postgres::Options::default()).await?;
    let copied = copy(&pg, database_url, &survey, &mut from_sqlite).await;
    pg.close().await;
    drop(from_sqlite);
    let _ = reader.join();
    let (inbox_events, events_digest, partitions_made) = copied?;
    Ok(Summary {
        tables: TABLES
            .iter()
            .map(|t| t.name)
            .zip(survey.counts.iter().copied())
            .collect(),
        inbox_events,
        events_digest,
        partitions_made,
        elapsed: started.elapsed(),
    })
}

/// What the SQLite reader sends, in this order: the survey, then each table's chunks.
enum Read {
    Survey(Survey),
    Chunk(Chunk),
    Failed(anyhow::Error),
}

/// What the snapshot holds, read before any row.
struct Survey {
    /// Rows of each of [`TABLES`] (events with the inbox events a settle would move).
    counts: Vec<u64>,
    inbox_events: u64,
    /// The oldest and newest event.
    span: Option<(i64, i64)>,
}

/// Rows of one table, `columns` cells each, in a flat vector.
struct Chunk {
    table: usize,
    cells: Vec<Cell>,
    /// The table's last chunk (possibly without rows).
    last: bool,
    /// With the last chunk of the events: the digest of all of them.
    digest: EventsDigest,
}

/// The reader thread: sends the survey and every table's rows, from one snapshot.
fn read_sqlite(path: PathBuf, to_copy: mpsc::Sender<Read>) {
    if let Err(e) = read_snapshot(&path, &to_copy) {
        let _ = to_copy.blocking_send(Read::Failed(e));
    }
}

fn read_snapshot(path: &Path, to_copy: &mpsc::Sender<Read>) -> anyhow::Result<()> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("cannot open {} read-only", path.display()))?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .with_context(|| format!("{} is not an assetlog database", path.display()))?;
    let known = sqlite::SCHEMA_VERSION as i64;
    ensure!(
        version <= known,
        "{} has schema version {version}, newer than this assetlog knows ({known}): migrate with \
         the assetlog that wrote it",
        path.display()
    );
    ensure!(
        version == known,
        "{} has schema version {version}, older than this assetlog's ({known}): start `assetlog \
         serve` on it once to bring it up to date, then migrate",
        path.display()
    );
    // One read transaction: everything below is read from the same snapshot.
    conn.execute_batch("BEGIN")?;
    let mut counts = Vec::with_capacity(TABLES.len());
    let mut inbox_events = 0;
    for table in TABLES {
        let mut count: i64 =
            conn.query_row(&format!("SELECT COUNT(*) FROM {}", table.name), [], |r| {
                r.get(0)
            })?;
        if table.name == EVENTS {
            let inbox: i64 =
                conn.query_row(&format!("SELECT COUNT(*) {INBOX_MOVED}"), [], |r| r.get(0))?;
            inbox_events = inbox as u64;
            count += inbox;
        }
        counts.push(count as u64);
    }
    let span: (Option<i64>, Option<i64>) = conn.query_row(
        &format!(
            "SELECT MIN(lo), MAX(hi) FROM (SELECT MIN(ts) AS lo, MAX(ts) AS hi FROM events
             UNION ALL SELECT MIN(ts), MAX(ts) {INBOX_MOVED})"
        ),
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let survey = Survey {
        counts,
        inbox_events,
        span: span.0.zip(span.1),
    };
    if to_copy.blocking_send(Read::Survey(survey)).is_err() {
        return Ok(());
    }
    for (at, table) in TABLES.iter().enumerate() {
        let columns = table.column_list();
        let mut sql = format!("SELECT {columns} FROM {}", table.name);
        if table.name == EVENTS {
            sql.push_str(&format!(" UNION ALL SELECT {columns} {INBOX_MOVED}"));
        }
        let mut statement = conn
            .prepare(&sql)
            .with_context(|| format!("cannot read {} from SQLite", table.name))?;
        let width = table.columns.len();
        let mut rows = statement.query([])?;
        let mut cells = Vec::with_capacity(CHUNK * width);
        let mut digest = EventsDigest::default();
        while let Some(row) = rows.next()? {
            for (i, (column, kind)) in table.columns.iter().enumerate() {
                let cell = Cell::read(row.get_ref(i)?, *kind).map_err(|why| {
                    anyhow::anyhow!(
                        "{}.{column} of the row {:?}: {why}",
                        table.name,
                        row.get_ref(0).map(|v| format!("{v:?}")).unwrap_or_default()
                    )
                })?;
                cells.push(cell);
            }
            if table.name == EVENTS {
                digest.add(cells[cells.len() - width..].iter().map(Cell::int));
            }
            if cells.len() == CHUNK * width {
                let full = std::mem::replace(&mut cells, Vec::with_capacity(CHUNK * width));
                let chunk = Chunk {
                    table: at,
                    cells: full,
                    last: false,
                    digest: EventsDigest::default(),
                };
                if to_copy.blocking_send(Read::Chunk(chunk)).is_err() {
                    return Ok(());
                }
            }
        }
        let chunk = Chunk {
            table: at,
            cells,
            last: true,
            digest,
        };
        if to_copy.blocking_send(Read::Chunk(chunk)).is_err() {
            return Ok(());
        }
    }
    Ok(())
}

/// The rows of every data table of PostgreSQL, as a sentence, unless all are empty.
async fn rows_present(tx: &tokio_postgres::Transaction<'_>) -> anyhow::Result<Option<String>> {
    let mut found = Vec::new();
    for table in TABLES {
        let rows: i64 = tx
            .query_one(&format!("SELECT COUNT(*) FROM {}", table.name), &[])
            .await?
            .get(0);
        if rows > 0 {
            found.push(format!("{rows} {}", table.name));
        }
    }
    Ok((!found.is_empty()).then(|| found.join(", ")))
}

/// The copy into PostgreSQL: partitions, then every table in one checked transaction. Returns
/// the inbox events copied, the events' digest and the partitions made.
async fn copy(
    pg: &Pg,
    url: &str,
    survey: &Survey,
    from_sqlite: &mut mpsc::Receiver<Read>,
) -> anyhow::Result<(u64, EventsDigest, usize)> {
    let not_empty = |rows: String| {
        anyhow::anyhow!(
            "the database at {} is not empty: {rows}; migrate into a new database",
            redact(url)
        )
    };
    let mut client = pg.client().await?;
    // Asked before anything is made, for a clear answer; asked again under the copy's locks.
    {
        let tx = begin(&mut client, Scope::System).await?;
        if let Some(rows) = rows_present(&tx).await? {
            return Err(not_empty(rows));
        }
    }
    let now = now_ms();
    let partitions_made = match survey.span {
        Some((oldest, newest)) => partitions::ensure_from(&mut client, oldest, now.max(newest))
            .await
            .context("cannot make the partitions of events")?,
        None => 0,
    };
    let tx = begin(&mut client, Scope::System).await?;
    let all = TABLES.iter().map(|t| t.name).collect::<Vec<_>>().join(", ");
    // A server started on the database meanwhile waits until the copy is committed.
    tx.batch_execute(&format!("LOCK TABLE {all} IN EXCLUSIVE MODE"))
        .await?;
    if let Some(rows) = rows_present(&tx).await? {
        return Err(not_empty(rows));
    }
    let mut digest = EventsDigest::default();
    let mut next = from_sqlite.recv().await;
    for (at, table) in TABLES.iter().enumerate() {
        let width = table.columns.len();
        let types: Vec<Type> = table.columns.iter().map(|(_, k)| k.pg_type()).collect();
        tx.batch_execute(&format!(
            "ALTER TABLE {} NO FORCE ROW LEVEL SECURITY",
            table.name
        ))
        .await
        .with_context(|| {
            format!(
                "cannot copy into {}: the role of the URL must own the tables (it does when its \
                 server made them)",
                table.name
            )
        })?;
        // The events' foreign keys are checked once over all rows after the copy rather than
        // per row during it (three lookups an event: the copy took twice as long). The same
        // constraints are made again, from their definitions in the catalog.
        let foreign_keys = if table.name == EVENTS {
            drop_foreign_keys(&tx, table.name).await?
        } else {
            Vec::new()
        };
        let table_started = Instant::now();
        let sink = tx
            .copy_in(&format!(
                "COPY {} ({}) FROM STDIN (FORMAT binary)",
                table.name,
                table.column_list()
            ))
            .await?;
        let writer = BinaryCopyInWriter::new(sink, &types);
        let mut writer = std::pin::pin!(writer);
        let mut sent = 0u64;
        loop {
            let chunk = match next.take() {
                Some(Read::Chunk(chunk)) if chunk.table == at => chunk,
                Some(Read::Failed(e)) => return Err(e),
                _ => bail!("the SQLite reader stopped in {}", table.name),
            };
            for row in chunk.cells.chunks_exact(width) {
                writer
                    .as_mut()
                    .write_raw(row.iter())
                    .await
                    .with_context(|| format!("copying {}", table.name))?;
            }
            sent += (chunk.cells.len() / width) as u64;
            next = from_sqlite.recv().await;
            if chunk.last {
                if table.name == EVENTS {
                    digest = chunk.digest;
                }
                break;
            }
        }
        let stored = writer
            .as_mut()
            .finish()
            .await
            .with_context(|| format!("copying {}", table.name))?;
        for (name, definition) in foreign_keys {
            tx.batch_execute(&format!(
                "ALTER TABLE {} ADD CONSTRAINT {name} {definition}",
                table.name
            ))
            .await
            .with_context(|| format!("{}: a row refers to nothing ({definition})", table.name))?;
        }
        tx.batch_execute(&format!(
            "ALTER TABLE {} FORCE ROW LEVEL SECURITY",
            table.name
        ))
        .await?;
        let counted: i64 = tx
            .query_one(&format!("SELECT COUNT(*) FROM {}", table.name), &[])
            .await?
            .get(0);
        ensure!(
            sent == survey.counts[at] && stored == sent && counted as u64 == sent,
            "{}: SQLite has {} rows, {sent} were read, PostgreSQL stored {stored} and counts \
             {counted}: nothing is copied",
            table.name,
            survey.counts[at]
        );
        if table.has_identity() {
            // The next row made gets an id above every copied one.
            tx.execute(
                &format!(
                    "SELECT setval(pg_get_serial_sequence($1, 'id'), GREATEST(MAX(id), 1),
                                   MAX(id) IS NOT NULL)
                     FROM {}",
                    table.name
                ),
                &[&table.name],
            )
            .await?;
        }
        tracing::info!(
            table = table.name,
            rows = sent,
            seconds = table_started.elapsed().as_secs_f64(),
            "copied"
        );
    }
    let digest_started = Instant::now();
    let stored = events_digest(&tx).await?;
    tracing::info!(
        seconds = digest_started.elapsed().as_secs_f64(),
        "computed the digest of the events stored"
    );
    ensure!(
        stored == digest,
        "the events PostgreSQL stored (digest {stored}) differ from SQLite's ({digest}): nothing \
         is copied"
    );
    tx.commit().await.context("cannot commit the copy")?;
    Ok((survey.inbox_events, digest, partitions_made))
}

/// Drops the foreign keys of `table`; their names and definitions, to make them again.
async fn drop_foreign_keys(
    tx: &tokio_postgres::Transaction<'_>,
    table: &str,
) -> anyhow::Result<Vec<(String, String)>> {
    let keys: Vec<(String, String)> = tx
        .query(
            "SELECT conname::text, pg_get_constraintdef(oid) FROM pg_constraint
             WHERE conrelid = $1::text::regclass AND contype = 'f' ORDER BY conname",
            &[&table],
        )
        .await?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    for (name, _) in &keys {
        tx.batch_execute(&format!("ALTER TABLE {table} DROP CONSTRAINT {name}"))
            .await?;
    }
    Ok(keys)
}

/// The digest of the events PostgreSQL holds, computed in SQL as [`EventsDigest::add`] does.
async fn events_digest(tx: &tokio_postgres::Transaction<'_>) -> anyhow::Result<EventsDigest> {
    let encoded: Vec<String> = EVENT_COLUMNS
        .iter()
        .map(|(name, kind)| {
            let value = match kind {
                Kind::Bool => format!("{name}::int::bigint"),
                _ => format!("{name}::bigint"),
            };
            format!("CASE WHEN {name} IS NULL THEN '\\x00'::bytea ELSE '\\x01'::bytea || int8send({value}) END")
        })
        .collect();
    let word = |at: usize| {
        format!(
            "COALESCE(SUM(('x' || encode(substr(h, {at}, 8), 'hex'))::bit(64)::bigint), 0)::text"
        )
    };
    let row = tx
        .query_one(
            &format!(
                "SELECT {}, {} FROM (SELECT sha256({}) AS h FROM events) hashed",
                word(1),
                word(9),
                encoded.join(" || ")
            ),
            &[],
        )
        .await?;
    // Exact sums (NUMERIC), wrapped to 64 bits as Rust's sums are.
    let wrapped = |i: usize| -> anyhow::Result<i64> {
        let sum: String = row.get(i);
        Ok(sum.parse::<i128>().context("a digest sum")? as i64)
    };
    Ok(EventsDigest {
        first: wrapped(0)?,
        second: wrapped(1)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_values_become_the_postgres_kinds_or_are_refused() {
        assert_eq!(
            Cell::read(ValueRef::Integer(1), Kind::Bool),
            Ok(Cell::Bool(true))
        );
        assert_eq!(
            Cell::read(ValueRef::Integer(0), Kind::Bool),
            Ok(Cell::Bool(false))
        );
        assert!(Cell::read(ValueRef::Integer(2), Kind::Bool).is_err());
        assert_eq!(
            Cell::read(ValueRef::Integer(63), Kind::Small),
            Ok(Cell::Small(63))
        );
        assert!(Cell::read(ValueRef::Integer(70_000), Kind::Small).is_err());
        assert_eq!(Cell::read(ValueRef::Null, Kind::Text), Ok(Cell::Null));
        assert!(Cell::read(ValueRef::Text(b"1"), Kind::Int).is_err());
        assert!(Cell::read(ValueRef::Real(1.5), Kind::Int).is_err());
        assert_eq!(
            Cell::read(ValueRef::Blob(&[1, 2]), Kind::Bytes),
            Ok(Cell::Bytes(vec![1, 2]))
        );
    }

    #[test]
    fn the_events_digest_ignores_order_and_sees_any_change() {
        let a = [
            Some(1),
            None,
            Some(2),
            Some(3),
            Some(0),
            Some(1),
            Some(10),
            Some(11),
            None,
        ];
        let mut b = a;
        b[5] = Some(0);
        let digest = |events: &[[Option<i64>; 9]]| {
            let mut d = EventsDigest::default();
            for e in events {
                d.add(e.iter().copied());
            }
            d
        };
        assert_eq!(digest(&[a, b]), digest(&[b, a]));
        assert_ne!(digest(&[a]), digest(&[b]));
        assert_ne!(digest(&[a, a]), digest(&[a]));
        let mut null_seq = a;
        null_seq[8] = Some(0);
        assert_ne!(digest(&[a]), digest(&[null_seq]));
    }

    #[test]
    fn every_table_is_copied_after_those_it_refers_to() {
        let at = |name: &str| TABLES.iter().position(|t| t.name == name).unwrap();
        for (table, refers_to) in [
            ("users", "tenants"),
            ("sessions", "users"),
            ("loggers", "tenants"),
            ("assets", "loggers"),
            ("events", "assets"),
            ("planned_downtime", "assets"),
            ("stop_parts", "reasons"),
            ("stop_parts", "assets"),
            ("logger_offline", "loggers"),
            ("day_rollups", "assets"),
            ("seq_runs", "loggers"),
            ("alerts", "tenants"),
            ("alert_deliveries", "alerts"),
            ("alert_deliveries", "report_runs"),
            ("report_runs", "tenants"),
            ("alert_attempts", "alert_deliveries"),
        ] {
            assert!(at(refers_to) < at(table), "{table} before {refers_to}");
        }
    }
}
