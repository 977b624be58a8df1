//! Analytics as a plant manager reads them: hand-worked histories, settings that shape the
//! numbers, stops with reasons, CSV, and the tenant wall.

use assetlog_server::domain::LoggerRow;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;

/// A claimed logger with one asset whose history is: RUNNING at t0, a 2-minute stop at t0+1h,
/// a 30-minute stop at t0+3h, RUNNING again at t0+3h30 (t0 ten hours ago, on the hour).
async fn worked_day(app: &TestApp) -> (Account, Device, i64, i64) {
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "esp-1").await;
    let t0 = (now_ms() - 10 * HOUR) / HOUR * HOUR;
    let events = json!([
        {"seq": 1, "pin": 0, "running": true, "ts": t0},
        {"seq": 2, "pin": 0, "running": false, "ts": t0 + HOUR},
        {"seq": 3, "pin": 0, "running": true, "ts": t0 + HOUR + 2 * MIN},
        {"seq": 4, "pin": 0, "running": true, "ts": t0 + 2 * HOUR},
        {"seq": 5, "pin": 0, "running": false, "ts": t0 + 3 * HOUR},
        {"seq": 6, "pin": 0, "running": true, "ts": t0 + 3 * HOUR + 30 * MIN},
    ]);
    assert_eq!(app.ingest(&device, events).await.status(), StatusCode::OK);
    let asset = app.get_json("/api/v1/assets", &admin.token).await[0]["id"]
        .as_i64()
        .unwrap();
    (admin, device, asset, t0)
}

#[tokio::test]
async fn a_worked_day_gives_the_hand_computed_figures() {
    let app = spawn_app().await;
    let (admin, _, asset, t0) = worked_day(&app).await;
    let body = app
        .analytics(
            &admin,
            &format!("from={t0}&to={}&bucket=hour", t0 + 5 * HOUR),
        )
        .await;
    assert_eq!(body["timezone"], "UTC");
    let a = &body["assets"][0];
    assert_eq!(a["asset_id"], asset);
    assert_eq!(a["run_ms"], 5 * HOUR - 32 * MIN);
    assert_eq!(a["down_ms"], 32 * MIN);
    assert_eq!(a["unknown_ms"], 0);
    assert_eq!(a["unplanned_ms"], 0);
    assert_eq!(a["stops"], 2);
    assert_eq!(a["short_stops"], 1, "2 min is below the default 300 s");
    assert_eq!(a["long_stops"], 1);
    assert_eq!(a["mtbf_ms"], (5 * HOUR - 32 * MIN) / 2);
    assert_eq!(a["mttr_ms"], 16 * MIN);
    let availability = a["availability"].as_f64().unwrap();
    assert!(
        (availability - 268.0 / 300.0).abs() < 1e-9,
        "{availability}"
    );

    let buckets = a["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 5);
    let downs: Vec<i64> = buckets
        .iter()
        .map(|b| b["down_ms"].as_i64().unwrap())
        .collect();
    assert_eq!(downs, [0, 2 * MIN, 0, 30 * MIN, 0]);
    let sum: i64 = buckets
        .iter()
        .map(|b| b["run_ms"].as_i64().unwrap() + b["down_ms"].as_i64().unwrap())
        .sum();
    assert_eq!(sum, 5 * HOUR);
    assert_eq!(body["total"]["run_ms"], a["run_ms"]);
    // The original path answers the same.
    let legacy = app
        .get_json(
            &format!("/api/analytics?from={t0}&to={}", t0 + 5 * HOUR),
            &admin.token,
        )
        .await;
    assert_eq!(legacy["total"]["down_ms"], 32 * MIN);
}

#[tokio::test]
async fn before_the_first_event_time_is_unknown_and_a_stop_after_unknown_is_not_counted() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "esp-1").await;
    let t0 = (now_ms() - 10 * HOUR) / HOUR * HOUR;
    let events = json!([
        {"seq": 1, "pin": 0, "running": false, "ts": t0 + HOUR},
        {"seq": 2, "pin": 0, "running": true, "ts": t0 + 2 * HOUR},
    ]);
    app.ingest(&device, events).await;
    let a = &app
        .analytics(&admin, &format!("from={t0}&to={}", t0 + 3 * HOUR))
        .await["assets"][0];
    assert_eq!(a["unknown_ms"], HOUR);
    assert_eq!(a["down_ms"], HOUR);
    assert_eq!(a["run_ms"], HOUR);
    assert_eq!(a["stops"], 0, "nobody knows when that stop began");
    assert_eq!(a["mtbf_ms"], Value::Null);
    assert!((a["availability"].as_f64().unwrap() - 0.5).abs() < 1e-9);
}

#[tokio::test]
async fn planned_downtime_and_thresholds_shape_the_numbers() {
    let app = spawn_app().await;
    let (admin, _, asset, t0) = worked_day(&app).await;
    // The long stop was planned maintenance: unplanned time, no stop.
    let resp = app
        .add_planned_downtime(&admin, &json!({"asset_id": asset, "from": t0 + 3 * HOUR, "to": t0 + 3 * HOUR + 30 * MIN, "note": "oil change"}))
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let listed = app.get_json("/api/v1/planned-downtime", &admin.token).await;
    assert_eq!(listed[0]["note"], "oil change");
    let window = format!("from={t0}&to={}", t0 + 5 * HOUR);
    let a = &app.analytics(&admin, &window).await["assets"][0];
    assert_eq!(a["unplanned_ms"], 30 * MIN);
    assert_eq!(a["down_ms"], 2 * MIN);
    assert_eq!(a["stops"], 1);

    // A threshold of 60 s makes the 2-minute stop long; the asset's own threshold wins.
    let resp = app
        .put_settings(&admin, &json!({"short_stop_threshold_s": 60}))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let a = &app.analytics(&admin, &window).await["assets"][0];
    assert_eq!(
        (a["short_stops"].as_i64(), a["long_stops"].as_i64()),
        (Some(0), Some(1))
    );
    app.send(
        Method::PUT,
        &format!("/api/v1/assets/{asset}"),
        Some(&json!({"short_stop_threshold_s": 600})),
        Some(&admin.token),
    )
    .await;
    let a = &app.analytics(&admin, &window).await["assets"][0];
    assert_eq!(
        (a["short_stops"].as_i64(), a["long_stops"].as_i64()),
        (Some(1), Some(0))
    );
}

