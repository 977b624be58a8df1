//! Storage health: whether writes reach the disk, and why not.
//!
//! A write can fail for reasons no request can mend: the disk is full (SQLite's `SQLITE_FULL`, or
//! an I/O error whose system error is `ENOSPC`/`EDQUOT`), or the disk fails (any other I/O
//! error, a read-only or damaged file). Such a failure is a [`Fault`]. The writer records the
//! last one it met and clears it when a write succeeds again; `/healthz` answers 503 with it
//! meanwhile. A full disk is answered to the client as `507 storage_full` (`StoreError::Full`).
//! A server that started on a full disk is read-only until it is restarted with space
//! ([`Health::read_only`]).
//!
//! The disk's free space is also looked at whenever the health is asked for: below
//! [`LOW_SPACE`] it is reported full, whether or not a write has failed yet. So a small write
//! that still finds room (the contacts saved each second rewrite pages in place) cannot make
//! `/healthz` say ok on a disk that the next batch will not fit on, and a server started on a
//! full disk whose database could still be opened for writing (a crash left its shared-memory
//! file) says so at once. A quota (`EDQUOT`) is not seen in the free space: there, the last
//! write's fault is what tells.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, ErrorCode};

use super::StoreError;

/// A write failed for a reason of the storage, not of the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fault {
    /// The disk (or the user's quota on it) is full.
    pub full: bool,
    pub message: String,
}

impl Fault {
    /// The storage fault `e` is, if it is one. `conn` (the connection that ran the failing
    /// statement, just after it) tells the system error behind an I/O error.
    pub fn of(e: &rusqlite::Error, conn: Option<&Connection>) -> Option<Self> {
        let rusqlite::Error::SqliteFailure(failure, _) = e else {
            return None;
        };
        let full = match failure.code {
            ErrorCode::DiskFull => true,
            ErrorCode::SystemIoFailure => conn.is_some_and(no_space),
            ErrorCode::ReadOnly
            | ErrorCode::CannotOpen
            | ErrorCode::DatabaseCorrupt
            | ErrorCode::NotADatabase => false,
            _ => return None,
        };
        let message = if full {
            format!("the disk of the database is full ({e})")
        } else {
            format!("the database cannot be written ({e})")
        };
        Some(Self { full, message })
    }

    /// The error a caller whose write met this fault is given.
    pub fn error(&self) -> StoreError {
        if self.full {
            StoreError::Full(self.message.clone())
        } else {
            StoreError::Commit(self.message.clone())
        }
    }
}

/// The storage fault behind a store error, if it is one (a job's own statement failed).
pub(crate) fn fault_of(e: &StoreError, conn: &Connection) -> Option<Fault> {
    match e {
        StoreError::Database(backend) => backend
            .0
            .downcast_ref::<rusqlite::Error>()
            .and_then(|e| Fault::of(e, Some(conn))),
        StoreError::Full(message) => Some(Fault {
            full: true,
            message: message.clone(),
        }),
        _ => None,
    }
}

/// Whether the last failing system call of `conn` failed for lack of space.
fn no_space(conn: &Connection) -> bool {
    // SAFETY: `sqlite3_system_errno` only reads a field of the connection, which is open and
    // used by this thread alone for as long as the borrow lasts.
    let errno = unsafe { rusqlite::ffi::sqlite3_system_errno(conn.handle()) };
    errno != 0
        && matches!(
            std::io::Error::from_raw_os_error(errno).kind(),
            ErrorKind::StorageFull | ErrorKind::QuotaExceeded
        )
}

/// Whether an error of the file system is a lack of space.
pub fn io_no_space(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::StorageFull | ErrorKind::QuotaExceeded)
}

/// Below this much free space the database's disk is reported full: room for a few groups of
/// batches, no more.
pub const LOW_SPACE: u64 = 1 << 20;

/// The bytes this process may still write on the file system of `dir`: the blocks free to
/// anyone for root (which may use the reserved ones), else those free to other users. `None`
/// when the file system cannot say.
pub fn free_space(dir: &Path) -> Option<u64> {
    let vfs = rustix::fs::statvfs(dir).ok()?;
    let blocks = if rustix::process::geteuid().is_root() {
        vfs.f_bfree
    } else {
        vfs.f_bavail
    };
    Some(blocks.saturating_mul(vfs.f_frsize))
}

/// The fault a disk with only `free` bytes left is, if it is below [`LOW_SPACE`].
pub fn low_space(free: Option<u64>) -> Option<Fault> {
    let free = free.filter(|&free| free < LOW_SPACE)?;
    Some(Fault {
        full: true,
        message: format!(
            "the disk of the database is full: {} KiB free, less than the {} KiB writes need",
            free / 1024,
            LOW_SPACE / 1024
        ),
    })
}

