//! Opening the database file, and the full check of `assetlog check`.
//!
//! At start only what is cheap is checked: the file's header (a SQLite database, a page size it
//! can have) and its schema (it parses, it has every table the migrations make, it is not from
//! a newer assetlog). A full `PRAGMA integrity_check` reads every page (15 s for 555 MB), so it
//! runs on demand only ([`check_integrity`], `assetlog check`).
//!
//! On a full disk the database may not even be openable for writing (SQLite cannot size its
//! shared-memory file). Then the store opens read-only: one connection in exclusive locking
//! mode, which keeps the WAL index in its own memory, serves the reads, and every write is
//! answered `StoreError::Full` until the server is restarted with space.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags};

use super::checkpoint::{self, Checkpointer};
use super::health::{Fault, Health, fault_of, free_space, low_space};
use super::migrate::MIGRATIONS;
use super::writer::Writer;
use super::{Inner, Sqlite, StoreError, events_only_when_settled, inbox, pending};

/// Prepared statements a connection keeps: more than the store has distinct cached ones, so a
/// busy writer never re-parses its hot statements (rusqlite keeps 16 by default).
const STATEMENT_CACHE: usize = 64;

/// Connections of the read pool of a writable store.
const READERS: u32 = 8;

pub(super) fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // FULL: a committed transaction survives power loss, not only a crash of this process.
    // temp_store MEMORY: each job's savepoint journals the pages it changes; for a batch that is
    // more than SQLite's 64 KiB in-memory limit, and the journal went to a temporary file.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;",
    )
}

/// Why a writable open failed.
enum Failed {
    /// For lack of space: the store can still open read-only.
    Full(Fault),
    Other(anyhow::Error),
}

impl From<anyhow::Error> for Failed {
    fn from(e: anyhow::Error) -> Self {
        Self::Other(e)
    }
}

/// Turns an error of `conn` while `doing` into a [`Failed`].
fn failed(conn: &Connection, path: &Path, doing: &str) -> impl Fn(rusqlite::Error) -> Failed {
    move |e| match Fault::of(&e, Some(conn)) {
        Some(fault) if fault.full => Failed::Full(fault),
        _ => Failed::Other(damaged_or(e, path, doing)),
    }
}

/// A clear message for a damaged file; other errors say what was being done.
fn damaged_or(e: rusqlite::Error, path: &Path, doing: &str) -> anyhow::Error {
    use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
    match e.sqlite_error_code() {
        Some(DatabaseCorrupt | NotADatabase) => anyhow::anyhow!(
            "database {} is damaged ({e}): `assetlog check --data-dir {}` checks all of it; \
             restore it from a backup",
            path.display(),
            data_dir(path).display()
        ),
        _ => anyhow::anyhow!("{doing} {}: {e}", path.display()),
    }
}

fn data_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

impl Sqlite {
    /// Opens (creating if needed) the database file and applies pending migrations; on a full
    /// disk, opens it read-only with a warning (module documentation).
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        check_header(path)?;
        match open_writable(path) {
            Ok(store) => Ok(store),
            Err(Failed::Other(e)) => Err(e),
            Err(Failed::Full(fault)) => open_read_only(path, fault),
        }
    }
}

fn open_writable(path: &Path) -> Result<Sqlite, Failed> {
    // Only the writer thread uses this connection, so it needs no per-call mutex either.
    let mut conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| Failed::Other(damaged_or(e, path, "cannot open database")))?;
    configure(&conn).map_err(failed(&conn, path, "cannot open database"))?;
    check_schema(&conn).map_err(failed(&conn, path, "cannot read the schema of"))?;
    migrate(&mut conn, path)?;
    verify_tables(&conn, path)?;
    // Events a stop or crash left in the inbox join the history before anyone reads it; on a
    // full disk they wait for the first settle that has space.
    let settled = conn.transaction().map_err(StoreError::from).and_then(|tx| {
        inbox::settle(&tx)?;
        Ok(tx.commit()?)
    });
    if let Err(e) = settled {
        match fault_of(&e, &conn) {
            Some(fault) if fault.full => tracing::warn!(
                "{}: the events inbox stays as it is until there is space",
                fault.message
            ),
            _ => {
                return Err(Failed::Other(anyhow::anyhow!(
                    "cannot move the events inbox of {}: {e}",
                    path.display()
                )));
            }
        }
    }
    conn.pragma_update(
        None,
        "wal_autocheckpoint",
        checkpoint::WRITER_BACKSTOP_PAGES,
    )
    .map_err(failed(&conn, path, "cannot configure"))?;

    let manager = SqliteConnectionManager::file(path)
        // The pool lends a connection to one thread at a time, so SQLite's per-call mutex
        // (taken on every column read) is not needed.
        .with_flags(OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .with_init(|c| init_reader(c, ""));
    let readers = r2d2::Pool::builder()
        .max_size(READERS)
        .build(manager)
        .context("cannot open the database's readers")?;
    let disk = data_dir(path);
    let health = Arc::new(Health::on(disk.to_owned()));
    if let Some(fault) = low_space(free_space(disk)) {
        tracing::warn!(
            database = %path.display(),
            "{}: the server started, but writes that do not fit are answered 507 \
             storage_full, and /healthz reports the disk full until there is space",
            fault.message
        );
    }
    Ok(Sqlite {
        inner: Arc::new(Inner {
            writer: Writer::start(conn, health.clone()).context("cannot start the writer")?,
            checkpointer: Some(Checkpointer::start(path)?),
            health,
            readers,
            devices: Default::default(),
            pending: pending::Caps::default(),
        }),
    })
}

