//! (a) The normal path: changes reach the server in seq order with the agent's timestamps, and
//! the status page tells the truth.

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_changes_arrive_in_order_with_their_own_times() {
    let dir = tempfile::tempdir().unwrap();
    let (server, token) = Server::with_tenant(&dir.path().join("server")).await;
    let inputs = fast_sim(0, "Saw", 20) + &fast_sim(3, "Press", 20);
    let agent = Agent::in_dir(dir.path(), &server.url, "agent-a", &inputs);

    let events = server.await_events(&token, "agent-a", 40).await;
    assert_complete(&events, 40);
    for pin in [0, 3] {
        let states: Vec<bool> = events
            .iter()
            .filter(|e| e.pin == pin)
            .map(|e| e.running)
            .collect();
        assert_eq!(states.len(), 20);
        assert!(
            states.windows(2).all(|w| w[0] != w[1]),
            "pin {pin} alternates: {states:?}"
        );
    }
    for e in &events {
        assert!(
            e.ts <= e.received_at,
            "stamped at the change, before upload: {e:?}"
        );
    }

    let status = agent
        .await_status("the queue drained", |s| {
            queue_depth(s) == 0 && last_seq(s) == 40
        })
        .await;
    assert_eq!(status["connection"]["state"], "online");
    assert_eq!(status["registration"], "claimed");
    assert_eq!(status["assets"]["3"]["name"], "Press");
    let last_press = events.iter().rfind(|e| e.pin == 3).unwrap();
    assert_eq!(status["assets"]["3"]["running"], last_press.running);
    assert_eq!(status["assets"]["3"]["since_ms"], last_press.ts);

    // The server learnt the asset names from the registration.
    let assets: serde_json::Value = server.get_json("/api/v1/assets", &token).await;
    let names: Vec<&str> = assets
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Saw", "Press"]);

    let page = agent.page().await;
    assert!(page.contains("Press") && page.contains("online"), "{page}");

    // The key is kept for the agent's user only.
    use std::os::unix::fs::PermissionsExt;
    let key_file = dir.path().join("agent/state/identity.json");
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let identity: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&key_file).unwrap()).unwrap();
    assert!(identity["device_key"].as_str().unwrap().starts_with("ald_"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_logger_shows_its_claim_code_and_delivers_once_claimed() {
    let dir = tempfile::tempdir().unwrap();
    // No tenant yet: with auto enrollment the logger stays pending.
    let server = Server::start(&dir.path().join("server"));
    let agent = Agent::in_dir(dir.path(), &server.url, "agent-p", &fast_sim(1, "Mill", 6));
    let status = agent
        .await_status("a claim code", |s| s["claim_code"].is_string())
        .await;
    assert_eq!(status["registration"], "pending");
    let code = status["claim_code"].as_str().unwrap().to_owned();
    assert!(agent.page().await.contains(&code));

    let token = server.signup().await;
    let resp = crate::helpers::http()
        .post(format!("{}/api/v1/loggers/claim", server.url))
        .bearer_auth(&token)
        .json(&serde_json::json!({"logger_id": "agent-p", "claim_code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let events = server.await_events(&token, "agent-p", 6).await;
    assert_complete(&events, 6);
    agent
        .await_status("the claim seen in a heartbeat", |s| {
            s["registration"] == "claimed" && s["claim_code"].is_null()
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_is_reported_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let (server, token) = Server::with_tenant(&dir.path().join("server")).await;
    let agent = Agent::in_dir(dir.path(), &server.url, "agent-k", &fast_sim(0, "Lathe", 2));
    server.await_events(&token, "agent-k", 2).await;
    let resp = server
        .post("/api/v1/loggers/agent-k/rotate-key", &token)
        .await;
    assert_eq!(resp.status(), 200);
    // The next heartbeat is refused, and the page says what happened and what to do.
    let status = agent
        .await_status("the refusal on the status page", |s| {
            s["connection"]["state"] == "key_refused"
        })
        .await;
    let detail = status["connection"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("refuses this logger's device key"),
        "{detail}"
    );
    assert!(agent.page().await.contains("refuses this logger"));
}
