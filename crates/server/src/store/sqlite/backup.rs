//! The online backup of `assetlog backup`: a copy of the database file, consistent, made while
//! the server runs and writes.
//!
//! # Why `VACUUM INTO`, not the backup API
//! `VACUUM INTO` reads the whole database inside one read transaction. In WAL mode a read
//! transaction sees one snapshot, the database as of its first read, and neither blocks the
//! writer nor is blocked by it: the server goes on committing (into the WAL) while the copy is
//! written, and the copy holds exactly the transactions committed before it began. It also
//! leaves out free pages, so the copy is compact, and it is one plain file with no `-wal`.
//!
//! SQLite's backup API (rusqlite's `Connection::backup`) copies a number of pages per step and
//! ends its read transaction between steps. When another connection writes in between (our
//! writer thread commits every few milliseconds under load), the next step restarts the copy
//! from the first page: under a steady stream of reports it may never finish. Copying all pages
//! in one step would give a snapshot too, the same as `VACUUM INTO` without the compaction.
//!
//! While the copy is made, the background checkpoint cannot move the WAL past the snapshot, so
//! the WAL grows for as long as the backup runs and shrinks at the first checkpoint after.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use rusqlite::{Connection, OpenFlags};

/// What `assetlog backup` made.
#[derive(Debug)]
pub struct Backup {
    /// Bytes of the backup file.
    pub bytes: u64,
}

/// Copies the database at `database` into a new file `to`, consistent as of the moment the copy
/// began, while a server may be running and writing. Refuses when `to` exists; on failure leaves
/// nothing at `to`.
pub fn backup(database: &Path, to: &Path) -> anyhow::Result<Backup> {
    anyhow::ensure!(
        database.exists(),
        "there is no database at {} (a PostgreSQL installation is backed up with pg_dump: \
         docs/OPERATIONS.md)",
        database.display()
    );
    // The name is taken at once, atomically, so two backups cannot both write it, and nothing
    // that exists is ever overwritten. The copy is made beside it and moved over it when whole:
    // an interrupted backup leaves an empty file at `to` (and a partial one beside it), never a
    // truncated database that looks whole.
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(to)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => anyhow::anyhow!(
                "{} exists already: the backup overwrites nothing; name a new file",
                to.display()
            ),
            _ => anyhow::Error::new(e).context(format!("cannot create {}", to.display())),
        })?;
    let partial = partial_path(to);
    let made = copy(database, &partial).and_then(|()| {
        std::fs::rename(&partial, to)
            .with_context(|| format!("cannot move {} to {}", partial.display(), to.display()))?;
        sync_dir(to)?;
        Ok(std::fs::metadata(to)?.len())
    });
    match made {
        Ok(bytes) => Ok(Backup { bytes }),
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            let _ = std::fs::remove_file(to);
            Err(e)
        }
    }
}

/// `to` with `.partial` appended to its name.
fn partial_path(to: &Path) -> PathBuf {
    let mut name = to.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    to.with_file_name(name)
}

fn copy(database: &Path, partial: &Path) -> anyhow::Result<()> {
    let target = partial
        .to_str()
        .with_context(|| format!("the backup path {} is not UTF-8", partial.display()))?;
    anyhow::ensure!(
        !partial.exists(),
        "{} exists (left by an interrupted backup, or another one is running): remove it",
        partial.display()
    );
    let conn = Connection::open_with_flags(
        database,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("cannot open database {}", database.display()))?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.execute("VACUUM INTO ?1", [target])
        .with_context(|| format!("cannot copy {} to {target}", database.display()))?;
    // SQLite does not fsync the file VACUUM INTO writes: a backup must be on disk when we say so.
    File::open(partial)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot sync {target}"))?;
    Ok(())
}

/// Makes the rename of the backup durable (the directory entry on disk).
fn sync_dir(file: &Path) -> anyhow::Result<()> {
    let dir = match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot sync directory {}", dir.display()))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backup_copies_the_rows_and_overwrites_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("a.db");
        let conn = Connection::open(&db).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; CREATE TABLE t (x); INSERT INTO t VALUES (1), (2);",
        )
        .unwrap();
        let to = dir.path().join("copy.db");
        let made = backup(&db, &to).unwrap();
        assert_eq!(made.bytes, std::fs::metadata(&to).unwrap().len());
        let copied: i64 = Connection::open(&to)
            .unwrap()
            .query_row("SELECT SUM(x) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(copied, 3);
        assert!(!partial_path(&to).exists());

        let e = backup(&db, &to).unwrap_err();
        assert!(format!("{e:#}").contains("exists already"), "{e:#}");
        assert_eq!(std::fs::metadata(&to).unwrap().len(), made.bytes);

        let e = backup(&dir.path().join("none.db"), &dir.path().join("n.db")).unwrap_err();
        assert!(format!("{e:#}").contains("no database"), "{e:#}");
        assert!(!dir.path().join("n.db").exists());
    }
}