#[tokio::test]
async fn a_shift_calendar_makes_the_rest_unplanned() {
    let app = spawn_app().await;
    let (admin, _, _, t0) = worked_day(&app).await;
    // Only the UTC hours of t0+1h..t0+2h are planned, every day.
    let (start, end) = (hhmm(t0 + HOUR), hhmm(t0 + 2 * HOUR));
    let all = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let calendar = json!([{"name": "Slot", "days": all, "start": start, "end": end, "breaks": []}]);
    app.set_shifts(&admin, &calendar).await;
    assert_eq!(app.get_json("/api/v1/shifts", &admin.token).await, calendar);
    let a = &app
        .analytics(
            &admin,
            &format!("from={t0}&to={}&bucket=shift", t0 + 5 * HOUR),
        )
        .await["assets"][0];
    assert_eq!(a["unplanned_ms"], 4 * HOUR);
    assert_eq!(a["down_ms"], 2 * MIN);
    assert_eq!(a["run_ms"], HOUR - 2 * MIN);
    assert_eq!(a["stops"], 1);
    assert_eq!(a["buckets"].as_array().unwrap().len(), 1);
    assert_eq!(a["buckets"][0]["shift"], "Slot");

    let overlapping = json!([
        {"name": "A", "days": ["mon"], "start": "06:00", "end": "14:00"},
        {"name": "B", "days": ["mon"], "start": "13:00", "end": "22:00"}
    ]);
    let resp = app
        .send(
            Method::PUT,
            "/api/v1/shifts",
            Some(&overlapping),
            Some(&admin.token),
        )
        .await;
    assert_error(resp, StatusCode::BAD_REQUEST, "invalid_shifts").await;
    assert_eq!(
        app.get_json("/api/v1/shifts", &admin.token).await,
        calendar,
        "a refused calendar changes nothing"
    );
}