fn init_reader(c: &mut Connection, first: &str) -> rusqlite::Result<()> {
    c.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    c.busy_timeout(std::time::Duration::from_secs(5))?;
    // Reads through a memory map share the OS page cache instead of copying pages into each
    // connection's own cache: long analytics windows read many pages.
    c.execute_batch(&format!(
        "{first} PRAGMA query_only = ON; PRAGMA mmap_size = 2147418112;"
    ))?;
    c.authorizer(Some(events_only_when_settled))
}

fn open_read_only(path: &Path, fault: Fault) -> anyhow::Result<Sqlite> {
    let reason = format!(
        "{}: the server started read-only; free space on it and restart the server",
        fault.message
    );
    // Exclusive locking mode, set before the first read: SQLite keeps the WAL index in the
    // connection's memory instead of the shared-memory file it has no space to make. Opened
    // for writing (never used so) so that it can open the WAL; `query_only` keeps it reading.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    const EXCLUSIVE: &str = "PRAGMA locking_mode = EXCLUSIVE;";
    {
        let mut conn = Connection::open_with_flags(path, flags)
            .with_context(|| format!("cannot open database {} read-only", path.display()))?;
        init_reader(&mut conn, EXCLUSIVE).map_err(|e| {
            damaged_or(
                e,
                path,
                "the disk is full; cannot open for reading the database",
            )
        })?;
        check_schema(&conn).map_err(|e| damaged_or(e, path, "cannot read the schema of"))?;
        let version = schema_version(&conn)?;
        anyhow::ensure!(
            version == MIGRATIONS.len(),
            "the disk of database {} is full: it cannot be brought to this build's schema \
             ({version} of {}); free space on it",
            path.display(),
            MIGRATIONS.len()
        );
        verify_tables(&conn, path)?;
    }
    let manager = SqliteConnectionManager::file(path)
        .with_flags(flags)
        .with_init(|c| init_reader(c, EXCLUSIVE));
    // One connection: in exclusive mode it holds the file.
    let readers = r2d2::Pool::builder()
        .max_size(1)
        .build(manager)
        .context("cannot open the database's reader")?;
    tracing::warn!(
        database = %path.display(),
        "{reason}. Reads are served; writes are answered 507 storage_full"
    );
    let health = Arc::new(Health::read_only(reason));
    Ok(Sqlite {
        inner: Arc::new(Inner {
            writer: Writer::refusing(health.clone()),
            checkpointer: None,
            health,
            readers,
            devices: Default::default(),
            pending: pending::Caps::default(),
        }),
    })
}

/// The first 100 bytes of a SQLite file say what it is: checked before SQLite reads anything,
/// so a damaged or foreign file is refused with a message that says so. A missing or empty
/// file is a new database.
fn check_header(path: &Path) -> anyhow::Result<()> {
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut header = Vec::with_capacity(100);
    file.by_ref()
        .take(100)
        .read_to_end(&mut header)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if header.is_empty() {
        return Ok(());
    }
    header_problem(&header).map_or(Ok(()), |problem| {
        Err(anyhow::anyhow!(
            "database {} is not a SQLite database or its header is damaged: {problem}; \
             restore it from a backup (or move it away to start with an empty database)",
            path.display()
        ))
    })
}

