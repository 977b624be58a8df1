//! Shift reports end to end: a real SMTP server (aiosmtpd) whose messages the tests read (the
//! HTML part, the CSV attachments), shifts that end at the coming whole minutes, and a server
//! that is down while one ends.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

pub const MIN: i64 = 60_000;

/// "HH:MM" of a UTC instant.
pub fn clock(ms: i64) -> String {
    let minutes = ms.rem_euclid(86_400_000) / MIN;
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Two shifts every day: "Early" for the hour up to the next whole minute (at least 10 s
/// away), then "Late" for the minute after. The calendar and the two ends.
fn minute_shifts() -> (Value, i64, i64) {
    let now = now_ms();
    let mut end = (now / MIN + 1) * MIN;
    if end - now < 10_000 {
        end += MIN;
    }
    let days = json!(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]);
    let calendar = json!([
        {"name": "Early", "days": days, "start": clock(end - 60 * MIN), "end": clock(end)},
        {"name": "Late", "days": days, "start": clock(end), "end": clock(end + MIN)},
    ]);
    (calendar, end, end + MIN)
}

/// Waits until the wall clock has passed `at` (the shift ends are wall-clock times).
async fn until(at: i64) {
    let wait = u64::try_from(at - now_ms()).unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(wait)).await;
}

fn mail_flags(smtp: &SmtpSink) -> Vec<String> {
    vec![
        "--smtp-url".into(),
        smtp.url(),
        "--mail-from".into(),
        "reports@plant.example".into(),
        "--report-delay-s".into(),
        "0".into(),
    ]
}

/// Waits (at most 30 s) until a report's delivery is recorded as sent.
async fn sent_once(app: &TestApp, token: &str) {
    let sent = async {
        loop {
            let deliveries = app.get_json("/api/v1/alert-deliveries", token).await;
            if deliveries
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["event"] == "report" && d["ok"] == true)
            {
                return;
            }
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), sent)
        .await
        .expect("the report's delivery recorded as sent within 30 s");
}

async fn add_report(app: &TestApp, admin: &Account, report: Value) -> Value {
    let resp = app
        .post("/api/v1/reports", &report, Some(&admin.token))
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED, "{report}");
    resp.json().await.unwrap()
}

