//! The storage under attack: a disk that really fills (a small tmpfs mounted for the test), a
//! damaged database file, and `assetlog check`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Account, Device, TestApp, assert_error, assetlog, now_ms, spawn_app_with};
use crate::lifecycle::start_expecting_failure;

/// Set to skip the tests that mount a file system (they need root); CI runs them as root.
const SKIP_MOUNT: &str = "ASSETLOG_SKIP_MOUNT_TESTS";

/// A tmpfs of a few MiB, mounted for one test and unmounted when dropped.
struct SmallDisk {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl SmallDisk {
    /// Mounts it; `None` (the test then passes without running) only when [`SKIP_MOUNT`] is set.
    /// Otherwise a machine where it cannot mount fails the test, saying why.
    fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().to_owned();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&root)
            .output();
        match mounted {
            Ok(out) if out.status.success() => Some(Self { _dir: dir, root }),
            _ if std::env::var_os(SKIP_MOUNT).is_some() => {
                eprintln!("SKIPPED: {SKIP_MOUNT} is set, so no disk is filled");
                None
            }
            failed => panic!(
                "this test fills a real disk, a {size} tmpfs it mounts, and so needs root (or \
                 CAP_SYS_ADMIN); `mount` said: {}. Run the tests as root, or set {SKIP_MOUNT}=1 \
                 to skip it",
                match failed {
                    Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                    Err(e) => e.to_string(),
                }
            ),
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    /// Writes a file until the disk has no byte left; returns its path.
    fn fill(&self) -> PathBuf {
        let path = self.root.join("filler");
        let mut file = std::fs::File::create(&path).expect("filler file");
        for chunk in [64 * 1024, 4096, 1] {
            let block = vec![0xa5_u8; chunk];
            loop {
                match file.write(&block) {
                    Ok(n) if n == chunk => {}
                    Ok(_) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
                    Err(e) => panic!("filling the disk: {e}"),
                }
            }
        }
        let _ = file.sync_all();
        path
    }

    /// Gives `bytes` of the filler back to the disk.
    fn free(&self, filler: &Path, bytes: u64) {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(filler)
            .unwrap();
        let len = file.metadata().unwrap().len();
        file.set_len(len.saturating_sub(bytes)).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazy: a server process killed a moment ago may still hold a file.
        let _ = Command::new("umount").arg("-l").arg(&self.root).status();
    }
}

async fn healthz(app: &TestApp) -> (StatusCode, Value) {
    let resp = app.get("/healthz", None).await;
    (resp.status(), resp.json().await.expect("healthz is JSON"))
}

/// A batch of `n` events numbered from `first`.
fn batch(first: u64, n: u64, t0: i64) -> Value {
    (first..first + n)
        .map(|seq| json!({"seq": seq, "pin": seq % 4, "running": seq % 2 == 0, "ts": t0 + seq as i64}))
        .collect()
}

async fn acked(app: &TestApp, device: &Device, events: Value) -> u64 {
    let resp = app.ingest(device, events).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    body["acked_seq"].as_u64().expect("acked_seq")
}

async fn set_up(app: &TestApp) -> (Account, Device) {
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "disk-1").await;
    (admin, device)
}