#[tokio::test]
async fn a_new_calendar_applies_from_its_day_and_last_week_keeps_its_figures() {
    let app = spawn_app_with(|c| c.open_signup = true).await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "esp-1").await;
    // Eight days ago (UTC, the tenant's zone): running from 05:00, stopped 08:00–09:00, running
    // again until now.
    let day = (now_ms() / (24 * HOUR) - 8) * 24 * HOUR;
    let events = json!([
        {"seq": 1, "pin": 0, "running": true, "ts": day + 5 * HOUR},
        {"seq": 2, "pin": 0, "running": false, "ts": day + 8 * HOUR},
        {"seq": 3, "pin": 0, "running": true, "ts": day + 9 * HOUR},
    ]);
    assert_eq!(app.ingest(&device, events).await.status(), StatusCode::OK);
    let date = chrono::DateTime::from_timestamp_millis(day)
        .unwrap()
        .format("%Y-%m-%d")
        .to_string();
    let all = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let early =
        json!([{"name": "Early", "days": all, "start": "06:00", "end": "14:00", "breaks": []}]);
    let night = json!([
        {"name": "Early", "days": all, "start": "06:00", "end": "14:00", "breaks": []},
        {"name": "Night", "days": all, "start": "22:00", "end": "06:00", "breaks": []}
    ]);
    app.set_shifts(&admin, &early).await;
    let window = format!("from={day}&to={}", day + 24 * HOUR);
    let before = app.analytics(&admin, &window).await["total"].clone();
    assert_eq!(before["unplanned_ms"], 16 * HOUR);
    assert_eq!(before["down_ms"], HOUR);
    assert_eq!(before["run_ms"], 7 * HOUR);

    // A night shift added today (no day given) leaves that day as it was.
    let put = |path: String, body: Value| {
        let (app, token) = (&app, admin.token.clone());
        async move {
            app.send(Method::PUT, &path, Some(&body), Some(&token))
                .await
        }
    };
    let resp = put("/api/v1/shifts".into(), night.clone()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(app.analytics(&admin, &window).await["total"], before);
    assert_eq!(app.get_json("/api/v1/shifts", &admin.token).await, night);
    assert_eq!(
        app.get_json(&format!("/api/v1/shifts?on={date}"), &admin.token)
            .await,
        early
    );
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(
        app.get_json("/api/v1/shift-calendars", &admin.token).await,
        json!([
            {"from": null, "shifts": []},
            {"from": "1970-01-01", "shifts": early},
            {"from": today, "shifts": night}
        ])
    );

    // Bad days are refused and change nothing.
    for query in [
        "from=yesterday",
        "from=2026-02-30",
        "from=1969-12-31",
        "from=12/07/2026",
        "since=2026-12-07",
    ] {
        let resp = put(format!("/api/v1/shifts?{query}"), early.clone()).await;
        assert_error(resp, StatusCode::BAD_REQUEST, "invalid_query").await;
    }
    let resp = app
        .get("/api/v1/shifts?on=someday", Some(&admin.token))
        .await;
    assert_error(resp, StatusCode::BAD_REQUEST, "invalid_query").await;
    assert_eq!(
        app.get_json("/api/v1/shift-calendars", &admin.token)
            .await
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // Applied from that day on, the night shift does change it (and replaces today's).
    let resp = put(format!("/api/v1/shifts?from={date}"), night.clone()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let after = &app.analytics(&admin, &window).await["total"];
    // Early 06:00–14:00 and that day's night from 22:00 (the night before it was still the
    // old calendar's: none).
    assert_eq!(after["unplanned_ms"], 14 * HOUR);
    assert_eq!(after["run_ms"], 9 * HOUR);
    assert_eq!(after["down_ms"], HOUR);
    assert_eq!(
        app.get_json("/api/v1/shift-calendars", &admin.token).await,
        json!([
            {"from": null, "shifts": []},
            {"from": "1970-01-01", "shifts": early},
            {"from": date, "shifts": night}
        ])
    );

    // Only admins change it, and another tenant sees none of it.
    let viewer = app.add_user(&admin, "vic@a.example", "viewer").await;
    let resp = app
        .send(
            Method::PUT,
            "/api/v1/shifts?from=2030-01-01",
            Some(&early),
            Some(&viewer.token),
        )
        .await;
    assert_error(resp, StatusCode::FORBIDDEN, "forbidden").await;
    let other = app.signup("bob@b.example", "B").await;
    assert_eq!(
        app.get_json("/api/v1/shift-calendars", &other.token).await,
        json!([{"from": null, "shifts": []}])
    );
    assert_eq!(
        app.get_json(&format!("/api/v1/shifts?on={date}"), &other.token)
            .await,
        json!([])
    );
}

#[tokio::test]
async fn operators_give_stops_reasons_and_the_pareto_follows() {
    let app = spawn_app().await;
    let (admin, _, asset, t0) = worked_day(&app).await;
    let operator = app.add_user(&admin, "otto@a.example", "operator").await;
    let viewer = app.add_user(&admin, "vic@a.example", "viewer").await;
    let jam = app.add_reason(&admin, "Material", "Jam").await;
    let tool = app.add_reason(&admin, "Tooling", "Tool change").await;
    let dup = app
        .post(
            "/api/v1/reasons",
            &json!({"category": "Material", "name": "Jam"}),
            Some(&admin.token),
        )
        .await;
    assert_error(dup, StatusCode::CONFLICT, "conflict").await;

    let window = format!("from={t0}&to={}", t0 + 5 * HOUR);
    let stops = app.stops(&operator, &window).await;
    let stops = stops.as_array().unwrap();
    assert_eq!(stops.len(), 2);
    let long = stops.iter().find(|s| s["short"] == false).unwrap();
    assert_eq!(long["duration_ms"], 30 * MIN);
    assert_eq!(long["asset_id"], asset);
    let long_id = long["id"].as_str().unwrap().to_owned();

    let body = json!({"reason_id": jam["id"], "comment": "film wrapped the roller"});
    let denied = app
        .send(
            Method::PUT,
            &format!("/api/v1/stops/{long_id}"),
            Some(&body),
            Some(&viewer.token),
        )
        .await;
    assert_error(denied, StatusCode::FORBIDDEN, "forbidden").await;
    let ok = app
        .send(
            Method::PUT,
            &format!("/api/v1/stops/{long_id}"),
            Some(&body),
            Some(&operator.token),
        )
        .await;
    assert_eq!(ok.status(), StatusCode::NO_CONTENT);

    // Split the long stop: the last 10 minutes were a tool change.
    let split: Value = app
        .split_stop(
            &operator,
            &long_id,
            &json!({"at": t0 + 3 * HOUR + 20 * MIN}),
        )
        .await
        .json()
        .await
        .unwrap();
    let second = split["parts"][1].as_str().unwrap().to_owned();
    let ok = app
        .annotate_stop(&operator, &second, &json!({"reason_id": tool["id"]}))
        .await;
    assert_eq!(ok.status(), StatusCode::NO_CONTENT);

    let a = &app.analytics(&admin, &window).await["assets"][0];
    let pareto = a["downtime_by_reason"].as_array().unwrap();
    let shares: Vec<(Value, i64)> = pareto
        .iter()
        .map(|r| (r["name"].clone(), r["down_ms"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        shares,
        [
            (json!("Jam"), 20 * MIN),
            (json!("Tool change"), 10 * MIN),
            (json!("Unassigned"), 2 * MIN)
        ]
    );
    assert_eq!(pareto[0]["category"], "Material");
    let sum: i64 = shares.iter().map(|(_, ms)| ms).sum();
    assert_eq!(
        sum,
        a["down_ms"].as_i64().unwrap(),
        "the Pareto adds up to the down time"
    );
    // One stop definition: a stop counts once, under its first part's reason, so the split
    // long stop is one Jam stop and the tool change adds down time but no stop.
    let stops_by_reason = |pareto: &Value| -> Vec<(Value, u64)> {
        pareto
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["name"].clone(), r["stops"].as_u64().unwrap()))
            .collect()
    };
    assert_eq!(
        stops_by_reason(&a["downtime_by_reason"]),
        [
            (json!("Jam"), 1),
            (json!("Tool change"), 0),
            (json!("Unassigned"), 1)
        ]
    );
    assert_eq!(a["stops"], 2, "the Pareto's stops add up to the stop count");
    // Raw events are never changed by annotation.
    assert_eq!(app.events(&admin).await.len(), 6);

    let unassigned = app
        .stops(&admin, &format!("{window}&unassigned=true"))
        .await;
    assert_eq!(unassigned.as_array().unwrap().len(), 1);
    let long_only = app
        .stops(&admin, &format!("{window}&min_duration_ms={}", 5 * MIN))
        .await;
    assert_eq!(
        long_only.as_array().unwrap().len(),
        2,
        "both parts of the long stop"
    );

    // Refusals in words a shift lead reads, not field names.
    let outside = app
        .split_stop(&operator, &long_id, &json!({"at": t0}))
        .await;
    let message = assert_error(outside, StatusCode::BAD_REQUEST, "invalid_field").await;
    assert!(
        message.starts_with("the split time must lie inside the stop"),
        "{message}"
    );
    let garbled = app
        .split_stop(&operator, &long_id, &json!({"at": "after lunch"}))
        .await;
    let message = assert_error(garbled, StatusCode::BAD_REQUEST, "invalid_field").await;
    assert!(
        message.starts_with("the split time (at) is a date and time"),
        "{message}"
    );
    let foreign_reason = app
        .annotate_stop(&operator, &long_id, &json!({"reason_id": 9999}))
        .await;
    assert_error(foreign_reason, StatusCode::BAD_REQUEST, "invalid_reason").await;
    let no_stop = app
        .annotate_stop(
            &operator,
            &format!("{asset}-{t0}-{t0}"),
            &json!({"reason_id": null}),
        )
        .await;
    assert_error(no_stop, StatusCode::NOT_FOUND, "not_found").await;
    // A stop that begins in planned downtime is no stop, in the figures and in the Pareto.
    let resp = app
        .add_planned_downtime(
            &admin,
            &json!({"asset_id": asset, "from": t0 + HOUR - MIN, "to": t0 + HOUR + MIN}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let body = app.analytics(&admin, &window).await;
    let a = &body["assets"][0];
    assert_eq!(a["stops"], 1);
    assert_eq!(
        stops_by_reason(&a["downtime_by_reason"]),
        [
            (json!("Jam"), 1),
            (json!("Tool change"), 0),
            (json!("Unassigned"), 0)
        ]
    );
    assert_eq!(body["total"]["stops"], 1);
    assert_eq!(
        stops_by_reason(&body["total"]["downtime_by_reason"])
            .iter()
            .map(|(_, n)| n)
            .sum::<u64>(),
        1
    );
}

#[tokio::test]
async fn analytics_stops_and_events_come_as_csv() {
    let app = spawn_app().await;
    let (admin, _, _, t0) = worked_day(&app).await;
    let window = format!("from={t0}&to={}", t0 + 5 * HOUR);
    let resp = app
        .client
        .get(format!("{}/api/v1/analytics?{window}&bucket=hour", app.url))
        .bearer_auth(&admin.token)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "text/csv; charset=utf-8");
    let text = resp.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // Columns that say what they hold; the old name of not_planned_ms kept, last, for a release.
    assert_eq!(
        lines[0],
        "asset_id,asset_name,start,end,run_ms,down_ms,unknown_ms,not_planned_ms,availability,\
         stops,short_stops,long_stops,mtbf_ms,mttr_ms,row,shift,unplanned_ms"
    );
    assert_eq!(lines.len(), 1 + 1 + 5, "header, the window, five hours");
    assert!(
        lines[1].contains(&format!(",{},{},", 5 * HOUR - 32 * MIN, 32 * MIN)),
        "{}",
        lines[1]
    );
    assert!(lines[1].ends_with(",total,,0"), "{}", lines[1]);
    assert!(lines[2].ends_with(",bucket,,0"), "{}", lines[2]);

    let stops = app
        .get(
            &format!("/api/v1/stops?{window}&format=csv"),
            Some(&admin.token),
        )
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(stops.lines().count(), 3);
    let events = app
        .get("/api/v1/events?format=csv&limit=10", Some(&admin.token))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(events.lines().count(), 7);
    assert!(events.lines().nth(1).unwrap().contains("RUNNING"));
    // Shift buckets name their shift.
    let all = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    app.set_shifts(
        &admin,
        &json!([{"name": "Slot", "days": all, "start": hhmm(t0 + HOUR), "end": hhmm(t0 + 2 * HOUR), "breaks": []}]),
    )
    .await;
    let text = app
        .get(
            &format!("/api/v1/analytics?{window}&bucket=shift&format=csv"),
            Some(&admin.token),
        )
        .await
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text:?}");
    let cells: Vec<&str> = lines[2].split(',').collect();
    assert_eq!(&cells[14..], ["bucket", "Slot", &(0).to_string()]);
    let total: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(
        total[7],
        (4 * HOUR).to_string(),
        "not planned: four of the five hours"
    );
    assert_eq!(total[16], total[7], "the old name holds the same");
}

#[tokio::test]
async fn settings_are_validated_and_only_admins_change_them() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let viewer = app.add_user(&admin, "vic@a.example", "viewer").await;
    assert_eq!(
        app.get_json("/api/v1/settings", &viewer.token).await,
        json!({"timezone": "UTC", "short_stop_threshold_s": 300, "retention_days": null, "target_availability": null})
    );
    let bad_zone = app
        .put_settings(&admin, &json!({"timezone": "Mars/Olympus"}))
        .await;
    assert_error(bad_zone, StatusCode::BAD_REQUEST, "invalid_timezone").await;
    let bad_threshold = app
        .put_settings(&admin, &json!({"short_stop_threshold_s": 0}))
        .await;
    assert_error(bad_threshold, StatusCode::BAD_REQUEST, "invalid_field").await;
    let as_viewer = app
        .put_settings(&viewer, &json!({"timezone": "Europe/Berlin"}))
        .await;
    assert_error(as_viewer, StatusCode::FORBIDDEN, "forbidden").await;
    let ok = app
        .put_settings(&admin, &json!({"timezone": "Europe/Berlin"}))
        .await;
    assert_eq!(
        ok.json::<Value>().await.unwrap()["timezone"],
        "Europe/Berlin"
    );
    // The default window is today in the tenant's zone.
    let body = app.get_json("/api/v1/analytics", &viewer.token).await;
    assert_eq!(body["timezone"], "Europe/Berlin");
    let from = chrono::DateTime::parse_from_rfc3339(body["from"].as_str().unwrap()).unwrap();
    let to = chrono::DateTime::parse_from_rfc3339(body["to"].as_str().unwrap()).unwrap();
    let hours = (to - from).num_hours();
    assert!((23..=25).contains(&hours), "{hours}");
}

#[tokio::test]
async fn bad_analytics_parameters_are_refused() {
    let app = spawn_app().await;
    let (admin, _, _, t0) = worked_day(&app).await;
    let day = 24 * HOUR;
    for (query, code) in [
        (format!("from={t0}&to={t0}"), "invalid_query"),
        (format!("from={}&to={t0}", t0 + 1), "invalid_query"),
        (format!("from={}&to={t0}", t0 - 401 * day), "invalid_query"),
        ("bucket=fortnight".to_owned(), "invalid_query"),
        ("from=yesterday".to_owned(), "invalid_query"),
        ("asset_id=abc".to_owned(), "invalid_query"),
        ("colour=red".to_owned(), "invalid_query"),
        ("format=xml".to_owned(), "invalid_query"),
    ] {
        let resp = app
            .get(&format!("/api/v1/analytics?{query}"), Some(&admin.token))
            .await;
        assert_error(resp, StatusCode::BAD_REQUEST, code).await;
    }
    let missing = app
        .get("/api/v1/analytics?asset_id=424242", Some(&admin.token))
        .await;
    assert_error(missing, StatusCode::NOT_FOUND, "not_found").await;
    for body in [
        json!({"from": t0, "to": t0}),
        json!({"from": "soon", "to": t0}),
        json!({"from": t0, "to": t0 + HOUR, "asset_id": 424242}),
    ] {
        let resp = app
            .post("/api/v1/planned-downtime", &body, Some(&admin.token))
            .await;
        assert!(resp.status().is_client_error(), "{body}");
    }
    assert_eq!(
        app.get_json("/api/v1/planned-downtime", &admin.token).await,
        json!([])
    );
}

#[tokio::test]
async fn another_tenant_cannot_read_or_annotate_what_is_not_its_own() {
    let app = spawn_app_with(|c| c.open_signup = true).await;
    let (admin, _, asset, t0) = worked_day(&app).await;
    let other = app.signup("bob@b.example", "B").await;
    let window = format!("from={t0}&to={}", t0 + 5 * HOUR);
    let resp = app
        .get(
            &format!("/api/v1/analytics?{window}&asset_id={asset}"),
            Some(&other.token),
        )
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    let resp = app
        .get(
            &format!("/api/v1/stops?{window}&asset_id={asset}"),
            Some(&other.token),
        )
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(app.analytics(&other, &window).await["assets"], json!([]));
    assert_eq!(app.stops(&other, &window).await, json!([]));

    let stop_id = app.stops(&admin, &window).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let resp = app
        .annotate_stop(&other, &stop_id, &json!({"comment": "mine"}))
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    let resp = app
        .split_stop(&other, &stop_id, &json!({"at": t0 + HOUR + MIN}))
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    // B's reason cannot be put on A's stop, nor A's on B's.
    let b_reason: Value = app
        .post(
            "/api/v1/reasons",
            &json!({"category": "X", "name": "Y"}),
            Some(&other.token),
        )
        .await
        .json()
        .await
        .unwrap();
    let resp = app
        .annotate_stop(&admin, &stop_id, &json!({"reason_id": b_reason["id"]}))
        .await;
    assert_error(resp, StatusCode::BAD_REQUEST, "invalid_reason").await;
    let resp = app
        .send(
            Method::PUT,
            &format!("/api/v1/reasons/{}", b_reason["id"]),
            Some(&json!({"name": "Z"})),
            Some(&admin.token),
        )
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    let resp = app
        .send(
            Method::DELETE,
            &format!("/api/v1/reasons/{}", b_reason["id"]),
            None,
            Some(&admin.token),
        )
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    let a_downtime: Value = app
        .add_planned_downtime(&admin, &json!({"from": t0, "to": t0 + HOUR}))
        .await
        .json()
        .await
        .unwrap();
    let resp = app
        .send(
            Method::DELETE,
            &format!("/api/v1/planned-downtime/{}", a_downtime["id"]),
            None,
            Some(&other.token),
        )
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    let resp = app
        .add_planned_downtime(
            &other,
            &json!({"asset_id": asset, "from": t0, "to": t0 + HOUR}),
        )
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(
        app.get_json("/api/v1/planned-downtime", &other.token).await,
        json!([])
    );
    assert_eq!(
        app.get_json("/api/v1/reasons", &admin.token).await,
        json!([])
    );
    assert_eq!(
        app.get_json("/api/v1/settings", &other.token).await["timezone"],
        "UTC"
    );
}

#[tokio::test]
async fn an_offline_gap_is_unknown_time() {
    let app = spawn_app_with(|c| c.heartbeat_interval = 1).await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "esp-1").await;
    let start = now_ms();
    app.asset_state(
        &device,
        json!({"pin_number": 0, "is_running": true, "timestamp": start}),
    )
    .await;
    let mut live = app.live(&admin.token).await;
    assert_eq!(live.next_of("logger_status").await["online"], false);
    let hb = app
        .post(
            "/api/device/heartbeat",
            &json!({"logger_id": "esp-1"}),
            Some(&device.key),
        )
        .await;
    assert_eq!(hb.status(), StatusCode::OK);
    assert_eq!(live.next_of("logger_status").await["online"], true);
    let end = now_ms();
    let a = &app
        .analytics(&admin, &format!("from={start}&to={end}"))
        .await["assets"][0];
    let (unknown, run) = (
        a["unknown_ms"].as_i64().unwrap(),
        a["run_ms"].as_i64().unwrap(),
    );
    // Unknown from the last contact until the logger reported again: three missed 1 s
    // heartbeats at least; RUNNING before and after the gap (no event said otherwise).
    assert!(unknown >= 3000, "{a}");
    assert_eq!(a["down_ms"], 0);
    assert_eq!(run + unknown + a["down_ms"].as_i64().unwrap(), end - start);
}

