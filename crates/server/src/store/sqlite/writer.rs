//! The single writer thread and its group commit.
//!
//! SQLite allows one writer at a time, and what costs is the fsync at each commit. So every write
//! is a job sent to this thread; the thread takes all jobs waiting at that moment, runs each in
//! its own savepoint (a failing job rolls back alone), commits once, and only then answers each
//! caller. Under load one commit covers hundreds of requests; when idle a job commits at once.
//!
//! A group whose transaction cannot begin, fails to commit or is rolled back by SQLite (after a
//! full disk or an I/O error) stores nothing: every job of it is answered with the fault
//! (`StoreError::Full` for a full disk), which the writer also records for `/healthz`
//! (`store/health.rs`) until a write succeeds again.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::health::{Fault, Health, fault_of};
use super::{Result, StoreError};

/// Largest number of jobs that share one transaction.
const MAX_GROUP: usize = 1024;

/// Told to a job once its group's transaction ended: committed, or why not.
type Completion = Box<dyn FnOnce(Result<(), Fault>) + Send>;
/// A job runs its writes on the connection, or is refused unrun (the transaction could not
/// begin, or a job before it lost it) and answers its caller at once.
type Job = Box<dyn FnOnce(std::result::Result<&Connection, &Fault>) -> Option<Ran> + Send>;

/// What a job that ran reports to the group.
struct Ran {
    /// Its writes succeeded (so its savepoint is kept, else undone).
    ok: bool,
    /// Its own statements met a storage fault.
    fault: Option<Fault>,
    done: Completion,
}

pub(super) struct Writer {
    sender: Mutex<Option<mpsc::Sender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    health: Arc<Health>,
}

impl Writer {
    pub(super) fn start(conn: Connection, health: Arc<Health>) -> std::io::Result<Self> {
        let (sender, receiver) = mpsc::channel(4 * MAX_GROUP);
        let recorder = health.clone();
        let thread = std::thread::Builder::new()
            .name("db-writer".into())
            .spawn(move || run(conn, receiver, &recorder))?;
        Ok(Self {
            sender: Mutex::new(Some(sender)),
            thread: Mutex::new(Some(thread)),
            health,
        })
    }

    /// A writer of a read-only store: it refuses every job with the reason `health` gives.
    pub(super) fn refusing(health: Arc<Health>) -> Self {
        Self {
            sender: Mutex::new(None),
            thread: Mutex::new(None),
            health,
        }
    }

    pub(super) async fn run<T, F, A>(&self, f: F, after: A) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
        A: FnOnce(&T) + Send + 'static,
    {
        if let Some(reason) = self.health.refusal() {
            return Err(StoreError::Full(reason.to_owned()));
        }
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let conn = match conn {
                Ok(conn) => conn,
                Err(fault) => {
                    let _ = reply.send(Err(fault.error()));
                    return None;
                }
            };
            let outcome = f(conn);
            let fault = outcome.as_ref().err().and_then(|e| fault_of(e, conn));
            // A job that met a full disk is told so, whatever error its statement gave.
            let outcome = match (&fault, outcome) {
                (Some(fault), Err(_)) => Err(fault.error()),
                (_, outcome) => outcome,
            };
            let ok = outcome.is_ok();
            let done: Completion = Box::new(move |commit: Result<(), Fault>| {
                let result = match (commit, outcome) {
                    (Ok(()), Ok(value)) => {
                        after(&value);
                        Ok(value)
                    }
                    (_, Err(e)) => Err(e),
                    (Err(fault), Ok(_)) => Err(fault.error()),
                };
                let _ = reply.send(result);
            });
            Some(Ran { ok, fault, done })
        });
        let sender = self.sender.lock().expect("writer lock").clone();
        sender
            .ok_or(StoreError::Closed)?
            .send(job)
            .await
            .map_err(|_| StoreError::Closed)?;
        answer
            .await
            .map_err(|_| StoreError::Commit("the writer could not apply the job".into()))?
    }

    /// Stops taking jobs, lets the thread finish the queued ones, and waits for it.
    pub(super) fn close(&self) {
        self.sender.lock().expect("writer lock").take();
        if let Some(thread) = self.thread.lock().expect("writer lock").take() {
            let _ = thread.join();
        }
    }
}

fn run(conn: Connection, mut receiver: mpsc::Receiver<Job>, health: &Health) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while let Some(first) = receiver.blocking_recv() {
        group.push(first);
        while group.len() < MAX_GROUP {
            match receiver.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let applied = apply(&conn, group.drain(..));
        let commit = match applied.lost {
            Some(fault) => Err(fault),
            None => conn.execute_batch("COMMIT").map_err(|e| {
                Fault::of(&e, Some(&conn)).unwrap_or_else(|| Fault {
                    full: false,
                    message: format!("commit failed: {e}"),
                })
            }),
        };
        if let Err(fault) = &commit {
            tracing::error!(error = %fault.message, "group commit failed");
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
        }
        match (&commit, &applied.fault) {
            (Err(fault), _) | (Ok(()), Some(fault)) => health.failed(fault),
            (Ok(()), None) if applied.wrote => health.succeeded(),
            (Ok(()), None) => {}
        }
        for done in applied.completions {
            done(commit.clone());
        }
    }
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);") {
        tracing::warn!(error = %e, "checkpoint at close failed");
    }
    drop(conn);
    tracing::debug!("database writer closed");
}

