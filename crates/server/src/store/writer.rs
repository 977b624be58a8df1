//! The single writer thread and its group commit.
//!
//! SQLite allows one writer at a time, and what costs is the fsync at each commit. So every write
//! is a job sent to this thread; the thread takes all jobs waiting at that moment, runs each in
//! its own savepoint (a failing job rolls back alone), commits once, and only then answers each
//! caller. Under load one commit covers hundreds of requests; when idle a job commits at once.

use std::sync::Mutex;
use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::{Result, StoreError};

/// Largest number of jobs that share one transaction.
const MAX_GROUP: usize = 1024;

type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;
/// A job runs its writes and says whether they succeeded (so its savepoint is kept or undone).
type Job = Box<dyn FnOnce(&Connection) -> (bool, Completion) + Send>;

pub(super) struct Writer {
    sender: Mutex<Option<mpsc::Sender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Writer {
    pub(super) fn start(conn: Connection) -> std::io::Result<Self> {
        let (sender, receiver) = mpsc::channel(4 * MAX_GROUP);
        let thread = std::thread::Builder::new()
            .name("db-writer".into())
            .spawn(move || run(conn, receiver))?;
        Ok(Self {
            sender: Mutex::new(Some(sender)),
            thread: Mutex::new(Some(thread)),
        })
    }

    pub(super) async fn run<T, F, A>(&self, f: F, after: A) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
        A: FnOnce(&T) + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let outcome = f(conn);
            let ok = outcome.is_ok();
            let done: Completion = Box::new(move |commit: Result<(), String>| {
                let result = match (commit, outcome) {
                    (Ok(()), Ok(value)) => {
                        after(&value);
                        Ok(value)
                    }
                    (_, Err(e)) => Err(e),
                    (Err(e), Ok(_)) => Err(StoreError::Commit(e)),
                };
                let _ = reply.send(result);
            });
            (ok, done)
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

fn run(conn: Connection, mut receiver: mpsc::Receiver<Job>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while let Some(first) = receiver.blocking_recv() {
        group.push(first);
        while group.len() < MAX_GROUP {
            match receiver.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let completions = apply(&conn, group.drain(..));
        let commit = conn.execute_batch("COMMIT").map_err(|e| e.to_string());
        if let Err(e) = &commit {
            tracing::error!(error = %e, "group commit failed");
            let _ = conn.execute_batch("ROLLBACK");
        }
        for done in completions {
            done(commit.clone());
        }
    }
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);") {
        tracing::warn!(error = %e, "checkpoint at close failed");
    }
    drop(conn);
    tracing::debug!("database writer closed");
}

/// Opens the transaction and runs each job in its own savepoint. If the transaction cannot even
/// begin, the jobs are dropped unrun and their callers see the store as unavailable.
fn apply(conn: &Connection, jobs: impl Iterator<Item = Job>) -> Vec<Completion> {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        tracing::error!(error = %e, "cannot begin a transaction");
        return Vec::new();
    }
    // Prepared once: under load these run for every request.
    let run = |sql: &str| conn.prepare_cached(sql).and_then(|mut s| s.execute([]));
    jobs.filter_map(|job| {
        if let Err(e) = run("SAVEPOINT job") {
            tracing::error!(error = %e, "cannot open a savepoint");
            return None;
        }
        let (ok, done) = job(conn);
        let end = if ok {
            run("RELEASE job")
        } else {
            run("ROLLBACK TO job").and_then(|_| run("RELEASE job"))
        };
        if let Err(e) = end {
            tracing::error!(error = %e, "cannot close a savepoint");
        }
        Some(done)
    })
    .collect()
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
        (dir, Writer::start(conn).unwrap(), path)
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
        let writer = std::sync::Arc::new(writer);
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