fn at(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp_millis()
}

/// The worked example of docs/ANALYTICS.md, figure for figure: Europe/Berlin over the weekend
/// the clocks go back (Sunday 2026-10-25 has 25 hours), a night shift across midnight with a
/// break, a stop across local midnight, an offline gap, and a backfilled batch arriving last.
#[tokio::test]
async fn the_documented_worked_example_gives_the_documented_figures() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "esp-1").await;
    let put = |path: &'static str, body: Value| {
        let app = &app;
        let token = admin.token.clone();
        async move {
            let resp = app.send(Method::PUT, path, Some(&body), Some(&token)).await;
            assert_eq!(resp.status(), StatusCode::OK, "{path}");
        }
    };
    put(
        "/api/v1/settings",
        json!({"timezone": "Europe/Berlin", "short_stop_threshold_s": 300}),
    )
    .await;
    put(
        "/api/v1/shifts?from=1970-01-01",
        json!([
            {"name": "Night", "days": ["sat"], "start": "22:00", "end": "06:00", "breaks": [{"start": "02:00", "end": "02:30"}]},
            {"name": "Day", "days": ["sun"], "start": "08:00", "end": "16:00", "breaks": []}
        ]),
    )
    .await;
    let ev = |seq: i64, running: bool, t: &str| json!({"seq": seq, "pin": 0, "running": running, "ts": at(t)});
    let live_batch = json!([
        ev(1, true, "2026-10-24T19:00:00Z"),
        ev(2, false, "2026-10-24T21:50:00Z"),
        ev(3, true, "2026-10-24T22:20:00Z"),
        ev(7, false, "2026-10-25T10:00:00Z"),
        ev(8, true, "2026-10-25T10:02:00Z"),
        ev(9, false, "2026-10-25T14:00:00Z"),
        ev(10, true, "2026-10-25T14:45:00Z"),
    ]);
    assert_eq!(
        app.ingest(&device, live_batch).await.status(),
        StatusCode::OK
    );
    // The logger was out of contact twice; the second time it kept logging (it rebooted at
    // 03:10) and its backlog arrives last.
    let store = app.store.as_ref().unwrap();
    let row = LoggerRow(
        app.get_json("/api/v1/loggers", &admin.token).await[0]["id"]
            .as_i64()
            .unwrap(),
    );
    for (from, to) in [
        ("2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z"),
        ("2026-10-25T03:00:00Z", "2026-10-25T04:00:00Z"),
    ] {
        store.open_offline(row, at(from)).await.unwrap();
        store.close_offline(row, at(to)).await.unwrap();
    }
    let backfill = json!([
        ev(4, true, "2026-10-25T03:10:00Z"),
        ev(5, false, "2026-10-25T03:20:00Z"),
        ev(6, true, "2026-10-25T03:24:00Z")
    ]);
    assert_eq!(app.ingest(&device, backfill).await.status(), StatusCode::OK);

    let body = app
        .get_json("/api/v1/analytics?from=2026-10-24T00:00:00%2B02:00&to=2026-10-26T00:00:00%2B01:00&bucket=day", &admin.token)
        .await;
    let a = &body["assets"][0];
    let figures = |f: &Value| {
        [
            &f["run_ms"],
            &f["down_ms"],
            &f["unknown_ms"],
            &f["unplanned_ms"],
            &f["stops"],
            &f["short_stops"],
            &f["long_stops"],
        ]
        .map(|v| v.as_i64().unwrap())
    };
    let saturday = &a["buckets"][0];
    let sunday = &a["buckets"][1];
    assert_eq!(saturday["start"], "2026-10-23T22:00:00.000Z");
    assert_eq!(sunday["start"], "2026-10-24T22:00:00.000Z");
    assert_eq!(
        sunday["end"], "2026-10-25T23:00:00.000Z",
        "a 25-hour Sunday"
    );
    assert_eq!(
        figures(saturday),
        [110 * MIN, 10 * MIN, 0, 22 * HOUR, 1, 0, 1]
    );
    assert_eq!(
        figures(sunday),
        [729 * MIN, 71 * MIN, 70 * MIN, 630 * MIN, 3, 2, 1]
    );
    assert_eq!(
        figures(a),
        [839 * MIN, 81 * MIN, 70 * MIN, 1950 * MIN, 4, 2, 2]
    );
    assert_eq!(a["mtbf_ms"], 12_585_000);
    assert_eq!(a["mttr_ms"], 1_215_000);
    assert!((a["availability"].as_f64().unwrap() - 839.0 / 920.0).abs() < 1e-9);

    let shifts = app
        .get_json("/api/v1/analytics?from=2026-10-24T00:00:00%2B02:00&to=2026-10-26T00:00:00%2B01:00&bucket=shift", &admin.token)
        .await;
    let shift_buckets = shifts["assets"][0]["buckets"].as_array().unwrap();
    let names: Vec<&str> = shift_buckets
        .iter()
        .map(|b| b["shift"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Night", "Day"]);
    assert_eq!(shift_buckets[0]["start"], "2026-10-24T20:00:00.000Z");
    assert_eq!(
        shift_buckets[0]["end"], "2026-10-25T05:00:00.000Z",
        "9 hours: the night the clocks go back"
    );
    let night = figures(&shift_buckets[0]);
    assert_eq!(
        night[..3],
        [
            (110 + 100 + 30 + 60 + 10 + 96) * MIN,
            (10 + 20 + 4) * MIN,
            70 * MIN
        ]
    );
}

#[tokio::test]
async fn an_ongoing_stop_is_short_until_it_reaches_the_threshold() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "esp-1").await;
    let now = now_ms();
    let events = json!([
        {"seq": 1, "pin": 0, "running": true, "ts": now - 10 * MIN},
        {"seq": 2, "pin": 0, "running": false, "ts": now - 2 * MIN},
    ]);
    app.ingest(&device, events).await;
    let window = format!("from={}&to={}", now - HOUR, now + HOUR);
    let stop = &app.stops(&admin, &window).await[0];
    assert_eq!(stop["ongoing"], true);
    assert_eq!(stop["short"], true);
    assert!(stop["duration_ms"].as_i64().unwrap() >= 2 * MIN);
    app.put_settings(&admin, &json!({"short_stop_threshold_s": 60}))
        .await;
    let stop = &app.stops(&admin, &window).await[0];
    assert_eq!(
        stop["short"], false,
        "two minutes in, past a 60 s threshold"
    );
    let a = &app.analytics(&admin, &window).await["assets"][0];
    assert_eq!(a["long_stops"], 1);
    let total = a["run_ms"].as_i64().unwrap()
        + a["down_ms"].as_i64().unwrap()
        + a["unknown_ms"].as_i64().unwrap();
    assert!(total < 2 * HOUR, "time after now counts nowhere");
}

