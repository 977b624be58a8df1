//! Day rollups against the events: random histories that arrive in order and late, stops that
//! get reasons and splits, settings that change; after each step the answer read through the
//! rollups must equal the one computed from the events alone.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

/// A small deterministic generator: the same histories every run.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

async fn rollup_counters(app: &TestApp) -> (u64, u64) {
    let text = app.get("/metrics", None).await.text().await.unwrap();
    (
        counter(&text, "assetlog_analytics_rollup_days_read_total"),
        counter(&text, "assetlog_analytics_rollup_days_computed_total"),
    )
}

async fn set_threshold(app: &TestApp, admin: &Account, seconds: i64) {
    let resp = app
        .put_settings(admin, &json!({"short_stop_threshold_s": seconds}))
        .await;
    assert!(resp.status().is_success(), "{}", resp.status());
}

const QUESTIONS: [&str; 3] = ["&bucket=day", "&bucket=week", ""];

/// The same questions, asked in every way the rollups serve: by day, by week, whole window.
async fn answers(app: &TestApp, admin: &Account, from: i64, to: i64) -> Vec<Value> {
    let mut out = Vec::new();
    for bucket in QUESTIONS {
        out.push(
            app.analytics(admin, &format!("from={from}&to={to}{bucket}"))
                .await,
        );
    }
    out
}

/// The same answers from the events alone: every rollup of the tenant is forgotten (a settings
/// change does that) before each question.
async fn answers_from_events(app: &TestApp, admin: &Account, from: i64, to: i64) -> Vec<Value> {
    let mut out = Vec::new();
    for bucket in QUESTIONS {
        set_threshold(app, admin, 301).await;
        set_threshold(app, admin, 300).await;
        let before = rollup_counters(app).await;
        out.push(
            app.analytics(admin, &format!("from={from}&to={to}{bucket}"))
                .await,
        );
        assert_eq!(
            rollup_counters(app).await.0,
            before.0,
            "the reference read no rollup"
        );
    }
    out
}

/// Where two answers first differ, as a path and the two values; `None` when equal.
fn first_difference(a: &Value, b: &Value, path: String) -> Option<String> {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (x, y))| first_difference(x, y, format!("{path}[{i}]"))),
        (Value::Object(x), Value::Object(y)) if x.len() == y.len() => {
            x.iter().find_map(|(k, v)| {
                first_difference(v, y.get(k).unwrap_or(&Value::Null), format!("{path}.{k}"))
            })
        }
        _ if a == b => None,
        _ => Some(format!(
            "{path}: through the rollups {a}, from the events {b}"
        )),
    }
}

#[tokio::test]
async fn rollups_answer_like_the_events_whatever_arrives_late() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let resp = app
        .put_settings(
            &admin,
            &json!({"timezone": "Europe/Berlin", "short_stop_threshold_s": 300}),
        )
        .await;
    assert!(resp.status().is_success());
    // Two shifts with a break, one across midnight: planned and unplanned time in every day.
    let calendar = json!([
        {"name": "Early", "days": ["mon", "tue", "wed", "thu", "fri", "sat"], "start": "06:00", "end": "14:30",
         "breaks": [{"start": "10:00", "end": "10:30"}]},
        {"name": "Night", "days": ["mon", "tue", "wed", "thu", "fri"], "start": "22:00", "end": "05:15", "breaks": []},
    ]);
    app.set_shifts(&admin, &calendar).await;
    let reason = app.add_reason(&admin, "Material", "Jam").await;

    // Ten days that end a day ago: nothing in the window depends on the clock.
    let end = now_ms() - DAY;
    let start = end - 10 * DAY;
    // Part days at both ends, whole days between.
    let (from, to) = (start - 5 * HOUR, end + 7 * HOUR);
    let mut read_from_rollups = 0;

    for seed in 1..=6u64 {
        let mut rng = Lcg(seed);
        let device = app.claimed_device(&admin, &format!("random-{seed}")).await;
        let mut events: Vec<(i64, u64, bool, i64)> = (1..=120)
            .map(|seq| {
                let ts = start + rng.below(10 * DAY as u64) as i64;
                // Mostly alternating runs and stops, with repeats now and then.
                (ts, rng.below(2), rng.below(5) < 3, seq)
            })
            .collect();
        events.sort_unstable();
        // About a third arrive late, after later ones, in a random order.
        let (mut late, on_time): (Vec<_>, Vec<_>) =
            events.into_iter().partition(|_| rng.below(3) == 0);
        for i in (1..late.len()).rev() {
            late.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let as_json = |batch: &[(i64, u64, bool, i64)]| {
            Value::Array(
                batch
                    .iter()
                    .map(|&(ts, pin, running, seq)| json!({"seq": seq, "pin": pin, "running": running, "ts": ts}))
                    .collect(),
            )
        };

        let mut steps: Vec<Vec<(i64, u64, bool, i64)>> =
            on_time.chunks(20).map(<[_]>::to_vec).collect();
        steps.extend(late.chunks(7).map(<[_]>::to_vec));
        for (step, batch) in steps.iter().enumerate() {
            let resp = app.ingest(&device, as_json(batch)).await;
            assert_eq!(resp.status(), StatusCode::OK);
            if step % 3 == 2 {
                // An operator gives a stop a reason, or splits one.
                let stops = app.stops(&admin, &format!("from={start}&to={end}")).await;
                let stops = stops.as_array().unwrap();
                if !stops.is_empty() {
                    let stop = &stops[rng.below(stops.len() as u64) as usize];
                    let id = stop["id"].as_str().unwrap();
                    let resp = if rng.below(2) == 0 {
                        app.annotate_stop(
                            &admin,
                            id,
                            &json!({"reason_id": reason["id"], "comment": "jam"}),
                        )
                        .await
                    } else {
                        let (s, e) = (
                            stop["start"].as_i64().unwrap(),
                            stop["end"].as_i64().unwrap(),
                        );
                        app.split_stop(&admin, id, &json!({"at": s + (e - s) / 2}))
                            .await
                    };
                    assert!(resp.status().is_success(), "{}", resp.status());
                }
            }
            let before = rollup_counters(&app).await;
            let warm = answers(&app, &admin, from, to).await;
            read_from_rollups += rollup_counters(&app).await.0 - before.0;
            let cold = answers_from_events(&app, &admin, from, to).await;
            if let Some(at) =
                first_difference(&Value::Array(warm), &Value::Array(cold), String::new())
            {
                panic!("seed {seed}, step {step}: rollups and events disagree at {at}");
            }
            // Fill the rollups again for the next step.
            answers(&app, &admin, from, to).await;
        }
    }
    assert!(
        read_from_rollups > 1000,
        "the rollups were hardly used ({read_from_rollups} asset-days), so this test proves little"
    );
}

