//! `assetlog backup`: an online copy of the SQLite database, and a server restored from it.

use std::collections::BTreeSet;
use std::path::Path;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

fn batch(first: u64, n: u64, t0: i64) -> Value {
    (first..first + n)
        .map(|s| json!({"seq": s, "pin": 0, "running": s % 2 == 0, "ts": t0 + s as i64}))
        .collect()
}

/// The seqs of the events a tenant sees.
async fn seqs(app: &TestApp, account: &Account) -> BTreeSet<u64> {
    app.events(account)
        .await
        .iter()
        .map(|e| e["seq"].as_u64().expect("events carry their seq"))
        .collect()
}

fn run(args: &[&std::ffi::OsStr]) -> std::process::Output {
    assetlog().args(args).output().expect("assetlog runs")
}

fn backup(data: &Path, to: &Path) -> std::process::Output {
    run(&[
        "backup".as_ref(),
        "--data-dir".as_ref(),
        data.as_os_str(),
        "--to".as_ref(),
        to.as_os_str(),
    ])
}

#[tokio::test]
async fn a_backup_taken_while_the_server_writes_restores_every_acknowledged_event() {
    if on_postgres() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = ServerProcess::start(&data, &[]);
    let app = server.app(tempfile::tempdir().unwrap());
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "agent-1").await;
    let t0 = now_ms() - 1_000_000;
    let resp = app.ingest(&device, batch(1, 300, t0)).await;
    assert_eq!(resp.json::<Value>().await.unwrap()["acked_seq"], 300);

    // The logger goes on reporting while the backup is made.
    let file = dir.path().join("assetlog-backup.db");
    let copy = {
        let (data, file) = (data.clone(), file.clone());
        tokio::task::spawn_blocking(move || backup(&data, &file))
    };
    let mut acked = 300;
    while !copy.is_finished() && acked < 900 {
        let resp = app.ingest(&device, batch(acked + 1, 20, t0)).await;
        assert_eq!(resp.status(), StatusCode::OK);
        acked += 20;
    }
    let out = copy.await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(" MB in ") && stdout.contains(" s"),
        "{stdout}"
    );
    let size = std::fs::metadata(&file).unwrap().len();

    // A second backup to the same file is refused, and the first one stays as it was.
    let again = backup(&data, &file);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
    assert_eq!(std::fs::metadata(&file).unwrap().len(), size);

    // Restored: a data directory holding only the backup file.
    let restored = dir.path().join("restored");
    std::fs::create_dir_all(&restored).unwrap();
    std::fs::copy(&file, restored.join("assetlog.db")).unwrap();
    let check = run(&[
        "check".as_ref(),
        "--data-dir".as_ref(),
        restored.as_os_str(),
    ]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );

    let second = ServerProcess::start(&restored, &[]);
    let copy = second.app(tempfile::tempdir().unwrap());
    let before: BTreeSet<u64> = (1..=300).collect();
    let restored_seqs = seqs(&copy, &admin).await;
    // Every event acknowledged before the backup began is there; the ones sent during it are
    // there or not, each whole, and nothing else is.
    assert!(restored_seqs.is_superset(&before), "{restored_seqs:?}");
    assert!(restored_seqs.iter().all(|&s| s <= acked));
    let first = copy
        .get_json("/api/v1/events?limit=1000", &admin.token)
        .await;
    let original = app
        .get_json("/api/v1/events?limit=1000", &admin.token)
        .await;
    let original: Vec<&Value> = original["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| restored_seqs.contains(&e["seq"].as_u64().unwrap()))
        .collect();
    let copied: Vec<&Value> = first["events"].as_array().unwrap().iter().collect();
    assert_eq!(copied, original, "the same events, as the tenant sees them");
    // The logger's key works on the restored server, and a retransmission is stored once.
    let resp = copy.ingest(&device, batch(1, 1, t0)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(seqs(&copy, &admin).await, restored_seqs);
    drop(server);
}