#[tokio::test]
async fn purging_a_logger_takes_its_notes_downtime_and_offline_history_along() {
    let app = spawn_app().await;
    let (admin, _, asset, t0) = worked_day(&app).await;
    let window = format!("from={t0}&to={}", t0 + 5 * HOUR);
    let stop_id = app.stops(&admin, &window).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.annotate_stop(&admin, &stop_id, &json!({"comment": "noted"}))
        .await;
    app.add_planned_downtime(
        &admin,
        &json!({"asset_id": asset, "from": t0, "to": t0 + HOUR}),
    )
    .await;
    let logger = LoggerRow(
        app.get_json("/api/v1/loggers", &admin.token).await[0]["id"]
            .as_i64()
            .unwrap(),
    );
    let store = app.store.as_ref().unwrap();
    store.open_offline(logger, t0 + 4 * HOUR).await.unwrap();
    store
        .close_offline(logger, t0 + 4 * HOUR + MIN)
        .await
        .unwrap();

    let resp = app
        .send(
            Method::DELETE,
            &format!("/api/v1/loggers/{logger}?purge=true"),
            None,
            Some(&admin.token),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(app.events(&admin).await.is_empty());
    assert_eq!(
        app.get_json("/api/v1/planned-downtime", &admin.token).await,
        json!([])
    );
    assert_eq!(app.analytics(&admin, &window).await["assets"], json!([]));
}

#[tokio::test]
async fn times_far_outside_any_history_are_refused() {
    let app = spawn_app().await;
    let (admin, _, _, t0) = worked_day(&app).await;
    for query in [
        "from=9000000000000000",
        "to=-5",
        "from=0&to=9223372036854775807",
    ] {
        let resp = app
            .get(
                &format!("/api/v1/analytics?{query}&bucket=hour"),
                Some(&admin.token),
            )
            .await;
        assert_error(resp, StatusCode::BAD_REQUEST, "invalid_query").await;
    }
    let resp = app
        .get("/api/v1/events?from=9000000000000000", Some(&admin.token))
        .await;
    assert_error(resp, StatusCode::BAD_REQUEST, "invalid_query").await;
    let resp = app
        .add_planned_downtime(
            &admin,
            &json!({"from": t0, "to": 9_000_000_000_000_000_i64}),
        )
        .await;
    assert_error(resp, StatusCode::BAD_REQUEST, "invalid_field").await;
}

#[tokio::test]
async fn csv_cells_that_a_spreadsheet_would_run_are_defused() {
    let app = spawn_app().await;
    let (admin, _, asset, t0) = worked_day(&app).await;
    let name = "=HYPERLINK(\"http://x\",\"y\")";
    app.send(
        Method::PUT,
        &format!("/api/v1/assets/{asset}"),
        Some(&json!({"name": name})),
        Some(&admin.token),
    )
    .await;
    let text = app
        .get(
            &format!("/api/v1/analytics?from={t0}&to={}&format=csv", t0 + HOUR),
            Some(&admin.token),
        )
        .await
        .text()
        .await
        .unwrap();
    let row = text.lines().nth(1).unwrap();
    assert!(
        row.contains("\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""),
        "{row}"
    );
}

#[tokio::test]
async fn stops_in_unplanned_time_are_neither_listed_nor_counted() {
    let app = spawn_app().await;
    let (admin, _, asset, t0) = worked_day(&app).await;
    app.add_planned_downtime(
        &admin,
        &json!({"asset_id": asset, "from": t0 + 3 * HOUR, "to": t0 + 4 * HOUR}),
    )
    .await;
    let window = format!("from={t0}&to={}", t0 + 5 * HOUR);
    let stops = app.stops(&admin, &window).await;
    assert_eq!(stops.as_array().unwrap().len(), 1);
    let a = &app.analytics(&admin, &window).await["assets"][0];
    assert_eq!(a["stops"], 1);
}

/// Milliseconds of `spans` (`[{start, end, state?}]`) in `state` (any with None) inside `planned`.
fn ms_inside(spans: &Value, state: Option<&str>, planned: &Value) -> i64 {
    let pairs = |v: &Value| -> Vec<(i64, i64, String)> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let state = s["state"].as_str().unwrap_or_default().to_owned();
                (
                    s["start"].as_i64().unwrap(),
                    s["end"].as_i64().unwrap(),
                    state,
                )
            })
            .collect()
    };
    let planned = pairs(planned);
    pairs(spans)
        .iter()
        .filter(|(_, _, s)| state.is_none_or(|want| want == s))
        .flat_map(|&(s, e, _)| {
            planned
                .iter()
                .map(move |&(ps, pe, _)| (e.min(pe) - s.max(ps)).max(0))
        })
        .sum()
}