/// The attachment whose name starts with `prefix`, parsed as CSV into rows of cells.
fn attachment(mail: &Value, prefix: &str) -> Vec<Vec<String>> {
    let found = mail["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["filename"].as_str().unwrap().starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} attachment in {mail}"));
    assert_eq!(found["content_type"], "text/csv");
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(found["content"].as_str().unwrap().as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

#[tokio::test]
async fn a_shift_report_is_emailed_at_the_shift_end_with_the_figures_analytics_gives() {
    let mut smtp = SmtpSink::start();
    let url = smtp.url();
    let app = spawn_app_with(|c| {
        c.smtp_url = Some(url);
        c.mail_from = Some("reports@plant.example".into());
        c.report_delay_s = 0;
    })
    .await;
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "esp-1").await;
    let (calendar, end, _) = minute_shifts();
    app.set_shifts(&admin, &calendar).await;
    // Within the Early shift: runs, two 10-minute stops, runs again.
    let events = json!([
        {"seq": 1, "pin": 0, "running": true, "ts": end - 50 * MIN},
        {"seq": 2, "pin": 0, "running": false, "ts": end - 40 * MIN},
        {"seq": 3, "pin": 0, "running": true, "ts": end - 30 * MIN},
        {"seq": 4, "pin": 0, "running": false, "ts": end - 20 * MIN},
        {"seq": 5, "pin": 0, "running": true, "ts": end - 10 * MIN},
    ]);
    assert_eq!(app.ingest(&device, events).await.status(), StatusCode::OK);
    let asset = app.get_json("/api/v1/assets", &admin.token).await[0]["id"]
        .as_i64()
        .unwrap();
    let rename = app
        .send(
            Method::PUT,
            &format!("/api/v1/assets/{asset}"),
            Some(&json!({"name": "Press <1> & co"})),
            Some(&admin.token),
        )
        .await;
    assert_eq!(rename.status(), StatusCode::OK);
    let report = add_report(
        &app,
        &admin,
        json!({"name": "Shift report", "schedule": "end_of_each_shift",
               "to": ["lead@a.example", "manager@a.example"]}),
    )
    .await;
    assert_eq!(report["last_period_end"], Value::Null);

    let mail = smtp.next_within(Duration::from_secs(90)).await;
    assert_eq!(
        mail["rcpt_tos"],
        json!(["lead@a.example", "manager@a.example"])
    );
    let subject = mail["subject"].as_str().unwrap();
    assert!(
        subject.starts_with("[assetlog] Shift report: Early, "),
        "{subject}"
    );
    let html = mail["html"].as_str().unwrap();
    assert!(html.contains("Press &lt;1&gt; &amp; co"), "escaped: {html}");
    assert!(!html.contains("<script"), "{html}");
    assert!(html.contains("60.0 %"), "30 of 50 minutes ran: {html}");
    assert!(html.contains("Longest stops"), "{html}");
    assert!(
        mail["text"]
            .as_str()
            .unwrap()
            .contains("Availability: 60.0 %")
    );

    // The attachments are the API's own CSV of that shift.
    let start = end - 60 * MIN;
    let figures = attachment(&mail, "analytics-");
    assert_eq!(figures[0][0], "asset_id");
    let row = &figures[1];
    let api = app
        .analytics(&admin, &format!("from={start}&to={end}"))
        .await;
    let a = &api["assets"][0];
    assert_eq!(row[0], asset.to_string());
    assert_eq!(row[1], "Press <1> & co");
    assert_eq!(row[4], a["run_ms"].to_string());
    assert_eq!(row[5], a["down_ms"].to_string());
    assert_eq!(a["run_ms"], 30 * MIN);
    assert_eq!(a["down_ms"], 20 * MIN);
    assert_eq!(row[9], "2", "stops");
    let stops = attachment(&mail, "stops-");
    assert_eq!(stops.len(), 3, "a header and two stops: {stops:?}");
    assert!(stops[1..].iter().all(|s| s[4] == (10 * MIN).to_string()));

    let listed = app.get_json("/api/v1/reports", &admin.token).await;
    assert_eq!(listed[0]["last_period_end"], end);
    // The delivery is logged, with the report it belongs to.
    let deliveries = app.get_json("/api/v1/alert-deliveries", &admin.token).await;
    let sent: Vec<&Value> = deliveries
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["event"] == "report")
        .collect();
    assert_eq!(sent.len(), 1, "{deliveries}");
    assert_eq!(sent[0]["report_id"], report["id"]);
    assert_eq!(sent[0]["ok"], true);
}

#[tokio::test]
async fn a_shift_that_ends_while_the_server_is_down_is_sent_when_it_is_back_and_only_once() {
    let mut smtp = SmtpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let flags = mail_flags(&smtp);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let mut server = ServerProcess::start(&data, &flags);
    let app = server.app(tempfile::tempdir().unwrap());
    let admin = app.signup("ada@a.example", "A").await;
    let device = app.claimed_device(&admin, "esp-1").await;
    app.asset_state(&device, json!({"pin_number": 0, "is_running": true}))
        .await;
    let (calendar, early_end, late_end) = minute_shifts();
    app.set_shifts(&admin, &calendar).await;
    add_report(
        &app,
        &admin,
        json!({"name": "Shifts", "schedule": "end_of_each_shift", "to": ["lead@a.example"]}),
    )
    .await;
    // Early ends while the server runs.
    let early = smtp.next_within(Duration::from_secs(90)).await;
    assert!(
        early["subject"].as_str().unwrap().contains("Early"),
        "{early}"
    );
    // Its delivery is recorded as sent before the server dies (a server killed between the
    // SMTP server's answer and that record sends it again: at least once, docs/ALERTS.md).
    sent_once(&app, &admin.token).await;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    // Late ends while no server runs.
    until(late_end + 1000).await;
    let server = ServerProcess::start(&data, &flags);
    let app = server.app(tempfile::tempdir().unwrap());
    let token = app.sign_in("ada@a.example").await.token;
    // The next message is Late's: Early is not made again (it would come first: periods are
    // made oldest first).
    let late = smtp.next_within(Duration::from_secs(30)).await;
    assert!(late["subject"].as_str().unwrap().contains("Late"), "{late}");
    let listed = app.get_json("/api/v1/reports", &token).await;
    assert_eq!(listed[0]["last_period_end"], late_end);
    let deliveries = app.get_json("/api/v1/alert-deliveries", &token).await;
    let reports = deliveries
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["event"] == "report")
        .map(|d| d["delivery_id"].as_i64().unwrap())
        .collect::<std::collections::BTreeSet<_>>();
    assert_eq!(reports.len(), 2, "one delivery per shift: {deliveries}");
    assert!(early_end < late_end);
}

