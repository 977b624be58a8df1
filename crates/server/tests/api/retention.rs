//! Retention as an admin sets it: the history older than the tenant's days goes at the next
//! housekeeping, except what the figures of the days kept need; the numbers of a window after
//! the cutoff do not change, and no other tenant loses anything.

use assetlog_server::domain::{AssetId, LoggerRow, TenantId};
use assetlog_server::store::HistoryAsk;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

/// Ten days of one machine's history, from `t` (midnight UTC ten days ago): runs and stops on
/// the first days; on day 4 a stop that begins (and is reported twice) before the cutoff of a
/// five-day retention and lasts past it, until day 7; then a few more changes.
fn history(t: i64) -> Value {
    let changes = [
        (true, t + HOUR),
        (false, t + 2 * HOUR),
        (true, t + 3 * HOUR),
        (false, t + 2 * DAY + HOUR),
        (true, t + 2 * DAY + 2 * HOUR),
        (true, t + 4 * DAY + 4 * HOUR),
        (false, t + 4 * DAY + 5 * HOUR),
        (false, t + 4 * DAY + 6 * HOUR),
        (true, t + 7 * DAY),
        (false, t + 8 * DAY),
        (true, t + 8 * DAY + 30 * MIN),
    ];
    changes
        .iter()
        .enumerate()
        .map(|(i, &(running, ts))| json!({"seq": i + 1, "pin": 0, "running": running, "ts": ts}))
        .collect()
}

fn times(events: &[Value]) -> Vec<i64> {
    let mut ts: Vec<i64> = events.iter().map(|e| e["ts"].as_i64().unwrap()).collect();
    ts.sort_unstable();
    ts
}