#[tokio::test]
async fn a_full_disk_is_answered_507_and_reported_by_healthz_until_space_is_freed() {
    // SQLite's own file: a PostgreSQL server has none (docs/OPERATIONS.md, failures).
    if crate::helpers::on_postgres() {
        return;
    }
    let Some(disk) = SmallDisk::mount("3m") else {
        return;
    };
    let data = disk.data_dir();
    let app = spawn_app_with(|c| c.data_dir = data).await;
    let (admin, device) = set_up(&app).await;
    // Recent, so that no whole past day is rolled up (a background write) meanwhile.
    let t0 = now_ms() - 100_000;
    const N: u64 = 200;
    assert_eq!(acked(&app, &device, batch(1, N, t0)).await, N);
    assert_eq!(healthz(&app).await.0, StatusCode::OK);

    let filler = disk.fill();
    // The WAL may still have room its earlier transactions left: write until it has none.
    let mut next = N + 1;
    let refused = loop {
        assert!(next < 400 * N, "the disk never filled");
        let resp = app.ingest(&device, batch(next, N, t0)).await;
        match resp.status() {
            StatusCode::OK => next += N,
            StatusCode::INSUFFICIENT_STORAGE => break resp,
            other => panic!(
                "a write on a full disk answered {other}: {}",
                resp.text().await.unwrap()
            ),
        }
    };
    let (status, body) = healthz(&app).await;
    let message = assert_error(refused, StatusCode::INSUFFICIENT_STORAGE, "storage_full").await;
    assert!(message.contains("full"), "{message}");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "storage full", "{body}");
    assert!(body["reason"].as_str().unwrap().contains("full"), "{body}");
    // Reads are served.
    let resp = app.get("/api/v1/loggers", Some(&admin.token)).await;
    assert_eq!(resp.status(), StatusCode::OK);

    // A small write that finds room (as the contacts saved each second do) does not make the
    // disk healthy: what is left of it is still too little for the next batch.
    disk.free(&filler, 64 * 1024);
    assert_eq!(acked(&app, &device, batch(next, 1, t0)).await, next);
    next += 1;
    let (status, body) = healthz(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "storage full", "{body}");
    assert!(
        body["reason"].as_str().unwrap().contains("KiB free"),
        "{body}"
    );

    // Space again, and the last write succeeded: healthy at once.
    std::fs::remove_file(filler).unwrap();
    assert_eq!(
        healthz(&app).await,
        (StatusCode::OK, json!({"status": "ok"}))
    );
    // Nothing of the refused batch was kept: the logger's watermark is where the last
    // acknowledged batch left it. Sent again (as the logger does), it is stored whole.
    assert_eq!(acked(&app, &device, json!([])).await, next - 1);
    assert_eq!(acked(&app, &device, batch(next, N, t0)).await, next + N - 1);
    assert_eq!(
        healthz(&app).await,
        (StatusCode::OK, json!({"status": "ok"}))
    );
    app.shutdown().await;
}

/// The server as a process whose log goes to `log` (off the full disk).
fn serve(data: &Path, log: &Path) -> (std::process::Child, String) {
    let mut child = assetlog()
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("server process starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().strip_prefix("listening on ");
    let url = url.unwrap_or_else(|| {
        panic!(
            "no listening line; log: {}",
            std::fs::read_to_string(log).unwrap()
        )
    });
    (child, url.to_owned())
}

#[tokio::test]
async fn a_server_started_on_a_full_disk_serves_reads_and_refuses_writes() {
    // SQLite's own file: a PostgreSQL server has none (docs/OPERATIONS.md, failures).
    if crate::helpers::on_postgres() {
        return;
    }
    let Some(disk) = SmallDisk::mount("3m") else {
        return;
    };
    let data = disk.data_dir();
    let app = spawn_app_with(|c| c.data_dir = data.clone()).await;
    let (admin, device) = set_up(&app).await;
    let t0 = now_ms() - 3_600_000;
    assert_eq!(acked(&app, &device, batch(1, 20, t0)).await, 20);
    let kept = app.shutdown().await;
    // The WAL was checkpointed into the file at the stop; without its shared-memory file (as
    // after a stop whose last connection removed both), SQLite has no room to make one again.
    let wal = data.join("assetlog.db-wal");
    assert_eq!(std::fs::metadata(&wal).map_or(0, |m| m.len()), 0);
    let _ = std::fs::remove_file(wal);
    let _ = std::fs::remove_file(data.join("assetlog.db-shm"));

    let filler = disk.fill();
    let log = kept.path().join("server.log");
    let (mut child, url) = serve(&data, &log);
    let mut app = crate::helpers::ServerProcess::app_at(&url, kept);
    let (status, body) = healthz(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "read-only", "{body}");
    assert_eq!(app.events(&admin).await.len(), 20);
    let resp = app.ingest(&device, batch(21, 1, t0)).await;
    let message = assert_error(resp, StatusCode::INSUFFICIENT_STORAGE, "storage_full").await;
    assert!(message.contains("read-only"), "{message}");
    let resp = app
        .post("/api/device/register", &json!({"logger_id": "new-1"}), None)
        .await;
    assert_error(resp, StatusCode::INSUFFICIENT_STORAGE, "storage_full").await;
    let _ = child.kill();
    let _ = child.wait();
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("started read-only"), "{logged}");

    // With space again, a restart takes writes.
    std::fs::remove_file(filler).unwrap();
    let (mut child, url) = serve(&data, &log);
    app.url = url;
    assert_eq!(healthz(&app).await.0, StatusCode::OK);
    assert_eq!(acked(&app, &device, batch(21, 1, t0)).await, 21);
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn a_server_restarted_on_a_full_disk_after_a_crash_says_so_at_once_and_writes_again_with_space()
 {
    // SQLite's own file: a PostgreSQL server has none (docs/OPERATIONS.md, failures).
    if crate::helpers::on_postgres() {
        return;
    }
    let Some(disk) = SmallDisk::mount("3m") else {
        return;
    };
    let data = disk.data_dir();
    std::fs::create_dir(&data).unwrap();
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("server.log");
    let (mut child, url) = serve(&data, &log);
    let mut app = crate::helpers::ServerProcess::app_at(&url, logs);
    let (admin, device) = set_up(&app).await;
    let t0 = now_ms() - 100_000;
    assert_eq!(acked(&app, &device, batch(1, 20, t0)).await, 20);
    // A crash: the WAL and its shared-memory file stay behind, so the next start can open the
    // database for writing even on a full disk.
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(data.join("assetlog.db-shm").exists());

    let filler = disk.fill();
    let (mut child, url) = serve(&data, &log);
    app.url = url;
    // Before any write is tried.
    let (status, body) = healthz(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "storage full", "{body}");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("reports the disk full"), "{logged}");
    // Reads are served, the 20 events the crash left in the WAL among them.
    assert_eq!(app.events(&admin).await.len(), 20);
    // A batch that does not fit is refused, and nothing of it kept.
    let mut next = 21;
    loop {
        assert!(next < 100_000, "the disk never filled");
        let resp = app.ingest(&device, batch(next, 200, t0)).await;
        match resp.status() {
            StatusCode::OK => next += 200,
            StatusCode::INSUFFICIENT_STORAGE => break,
            other => panic!("a write on a full disk answered {other}"),
        }
    }
    assert_eq!(healthz(&app).await.0, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(acked(&app, &device, json!([])).await, next - 1);

    // With space again, the same process takes writes (no restart needed), and the first that
    // succeeds ends the fault.
    std::fs::remove_file(filler).unwrap();
    assert_eq!(acked(&app, &device, batch(next, 200, t0)).await, next + 199);
    assert_eq!(
        healthz(&app).await,
        (StatusCode::OK, json!({"status": "ok"}))
    );
    let _ = child.kill();
    let _ = child.wait();
}

/// A data directory with a database of a few rows, the server stopped.
async fn stopped_database() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let app = spawn_app_with(|c| c.data_dir = data.clone()).await;
    set_up(&app).await;
    app.shutdown().await;
    (dir, data)
}

