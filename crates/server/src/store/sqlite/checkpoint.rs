//! Moving the WAL into the database file off the writer's path.
//!
//! SQLite's automatic checkpoint runs inside the committing connection, so it would stall the
//! group commit every thousand pages. Instead this thread checkpoints (PASSIVE: never blocks the
//! writer or readers) from its own connection once a second; the writer's own automatic
//! checkpoint stays as a far-off backstop should this thread ever fall behind.

use std::path::Path;
use std::sync::Mutex;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

/// WAL pages after which the writer checkpoints by itself (about 40 MB).
pub(super) const WRITER_BACKSTOP_PAGES: i64 = 10_000;

const PERIOD: Duration = Duration::from_secs(1);

pub(super) struct Checkpointer {
    stop: Mutex<Option<mpsc::Sender<()>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Checkpointer {
    pub(super) fn start(path: &Path) -> anyhow::Result<Self> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("db-checkpoint".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(PERIOD) {
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!(error = %e, "background checkpoint failed");
                    }
                }
            })?;
        Ok(Self {
            stop: Mutex::new(Some(stop)),
            thread: Mutex::new(Some(thread)),
        })
    }

    pub(super) fn stop(&self) {
        self.stop.lock().expect("checkpoint lock").take();
        if let Some(thread) = self.thread.lock().expect("checkpoint lock").take() {
            let _ = thread.join();
        }
    }
}