/// What is wrong with a database header, if anything (sqlite.org/fileformat.html, 1.3).
pub(crate) fn header_problem(header: &[u8]) -> Option<String> {
    if header.len() < 100 {
        return Some(format!(
            "the file is {} bytes, shorter than a header",
            header.len()
        ));
    }
    if &header[..16] != b"SQLite format 3\0" {
        return Some("it does not begin with \"SQLite format 3\"".into());
    }
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536,
        n => u32::from(n),
    };
    if !(512..=65_536).contains(&page_size) || !page_size.is_power_of_two() {
        return Some(format!("its page size {page_size} is impossible"));
    }
    if header[21..24] != [64, 32, 32] {
        return Some("its payload fractions are not 64, 32, 32".into());
    }
    None
}

/// Reads the schema (SQLite parses all of `sqlite_master` on the first statement).
fn check_schema(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row("PRAGMA schema_version", [], |r| r.get::<_, i64>(0))?;
    conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })?;
    Ok(())
}

fn schema_version(conn: &Connection) -> anyhow::Result<usize> {
    let applied: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    Ok(usize::try_from(applied).unwrap_or(usize::MAX))
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), Failed> {
    super::migrate::run(conn).map_err(|e| {
        let fault = e
            .downcast_ref::<rusqlite::Error>()
            .and_then(|sqlite| Fault::of(sqlite, Some(conn)));
        match fault {
            Some(fault) if fault.full => Failed::Full(fault),
            _ => Failed::Other(e.context(format!("cannot migrate database {}", path.display()))),
        }
    })
}

/// Checks that every table and index the migrations make is there (a file whose schema was
/// damaged, or changed by hand, is refused at start rather than failing requests later).
fn verify_tables(conn: &Connection, path: &Path) -> anyhow::Result<()> {
    let names = |conn: &Connection| -> rusqlite::Result<std::collections::BTreeSet<String>> {
        conn.prepare(
            "SELECT type || ' ' || name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'",
        )?
        .query_map([], |r| r.get(0))?
        .collect()
    };
    let expected = {
        let fresh = Connection::open_in_memory()?;
        for sql in MIGRATIONS {
            fresh.execute_batch(sql)?;
        }
        names(&fresh)?
    };
    let found = names(conn).map_err(|e| damaged_or(e, path, "cannot read the schema of"))?;
    let missing: Vec<&String> = expected.difference(&found).collect();
    anyhow::ensure!(
        missing.is_empty(),
        "database {} is damaged: its schema lacks {}; restore it from a backup",
        path.display(),
        missing
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

/// What `assetlog check` found.
#[derive(Debug)]
pub struct Integrity {
    /// The problems `PRAGMA integrity_check` listed; empty when the database is sound.
    pub problems: Vec<String>,
    /// Pages read.
    pub pages: i64,
}

/// The full check: the header, then `PRAGMA integrity_check` over every page, on a read-only
/// connection (the server may be running meanwhile).
pub fn check_integrity(path: &Path) -> anyhow::Result<Integrity> {
    anyhow::ensure!(path.exists(), "there is no database at {}", path.display());
    if let Err(e) = check_header(path) {
        return Ok(Integrity {
            problems: vec![format!("{e:#}")],
            pages: 0,
        });
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("cannot open database {}", path.display()))?;
    let run = || -> rusqlite::Result<Integrity> {
        let pages = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        let problems: Vec<String> = conn
            .prepare("PRAGMA integrity_check")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(Integrity {
            problems: problems.into_iter().filter(|p| p != "ok").collect(),
            pages,
        })
    };
    match run() {
        Ok(found) => Ok(found),
        Err(e) => match e.sqlite_error_code() {
            // Damaged so badly that the check itself cannot run: that is its finding.
            Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase) => {
                Ok(Integrity {
                    problems: vec![e.to_string()],
                    pages: 0,
                })
            }
            _ => Err(e).with_context(|| format!("cannot check database {}", path.display())),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_that_are_not_sqlite_are_told_why() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        let good = std::fs::read(&path).unwrap();
        assert_eq!(header_problem(&good[..100]), None);
        let mut bad = good.clone();
        bad[..6].copy_from_slice(b"garbag");
        assert!(header_problem(&bad).unwrap().contains("SQLite format 3"));
        let mut bad = good.clone();
        bad[16..18].copy_from_slice(&3000u16.to_be_bytes());
        assert!(header_problem(&bad).unwrap().contains("page size 3000"));
        assert!(header_problem(&good[..40]).unwrap().contains("40 bytes"));
    }
}