/// What one group's jobs did before the commit.
#[derive(Default)]
struct Applied {
    completions: Vec<Completion>,
    /// The transaction is gone (it could not begin, or SQLite rolled it back after a job's
    /// failure): nothing of the group can commit.
    lost: Option<Fault>,
    /// The last storage fault a job met on its own.
    fault: Option<Fault>,
    /// A job that succeeded changed rows: when the commit succeeds too, the disk took a write.
    wrote: bool,
}

/// Opens the transaction and runs each job in its own savepoint. If the transaction cannot
/// begin, or is lost midway, the jobs not run yet are refused with its fault.
fn apply(conn: &Connection, jobs: impl Iterator<Item = Job>) -> Applied {
    let mut applied = Applied::default();
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        tracing::error!(error = %e, "cannot begin a transaction");
        applied.lost = Some(Fault::of(&e, Some(conn)).unwrap_or_else(|| Fault {
            full: false,
            message: format!("cannot begin a transaction: {e}"),
        }));
    }
    // Prepared once: under load these run for every request.
    let run = |sql: &str| conn.prepare_cached(sql).and_then(|mut s| s.execute([]));
    for job in jobs {
        if let Some(lost) = &applied.lost {
            let _ = job(Err(lost));
            continue;
        }
        if let Err(e) = run("SAVEPOINT job") {
            tracing::error!(error = %e, "cannot open a savepoint");
            let _ = job(Err(&Fault {
                full: false,
                message: format!("cannot open a savepoint: {e}"),
            }));
            continue;
        }
        let changes = conn.total_changes();
        let Some(ran) = job(Ok(conn)) else { continue };
        if conn.is_autocommit() {
            // SQLite rolls the whole transaction back after some failures (a full disk, an
            // I/O error): the jobs before this one are undone too, and the rest cannot run.
            applied.lost = Some(ran.fault.clone().unwrap_or_else(|| Fault {
                full: false,
                message: "the database rolled the transaction back".into(),
            }));
            applied.completions.push(ran.done);
            continue;
        }
        let end = if ran.ok {
            applied.wrote |= conn.total_changes() != changes;
            run("RELEASE job")
        } else {
            run("ROLLBACK TO job").and_then(|_| run("RELEASE job"))
        };
        if let Err(e) = end {
            tracing::error!(error = %e, "cannot close a savepoint");
        }
        if ran.fault.is_some() {
            applied.fault = ran.fault;
        }
        applied.completions.push(ran.done);
    }
    applied
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer() -> (tempfile::TempDir, Writer, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (n INTEGER PRIMARY KEY);")
            .unwrap();
        (dir, Writer::start(conn, Arc::default()).unwrap(), path)
    }

    fn count(path: &std::path::Path) -> Vec<i64> {
        let conn = Connection::open(path).unwrap();
        let mut stmt = conn.prepare("SELECT n FROM t ORDER BY n").unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[tokio::test]
    async fn a_failing_job_rolls_back_alone_inside_a_shared_commit() {
        let (_dir, writer, path) = writer();
        let writer = Arc::new(writer);
        // Many jobs at once, so they share commits; every third one writes and then fails.
        let jobs: Vec<_> = (0..300i64)
            .map(|n| {
                let writer = writer.clone();
                tokio::spawn(async move {
                    writer
                        .run(
                            move |conn| {
                                conn.execute("INSERT INTO t (n) VALUES (?1)", [n])?;
                                if n % 3 == 0 {
                                    return Err(StoreError::Conflict("refused".into()));
                                }
                                Ok(n)
                            },
                            |_| {},
                        )
                        .await
                })
            })
            .collect();
        let mut ok = Vec::new();
        for job in jobs {
            match job.await.unwrap() {
                Ok(n) => ok.push(n),
                Err(StoreError::Conflict(_)) => {}
                Err(e) => panic!("unexpected {e}"),
            }
        }
        ok.sort();
        assert_eq!(ok, (0..300).filter(|n| n % 3 != 0).collect::<Vec<_>>());
        writer.close();
        assert_eq!(count(&path), ok);
    }

    #[tokio::test]
    async fn after_commit_hooks_run_only_for_committed_jobs_and_close_refuses_new_work() {
        let (_dir, writer, _path) = writer();
        let (seen_tx, seen_rx) = std::sync::mpsc::channel();
        let tx = seen_tx.clone();
        writer
            .run(
                |conn| Ok(conn.execute("INSERT INTO t VALUES (1)", [])?),
                move |_| tx.send(1).unwrap(),
            )
            .await
            .unwrap();
        let failed = writer
            .run(
                |_| Err::<(), _>(StoreError::NotFound),
                move |_| seen_tx.send(2).unwrap(),
            )
            .await;
        assert!(matches!(failed, Err(StoreError::NotFound)));
        assert_eq!(seen_rx.try_iter().collect::<Vec<_>>(), [1]);
        writer.close();
        let after = writer.run(|_| Ok(()), |_| {}).await;
        assert!(matches!(after, Err(StoreError::Closed)));
    }
}