#[tokio::test]
async fn history_older_than_the_retention_goes_and_later_figures_stay() {
    let app = spawn_app_with(|c| c.open_signup = true).await;
    let state = app.state.clone().expect("in-process server");
    let store = &state.store;
    let admin = app.signup("ada@a.example", "A").await;
    let other = app.signup("bob@b.example", "B").await;
    let device = app.claimed_device(&admin, "esp-a").await;
    let theirs = app.claimed_device(&other, "esp-b").await;
    let t = (now_ms() / DAY - 10) * DAY;
    assert_eq!(
        app.ingest(&device, history(t)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.ingest(&theirs, history(t)).await.status(),
        StatusCode::OK
    );
    let asset = AssetId(
        app.get_json("/api/v1/assets", &admin.token).await[0]["id"]
            .as_i64()
            .unwrap(),
    );
    let logger_row = LoggerRow(
        app.get_json("/api/v1/loggers", &admin.token).await[0]["id"]
            .as_i64()
            .unwrap(),
    );
    let tenant = TenantId(admin.tenant_id);

    // Notes on the first day's stop and on the stop across the cutoff (listed with the day it
    // began), which gets a reason: the later figures count its down time by that reason.
    let waiting = app.add_reason(&admin, "Material", "Waiting").await;
    for (from, note) in [
        (t, json!({"comment": "old jam"})),
        (
            t + 4 * DAY,
            json!({"comment": "waiting for a part", "reason_id": waiting["id"]}),
        ),
    ] {
        let stops = app
            .stops(&admin, &format!("from={from}&to={}", from + DAY))
            .await;
        let id = stops[0]["id"].as_str().expect("a stop").to_owned();
        let resp = app.annotate_stop(&admin, &id, &note).await;
        assert!(resp.status().is_success(), "{}", resp.status());
    }
    // The logger offline for ten minutes on the first day, and for ten minutes after the
    // RUNNING event before the stop across the cutoff (the later windows read from there on).
    let kept_span = (
        t + 4 * DAY + 4 * HOUR + 10 * MIN,
        t + 4 * DAY + 4 * HOUR + 20 * MIN,
    );
    for (from, to) in [(t + HOUR + 30 * MIN, t + HOUR + 40 * MIN), kept_span] {
        store.open_offline(logger_row, from).await.unwrap();
        store.close_offline(logger_row, to).await.unwrap();
    }
    assetlog_server::analytics::settle_days(&state)
        .await
        .unwrap();

    // A window after the cutoff, asked in the ways analytics answers.
    let window = format!("from={}&to={}", t + 6 * DAY, t + 10 * DAY);
    let questions = [
        format!("{window}&bucket=day"),
        format!("{window}&bucket=hour"),
        window.clone(),
    ];
    let mut before = Vec::new();
    for q in &questions {
        before.push(app.analytics(&admin, q).await);
    }
    let stops_before = app.stops(&admin, &window).await;
    let across = format!("from={}&to={}", t + 4 * DAY, t + 5 * DAY);
    let across_before = app.stops(&admin, &across).await;
    assert_eq!(across_before[0]["comment"], "waiting for a part");
    let by_reason = before[2]["assets"][0]["downtime_by_reason"]
        .as_array()
        .unwrap();
    assert!(
        by_reason.iter().any(|r| r["name"] == "Waiting"),
        "the later window counts the stop across the cutoff by its reason: {by_reason:?}"
    );
    let theirs_before = app.events(&other).await;

    let resp = app
        .put_settings(&admin, &json!({"retention_days": 5}))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<Value>().await.unwrap()["retention_days"], 5);
    assert_eq!(
        app.get_json("/api/v1/settings", &admin.token).await["retention_days"],
        5
    );
    assert_eq!(
        app.get_json("/api/v1/settings", &other.token).await["retention_days"],
        Value::Null,
        "B keeps all"
    );

    let now = now_ms();
    let cutoff = now - 5 * DAY;
    store.housekeeping(now).await.unwrap();

    // Gone: the first days. Kept: the RUNNING event before the stop across the cutoff, the stop
    // (both of its reports: where it began matters), and everything after.
    assert_eq!(
        times(&app.events(&admin).await),
        [
            t + 4 * DAY + 4 * HOUR,
            t + 4 * DAY + 5 * HOUR,
            t + 4 * DAY + 6 * HOUR,
            t + 7 * DAY,
            t + 8 * DAY,
            t + 8 * DAY + 30 * MIN,
        ]
    );
    for (q, was) in questions.iter().zip(&before) {
        assert_eq!(&app.analytics(&admin, q).await, was, "{q}");
    }
    assert_eq!(app.stops(&admin, &window).await, stops_before);
    assert_eq!(
        app.stops(&admin, &across).await,
        across_before,
        "the stop across the cutoff keeps its start and its note"
    );
    let notes = store.stop_parts(tenant, asset, 0, now).await.unwrap();
    let comments: Vec<&str> = notes.iter().map(|p| p.comment.as_str()).collect();
    assert_eq!(comments, ["waiting for a part"]);
    let rows = store
        .histories(
            tenant,
            vec![HistoryAsk {
                asset_id: asset,
                logger_row,
                from: 0,
                to: now,
            }],
            now,
        )
        .await
        .unwrap();
    assert_eq!(rows[0].offline, [kept_span], "the first day's span went");
    let days = &store
        .day_rollups(tenant, vec![asset], 0, now + DAY)
        .await
        .unwrap()[0]
        .days;
    assert!(!days.is_empty(), "the later days stay rolled up");
    assert!(days.iter().all(|d| d.day_end > cutoff), "{days:?}");

    // The other tenant lost nothing; housekeeping again deletes nothing more.
    assert_eq!(app.events(&other).await, theirs_before);
    assert_eq!(theirs_before.len(), 11);
    store.housekeeping(now).await.unwrap();
    assert_eq!(app.events(&admin).await.len(), 6);

    // Null keeps all again.
    let resp = app
        .put_settings(&admin, &json!({"retention_days": null}))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["retention_days"],
        Value::Null
    );
}