#[tokio::test]
async fn reports_are_checked_refused_without_smtp_and_stay_inside_their_tenant() {
    // Without an SMTP server, no report.
    let plain = spawn_app().await;
    let admin = plain.signup("ada@a.example", "A").await;
    let resp = plain
        .post(
            "/api/v1/reports",
            &json!({"name": "Daily", "schedule": "daily", "to": ["a@a.example"]}),
            Some(&admin.token),
        )
        .await;
    let message = assert_error(resp, StatusCode::BAD_REQUEST, "smtp_not_configured").await;
    assert!(message.contains("--smtp-url"), "{message}");

    let smtp = SmtpSink::start();
    let url = smtp.url();
    let app = spawn_app_with(|c| {
        c.smtp_url = Some(url);
        c.mail_from = Some("reports@plant.example".into());
        c.open_signup = true;
    })
    .await;
    let admin = app.signup("ada@a.example", "A").await;
    let operator = app.add_user(&admin, "olga@a.example", "operator").await;
    let bob = app.signup("bob@b.example", "B").await;
    let bob_device = app.claimed_device(&bob, "esp-b").await;
    app.asset_state(&bob_device, json!({"pin_number": 0, "is_running": true}))
        .await;
    let bobs_asset = app.get_json("/api/v1/assets", &bob.token).await[0]["id"].clone();
    for (bad, code) in [
        (
            json!({"name": "Shifts", "schedule": "end_of_each_shift", "to": ["a@a.example"]}),
            "no_shifts",
        ),
        (
            json!({"name": "Daily", "schedule": "daily", "to": ["not an address"]}),
            "invalid_email",
        ),
        (
            json!({"name": "Daily", "schedule": "daily", "to": []}),
            "invalid_report",
        ),
        (
            json!({"name": "Daily", "to": ["a@a.example"]}),
            "invalid_report",
        ),
        (
            json!({"name": "Daily", "schedule": "hourly", "to": ["a@a.example"]}),
            "invalid_field",
        ),
        (
            json!({"name": "Daily", "schedule": "daily", "to": ["a@a.example"], "asset_ids": [bobs_asset]}),
            "invalid_report",
        ),
        (
            json!({"name": "Daily", "schedule": "daily", "to": ["a@a.example"], "extra": 1}),
            "invalid_field",
        ),
        (
            json!({"name": "", "schedule": "daily", "to": ["a@a.example"]}),
            "invalid_field",
        ),
    ] {
        let resp = app.post("/api/v1/reports", &bad, Some(&admin.token)).await;
        assert_error(resp, StatusCode::BAD_REQUEST, code).await;
    }
    assert_eq!(
        app.get_json("/api/v1/reports", &admin.token).await,
        json!([]),
        "nothing stored"
    );
    let daily = json!({"name": "Daily", "schedule": "daily", "to": ["a@a.example"]});
    let resp = app
        .post("/api/v1/reports", &daily, Some(&operator.token))
        .await;
    assert_error(resp, StatusCode::FORBIDDEN, "forbidden").await;
    let report = add_report(&app, &admin, daily).await;
    let path = format!("/api/v1/reports/{}", report["id"]);
    // An operator neither reads nor changes them; another tenant does not find them.
    let read = app.get("/api/v1/reports", Some(&operator.token)).await;
    assert_error(read, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(app.get_json("/api/v1/reports", &bob.token).await, json!([]));
    let weekly = json!({"name": "Weekly", "schedule": "weekly", "to": ["b@b.example"]});
    let put = app
        .send(Method::PUT, &path, Some(&weekly), Some(&bob.token))
        .await;
    assert_error(put, StatusCode::NOT_FOUND, "not_found").await;
    let delete = app
        .send(Method::DELETE, &path, None, Some(&bob.token))
        .await;
    assert_error(delete, StatusCode::NOT_FOUND, "not_found").await;
    let mut live_b = app.live(&bob.token).await;
    // Its own admin changes it: the same schedule keeps its start, another starts anew.
    let renamed = json!({"name": "Days", "schedule": "daily", "to": ["a@a.example"]});
    let resp = app
        .send(Method::PUT, &path, Some(&renamed), Some(&admin.token))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let changed: Value = resp.json().await.unwrap();
    assert_eq!(changed["created_at"], report["created_at"]);
    let resp = app
        .send(Method::PUT, &path, Some(&weekly), Some(&admin.token))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let changed: Value = resp.json().await.unwrap();
    assert_eq!(changed["schedule"], "weekly");
    assert!(
        changed["created_at"].as_i64().unwrap() > report["created_at"].as_i64().unwrap(),
        "another schedule starts from the change: {changed}"
    );
    assert_eq!(
        app.get_json("/api/v1/reports", &admin.token).await[0]["name"],
        "Weekly"
    );
    let bad_id = app
        .send(
            Method::PUT,
            "/api/v1/reports/abc",
            Some(&weekly),
            Some(&admin.token),
        )
        .await;
    assert_error(bad_id, StatusCode::NOT_FOUND, "not_found").await;
    let delete = app
        .send(Method::DELETE, &path, None, Some(&admin.token))
        .await;
    assert_eq!(delete.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get_json("/api/v1/reports", &admin.token).await,
        json!([])
    );
    // Bob's dashboards heard nothing of A's reports: the first they hear is Bob's machine.
    app.asset_state(&bob_device, json!({"pin_number": 0, "is_running": false}))
        .await;
    let first = live_b.next().await;
    assert_eq!(
        first["type"], "asset_state_change",
        "crossed tenants: {first}"
    );
    drop(smtp);
}

#[tokio::test]
async fn with_two_replicas_each_period_is_sent_once_also_when_the_leader_dies() {
    if !on_postgres() {
        return;
    }
    let mut smtp = SmtpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let flags = mail_flags(&smtp);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let mut a = ServerProcess::start(&data, &flags);
    let b = ServerProcess::start(&data, &flags);
    let (app_a, app_b) = (
        a.app(tempfile::tempdir().unwrap()),
        b.app(tempfile::tempdir().unwrap()),
    );
    let admin = app_a.signup("ada@a.example", "A").await;
    let device = app_a.claimed_device(&admin, "esp-1").await;
    app_a
        .asset_state(&device, json!({"pin_number": 0, "is_running": true}))
        .await;
    let (calendar, _, late_end) = minute_shifts();
    app_b.set_shifts(&admin, &calendar).await;
    // Made on B, which does not lead.
    add_report(
        &app_b,
        &admin,
        json!({"name": "Shifts", "schedule": "end_of_each_shift", "to": ["lead@a.example"]}),
    )
    .await;
    let early = smtp.next_within(Duration::from_secs(90)).await;
    assert!(
        early["subject"].as_str().unwrap().contains("Early"),
        "{early}"
    );
    sent_once(&app_b, &admin.token).await;
    // The leader dies; B takes over and sends Late, and Early is not sent a second time.
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    let late = smtp.next_within(Duration::from_secs(90)).await;
    assert!(late["subject"].as_str().unwrap().contains("Late"), "{late}");
    let listed = app_b.get_json("/api/v1/reports", &admin.token).await;
    assert_eq!(listed[0]["last_period_end"], late_end);
}

#[tokio::test]
async fn the_database_takes_each_period_of_a_report_once() {
    let app = spawn_app().await;
    let admin = app.signup("ada@a.example", "A").await;
    let tenant = admin.tenant_id;
    let store = app.store.clone().unwrap();
    let run = |start: i64, end: i64| assetlog_server::store::NewReportRun {
        tenant_id: assetlog_server::domain::TenantId(tenant),
        report_id: 7,
        period_start: start,
        period_end: end,
    };
    let delivery = || assetlog_server::store::NewDelivery {
        channel_id: 0,
        channel_name: "Daily".into(),
        event: "report",
        message: "{}".into(),
        due_at: i64::MAX,
    };
    assert!(store.add_report_run(run(0, 10), delivery()).await.unwrap());
    assert!(
        !store.add_report_run(run(0, 10), delivery()).await.unwrap(),
        "the same period twice"
    );
    // A period of another length from the same start (the schedule changed) is another period.
    assert!(store.add_report_run(run(0, 70), delivery()).await.unwrap());
    let progress = store.report_progress(None).await.unwrap();
    assert_eq!(
        progress,
        vec![(assetlog_server::domain::TenantId(tenant), 7, 70)]
    );
    let other = store
        .report_progress(Some(assetlog_server::domain::TenantId(tenant + 1)))
        .await
        .unwrap();
    assert!(other.is_empty(), "another tenant sees no progress");
}