/// What `/healthz` reports of the storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageHealth {
    Ok,
    /// The last write failed for lack of space, and none has succeeded since.
    Full {
        reason: String,
    },
    /// The last write failed for another reason of the storage.
    Failing {
        reason: String,
    },
    /// The server started on a full disk and takes no writes until it is restarted.
    ReadOnly {
        reason: String,
    },
}

/// The writer's record of storage faults, shared with the store.
#[derive(Debug, Default)]
pub(crate) struct Health {
    /// Set when the server started read-only: why.
    read_only: Option<String>,
    last: Mutex<Option<Fault>>,
    /// The directory whose file system holds the database, its free space looked at by
    /// [`Health::now`]; `None` (in unit tests) looks at none.
    disk: Option<PathBuf>,
}

impl Health {
    /// The health of a writable database in `disk`.
    pub fn on(disk: PathBuf) -> Self {
        Self {
            disk: Some(disk),
            ..Self::default()
        }
    }

    pub fn read_only(reason: String) -> Self {
        Self {
            read_only: Some(reason),
            ..Self::default()
        }
    }

    /// The reason a read-only server gives for refusing a write.
    pub fn refusal(&self) -> Option<&str> {
        self.read_only.as_deref()
    }

    pub fn failed(&self, fault: &Fault) {
        let mut last = self.last.lock().expect("health lock");
        if last.as_ref() != Some(fault) {
            tracing::error!(full = fault.full, "writes fail: {}", fault.message);
        }
        *last = Some(fault.clone());
    }

    /// A write reached the disk: the storage works again.
    pub fn succeeded(&self) {
        if let Some(fault) = self.last.lock().expect("health lock").take() {
            tracing::info!(was = %fault.message, "writes succeed again");
        }
    }

    pub fn now(&self) -> StorageHealth {
        if let Some(reason) = &self.read_only {
            return StorageHealth::ReadOnly {
                reason: reason.clone(),
            };
        }
        let last = self.last.lock().expect("health lock").clone();
        let low = || low_space(free_space(self.disk.as_deref()?));
        match last.or_else(low) {
            None => StorageHealth::Ok,
            Some(Fault {
                full: true,
                message,
            }) => StorageHealth::Full { reason: message },
            Some(Fault { message, .. }) => StorageHealth::Failing { reason: message },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: i32) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None)
    }

    #[test]
    fn full_and_failing_storage_are_told_apart_from_request_errors() {
        let full = Fault::of(&failure(rusqlite::ffi::SQLITE_FULL), None).unwrap();
        assert!(full.full);
        assert!(matches!(full.error(), StoreError::Full(_)));
        // Without the connection, an I/O error is not known to be a full disk.
        let io = Fault::of(&failure(rusqlite::ffi::SQLITE_IOERR_WRITE), None).unwrap();
        assert!(!io.full);
        assert!(matches!(io.error(), StoreError::Commit(_)));
        assert_eq!(
            Fault::of(&failure(rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE), None),
            None
        );
        assert_eq!(Fault::of(&rusqlite::Error::QueryReturnedNoRows, None), None);
    }

    #[test]
    fn a_disk_with_less_than_a_mebibyte_free_is_full() {
        assert_eq!(low_space(None), None);
        assert_eq!(low_space(Some(LOW_SPACE)), None);
        let fault = low_space(Some(64 * 1024)).unwrap();
        assert!(fault.full);
        assert!(fault.message.contains("64 KiB free"), "{}", fault.message);
        assert!(low_space(Some(0)).is_some());
        // The test's own temporary directory is not full (or the machine has other troubles).
        let tmp = std::env::temp_dir();
        assert!(free_space(&tmp).is_some_and(|free| free >= LOW_SPACE));
        assert_eq!(Health::on(tmp).now(), StorageHealth::Ok);
    }

    #[test]
    fn a_fault_lasts_until_a_write_succeeds() {
        let health = Health::default();
        assert_eq!(health.now(), StorageHealth::Ok);
        let full = Fault::of(&failure(rusqlite::ffi::SQLITE_FULL), None).unwrap();
        health.failed(&full);
        assert!(matches!(health.now(), StorageHealth::Full { .. }));
        health.succeeded();
        assert_eq!(health.now(), StorageHealth::Ok);
        let read_only = Health::read_only("full at start".into());
        read_only.succeeded();
        assert!(matches!(read_only.now(), StorageHealth::ReadOnly { .. }));
    }
}