#[tokio::test]
async fn the_background_settle_leaves_no_day_of_a_backfill_for_a_reader_to_compute() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "backfilled").await;
    // A week that ended days ago (the tenant's zone is UTC), and a change after it, so that every
    // day of the week is settled.
    let start = (now_ms() / DAY - 10) * DAY;
    let events: Vec<Value> = (0..7 * 8 + 2)
        .map(|i| json!({"seq": i + 1, "pin": 0, "running": i % 2 == 0, "ts": start + i * 3 * HOUR}))
        .collect();
    let resp = app.ingest(&device, Value::Array(events)).await;
    assert_eq!(resp.status(), StatusCode::OK);

    let state = app.state.as_ref().expect("in-process server");
    assetlog_server::analytics::settle_days(state)
        .await
        .unwrap();
    let (read_before, computed_before) = rollup_counters(&app).await;
    assert!(computed_before >= 7, "the settle computed the week's days");
    let week = app
        .analytics(
            &admin,
            &format!("from={start}&to={}&bucket=day", start + 7 * DAY),
        )
        .await;
    let (read_after, computed_after) = rollup_counters(&app).await;
    assert_eq!(
        computed_after, computed_before,
        "the reader computed no day"
    );
    assert_eq!(read_after - read_before, 7);
    // And what it read is the history: runs and stops of 3 hours each, alternating.
    assert_eq!(week["assets"][0]["run_ms"], 7 * 12 * HOUR);
    assert_eq!(week["assets"][0]["down_ms"], 7 * 12 * HOUR);
}

/// A backfill of ended days gets its day rollups computed in the background, soon after the
/// backfilling goes quiet: the first reader of that history does not pay for them.
#[tokio::test]
async fn a_backfill_of_ended_days_is_rolled_up_without_a_reader() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "esp-1").await;
    let state = app.state.as_ref().expect("in-process server");
    let mut settled = state.days_settled.subscribe();
    let today = now_ms() / DAY * DAY;
    let from = today - 4 * DAY;
    let events: Vec<Value> = (0..12)
        .map(|n| json!({"seq": n + 1, "pin": 0, "running": n % 2 == 0, "ts": from + n * 7 * HOUR}))
        .collect();

    let store = &state.store;
    let tenant = store.tenant_ids().await.unwrap()[0];
    let asset = store.assets(tenant).await.unwrap();
    assert!(asset.is_empty(), "no asset before its first event");
    assert_eq!(
        app.ingest(&device, json!(events)).await.status(),
        StatusCode::OK
    );
    let asset = store.assets(tenant).await.unwrap()[0].id;
    let stored = store
        .day_rollups(tenant, vec![asset], from, today)
        .await
        .unwrap();
    assert!(stored[0].days.is_empty(), "no reader has asked yet");

    // No reader asks; the background settle runs once the backfill is quiet.
    tokio::time::timeout(
        std::time::Duration::from_secs(60),
        settled.wait_for(|n| *n >= 1),
    )
    .await
    .expect("the days are settled within a minute of the backfill")
    .unwrap();
    let stored = store
        .day_rollups(tenant, vec![asset], from, today)
        .await
        .unwrap();
    assert!(
        !stored[0].days.is_empty(),
        "the ended days of the backfill are rolled up"
    );
}