fn check(data: &Path) -> (bool, String) {
    let out = assetlog()
        .arg("check")
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test]
async fn a_damaged_header_refuses_the_start_with_a_clear_message() {
    // SQLite's own file: a PostgreSQL server has none (docs/OPERATIONS.md, failures).
    if crate::helpers::on_postgres() {
        return;
    }
    let (_dir, data) = stopped_database().await;
    let db = data.join("assetlog.db");
    let mut bytes = std::fs::read(&db).unwrap();
    bytes[..16].copy_from_slice(b"not a database!\0");
    std::fs::write(&db, bytes).unwrap();
    let data = data.to_str().unwrap();
    let line = start_expecting_failure(&["serve", "--bind", "127.0.0.1:0", "--data-dir", data]);
    assert!(
        line.contains("not a SQLite database or its header is damaged"),
        "{line}"
    );
    assert!(line.contains("SQLite format 3"), "{line}");
    let (ok, out) = check(Path::new(data));
    assert!(!ok, "{out}");
    assert!(out.contains("header is damaged"), "{out}");
}

#[tokio::test]
async fn assetlog_check_passes_a_sound_database_and_lists_the_damage_of_a_broken_one() {
    // SQLite's own file: a PostgreSQL server has none (docs/OPERATIONS.md, failures).
    if crate::helpers::on_postgres() {
        return;
    }
    let (_dir, data) = stopped_database().await;
    let (ok, out) = check(&data);
    assert!(ok, "{out}");
    assert!(out.contains(": ok ("), "{out}");

    // Garbage over the pages of the loggers table: the header and schema are fine (the server
    // would start), the full check finds it.
    let db = data.join("assetlog.db");
    let (root, page_size): (i64, i64) = {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let root = conn
            .query_row(
                "SELECT rootpage FROM sqlite_master WHERE name = 'loggers'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        (
            root,
            conn.query_row("PRAGMA page_size", [], |r| r.get(0))
                .unwrap(),
        )
    };
    let mut bytes = std::fs::read(&db).unwrap();
    let at = ((root - 1) * page_size) as usize;
    bytes[at..at + page_size as usize].fill(0x5a);
    std::fs::write(&db, bytes).unwrap();
    let (ok, out) = check(&data);
    assert!(!ok, "{out}");
    assert!(out.contains("damaged"), "{out}");

    assert!(!check(&data.join("nothing-here")).0);
}