#[tokio::test]
async fn the_timeline_draws_the_states_and_planned_time_the_figures_count() {
    let app = spawn_app_with(|c| c.open_signup = true).await;
    let (admin, _, asset, t0) = worked_day(&app).await;
    // Planned: t0+1h..t0+4h45 every day (UTC), minus planned downtime t0+3h..t0+3h10.
    let all = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    app.set_shifts(
        &admin,
        &json!([{"name": "Slot", "days": all, "start": hhmm(t0 + HOUR), "end": hhmm(t0 + 4 * HOUR + 45 * MIN), "breaks": []}]),
    )
    .await;
    let resp = app
        .add_planned_downtime(
            &admin,
            &json!({"asset_id": asset, "from": t0 + 3 * HOUR, "to": t0 + 3 * HOUR + 10 * MIN}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    // The logger was offline t0+4h..t0+4h30: the machine's state is unknown then.
    let store = app.store.as_ref().unwrap();
    let row = LoggerRow(
        app.get_json("/api/v1/loggers", &admin.token).await[0]["id"]
            .as_i64()
            .unwrap(),
    );
    store.open_offline(row, t0 + 4 * HOUR).await.unwrap();
    store
        .close_offline(row, t0 + 4 * HOUR + 30 * MIN)
        .await
        .unwrap();

    let window = format!("from={t0}&to={}", t0 + 5 * HOUR);
    let tl = app
        .get_json(&format!("/api/v1/timeline?{window}"), &admin.token)
        .await;
    let a = &tl["assets"][0];
    assert_eq!(a["asset_id"], asset);
    let states: Vec<(i64, i64, &str)> = a["states"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["start"].as_i64().unwrap() - t0,
                s["end"].as_i64().unwrap() - t0,
                s["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        &states[..5],
        [
            (0, HOUR, "RUNNING"),
            (HOUR, HOUR + 2 * MIN, "STOPPED"),
            (HOUR + 2 * MIN, 3 * HOUR, "RUNNING"),
            (3 * HOUR, 3 * HOUR + 30 * MIN, "STOPPED"),
            (3 * HOUR + 30 * MIN, 4 * HOUR, "RUNNING"),
        ]
    );
    assert_eq!(states[5].2, "UNKNOWN", "{states:?}");
    assert_eq!(states[5].0, 4 * HOUR);
    assert_eq!(
        states.last().unwrap().1,
        5 * HOUR,
        "back to back to the window's end"
    );
    assert_eq!(
        a["planned"],
        json!([
            {"start": t0 + HOUR, "end": t0 + 3 * HOUR},
            {"start": t0 + 3 * HOUR + 10 * MIN, "end": t0 + 4 * HOUR + 45 * MIN}
        ])
    );
    assert_eq!(
        a["downtime"],
        json!([{"start": t0 + 3 * HOUR, "end": t0 + 3 * HOUR + 10 * MIN}])
    );
    let shifts = tl["shifts"].as_array().unwrap();
    assert!(
        shifts
            .iter()
            .any(|s| s["name"] == "Slot" && s["start"] == t0 + HOUR),
        "{shifts:?}"
    );

    // The chart's colours inside planned time are the figures, and the rest is unplanned.
    let f = &app.analytics(&admin, &window).await["assets"][0];
    let planned = &a["planned"];
    assert_eq!(
        ms_inside(&a["states"], Some("RUNNING"), planned),
        f["run_ms"].as_i64().unwrap()
    );
    assert_eq!(
        ms_inside(&a["states"], Some("STOPPED"), planned),
        f["down_ms"].as_i64().unwrap()
    );
    assert_eq!(
        ms_inside(&a["states"], Some("UNKNOWN"), planned),
        f["unknown_ms"].as_i64().unwrap()
    );
    assert_eq!(
        5 * HOUR - ms_inside(&a["states"], None, planned),
        f["unplanned_ms"].as_i64().unwrap()
    );
    assert!(f["unknown_ms"].as_i64().unwrap() >= 30 * MIN);

    // Bad questions are refused; another tenant sees none of it.
    for query in [
        format!("from={t0}&to={}", t0 + 9 * 24 * HOUR),
        format!("{window}&bucket=hour"),
        format!("{window}&format=csv"),
        format!("{window}&unassigned=true"),
        "from=yesterday".to_owned(),
        format!("{window}&asset_id=x"),
    ] {
        let resp = app
            .get(&format!("/api/v1/timeline?{query}"), Some(&admin.token))
            .await;
        assert_error(resp, StatusCode::BAD_REQUEST, "invalid_query").await;
    }
    let other = app.signup("bob@b.example", "B").await;
    let resp = app
        .get(
            &format!("/api/v1/timeline?{window}&asset_id={asset}"),
            Some(&other.token),
        )
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    let theirs = app
        .get_json(&format!("/api/v1/timeline?{window}"), &other.token)
        .await;
    assert_eq!(theirs["assets"], json!([]));
    assert_eq!(theirs["shifts"], json!([]));
    let resp = app.get(&format!("/api/v1/timeline?{window}"), None).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn assets_name_their_line_area_and_target_and_the_tenant_its_target() {
    let app = spawn_app_with(|c| c.open_signup = true).await;
    let (admin, _, asset, _) = worked_day(&app).await;
    let path = format!("/api/v1/assets/{asset}");
    let put = |body: Value, token: String| {
        let (app, path) = (&app, path.clone());
        async move {
            app.send(Method::PUT, &path, Some(&body), Some(&token))
                .await
        }
    };
    let resp = put(
        json!({"line": " Line 1 ", "area": "Hall A", "target_availability": 0.85}),
        admin.token.clone(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let shown = app.get_json(&path, &admin.token).await;
    assert_eq!(
        (
            &shown["line"],
            &shown["area"],
            &shown["target_availability"]
        ),
        (&json!("Line 1"), &json!("Hall A"), &json!(0.85))
    );
    // Left out stays; null clears.
    let resp = put(json!({"line": null}), admin.token.clone()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let shown = app.get_json(&path, &admin.token).await;
    assert_eq!(shown["line"], Value::Null);
    assert_eq!(shown["area"], "Hall A");
    assert_eq!(shown["target_availability"], 0.85);
    for bad in [
        json!({"line": ""}),
        json!({"line": "x".repeat(51)}),
        json!({"area": "  "}),
        json!({"target_availability": 0}),
        json!({"target_availability": 1.5}),
        json!({"target_availability": -0.2}),
        json!({"target_availability": "85 %"}),
        json!({"line": 7}),
        json!({"shelf": "B"}),
    ] {
        let resp = put(bad.clone(), admin.token.clone()).await;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(body["error"]["message"].is_string(), "{body}");
    }
    assert_eq!(
        app.get_json(&path, &admin.token).await,
        shown,
        "refusals change nothing"
    );

    // The tenant's own target.
    let settings = |body: Value| {
        let (app, token) = (&app, admin.token.clone());
        async move {
            app.send(Method::PUT, "/api/v1/settings", Some(&body), Some(&token))
                .await
        }
    };
    let resp = settings(json!({"target_availability": 0.8})).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let s = app.get_json("/api/v1/settings", &admin.token).await;
    assert_eq!(s["target_availability"], 0.8);
    for bad in [
        json!({"target_availability": 2}),
        json!({"target_availability": "high"}),
    ] {
        let resp = settings(bad).await;
        assert_error(resp, StatusCode::BAD_REQUEST, "invalid_field").await;
    }
    let resp = settings(json!({"target_availability": null})).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let s = app.get_json("/api/v1/settings", &admin.token).await;
    assert_eq!(s["target_availability"], Value::Null);

    // Only admins; another tenant cannot reach the asset.
    let viewer = app.add_user(&admin, "vic@a.example", "viewer").await;
    let resp = put(json!({"line": "Mine"}), viewer.token.clone()).await;
    assert_error(resp, StatusCode::FORBIDDEN, "forbidden").await;
    let other = app.signup("bob@b.example", "B").await;
    let resp = put(json!({"line": "Mine"}), other.token.clone()).await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(app.get_json(&path, &admin.token).await["line"], Value::Null);
}

#[tokio::test]
async fn the_current_shift_and_the_next_are_told_for_the_board() {
    let app = spawn_app_with(|c| c.open_signup = true).await;
    let admin = app.signup("ada@a.example", "A").await;
    let none = app.get_json("/api/v1/shifts/current", &admin.token).await;
    assert_eq!(
        (&none["shift"], &none["next"]),
        (&Value::Null, &Value::Null)
    );
    // A shift from the last whole minute an hour ago to an hour ahead, every day (UTC).
    let start = (now_ms() - HOUR) / MIN * MIN;
    let all = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    app.set_shifts(
        &admin,
        &json!([{"name": "Now", "days": all, "start": hhmm(start), "end": hhmm(start + 2 * HOUR), "breaks": []}]),
    )
    .await;
    let current = app.get_json("/api/v1/shifts/current", &admin.token).await;
    assert_eq!(current["shift"]["name"], "Now");
    assert_eq!(current["shift"]["start"], start);
    assert_eq!(current["shift"]["end"], start + 2 * HOUR);
    assert_eq!(current["next"]["start"], start + 24 * HOUR);
    let now = current["now"].as_i64().unwrap();
    assert!((start..start + 2 * HOUR).contains(&now));
    // Another tenant's board knows nothing of it; nobody signed out does.
    let other = app.signup("bob@b.example", "B").await;
    let theirs = app.get_json("/api/v1/shifts/current", &other.token).await;
    assert_eq!(theirs["shift"], Value::Null);
    let resp = app.get("/api/v1/shifts/current", None).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn weekly_planned_downtime_repeats_in_the_zone_and_leaves_what_came_before() {
    let app = spawn_app_with(|c| c.open_signup = true).await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "esp-1").await;
    // Running all of the last three weeks.
    let start = now_ms() - 21 * 24 * HOUR;
    let events = json!([{"seq": 1, "pin": 0, "running": true, "ts": start}]);
    assert_eq!(app.ingest(&device, events).await.status(), StatusCode::OK);
    let day = |ms: i64| ms / (24 * HOUR) * (24 * HOUR);
    // Every day 13:00–14:00 UTC from ten days ago on.
    let all = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let first = day(now_ms()) - 10 * 24 * HOUR;
    let body = json!({"weekly": {"days": all, "start": "13:00", "end": "14:00"}, "from": first, "note": "lunch"});
    let resp = app.add_planned_downtime(&admin, &body).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let made: Value = resp.json().await.unwrap();
    assert_eq!(made["to"], Value::Null, "for good");
    assert_eq!(made["weekly"]["days"], json!(all));
    let listed = app.get_json("/api/v1/planned-downtime", &admin.token).await;
    assert_eq!(listed[0]["weekly"]["start"], "13:00");

    // A day after its first: that hour is not planned. A day before: all planned.
    let after = day(now_ms()) - 3 * 24 * HOUR;
    let a = &app
        .analytics(&admin, &format!("from={after}&to={}", after + 24 * HOUR))
        .await["total"];
    assert_eq!(a["unplanned_ms"], HOUR);
    assert_eq!(a["run_ms"], 23 * HOUR);
    let before = first - 2 * 24 * HOUR;
    let b = &app
        .analytics(&admin, &format!("from={before}&to={}", before + 24 * HOUR))
        .await["total"];
    assert_eq!(b["unplanned_ms"], 0);
    // Over a week: seven hours, and the timeline draws each.
    let week = format!("from={after}&to={}", after + 7 * 24 * HOUR - HOUR);
    let tl = app
        .get_json(&format!("/api/v1/timeline?{week}"), &admin.token)
        .await;
    let downtime = tl["assets"][0]["downtime"].as_array().unwrap();
    assert!(downtime.len() >= 3, "{downtime:?}");
    assert_eq!(downtime[0]["start"], after + 13 * HOUR);
    assert_eq!(downtime[0]["end"], after + 14 * HOUR);

    // Bad rules are refused in words, and nothing is stored.
    for bad in [
        json!({"weekly": {"days": ["friday"], "start": "13:00", "end": "14:00"}}),
        json!({"weekly": {"days": [], "start": "13:00", "end": "14:00"}}),
        json!({"weekly": {"days": ["fri"], "start": "1pm", "end": "14:00"}}),
        json!({"weekly": {"days": ["fri"], "start": "13:00", "end": "13:00"}}),
        json!({"weekly": {"days": ["fri"], "start": "13:00", "end": "14:00", "every": 2}}),
        json!({"weekly": {"days": ["fri"], "start": "13:00", "end": "14:00"}, "from": 2000, "to": 1000}),
        json!({"from": first}),
        json!({"note": "when?"}),
    ] {
        let resp = app.add_planned_downtime(&admin, &bad).await;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let resp = app
        .add_planned_downtime(
            &admin,
            &json!({"weekly": {"days": ["friday"], "start": "13:00", "end": "14:00"}}),
        )
        .await;
    let message = assert_error(resp, StatusCode::BAD_REQUEST, "invalid_field").await;
    assert_eq!(
        message,
        "weekly: unknown day \"friday\": use mon, tue, wed, thu, fri, sat, sun"
    );
    assert_eq!(
        app.get_json("/api/v1/planned-downtime", &admin.token)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Another tenant's figures do not see it.
    let other = app.signup("bob@b.example", "B").await;
    assert_eq!(
        app.get_json("/api/v1/planned-downtime", &other.token).await,
        json!([])
    );
}

/// The UTC wall-clock time of `t` as a shift takes it, `HH:MM`.
fn hhmm(t: i64) -> String {
    chrono::DateTime::from_timestamp_millis(t)
        .unwrap()
        .format("%H:%M")
        .to_string()
}
