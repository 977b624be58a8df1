//! (f) Heartbeats go at the period the server answers, not at the agent's own.

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_heartbeats_at_the_period_the_server_answers() {
    let dir = tempfile::tempdir().unwrap();
    // The server asks for SERVER_HEARTBEAT_S (5 s); the agent's own setting says an hour.
    let (server, token) = Server::with_tenant(&dir.path().join("server")).await;
    let agent = Agent::in_dir(dir.path(), &server.url, "agent-h", &fast_sim(0, "Drill", 2));
    // Until the registration is answered the page shows the agent's own period.
    let status = agent
        .await_status("the server's period in force", |s| {
            s["heartbeat_s"] != AGENT_HEARTBEAT_S
        })
        .await;
    assert_eq!(
        status["heartbeat_s"], SERVER_HEARTBEAT_S,
        "the server's period"
    );
    assert_eq!(status["registration"], "claimed");
    assert!(
        agent.page().await.contains("every 5 s"),
        "the page shows it too"
    );

    // Three heartbeats within the deadline: at the agent's own hour the first would be an hour
    // away.
    agent
        .await_status("three heartbeats answered", |s| {
            s["heartbeats"].as_u64().unwrap() >= 3
        })
        .await;
    // Not sooner than the server's period either: each goes a period after the previous
    // contact, so the third left at least three periods after the registration. The server
    // keeps the uptime the latest heartbeat reported.
    let loggers: serde_json::Value = server.get_json("/api/v1/loggers", &token).await;
    let logger = loggers
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["logger_id"] == "agent-h")
        .expect("the logger on the server");
    let uptime = logger["uptime_s"]
        .as_u64()
        .expect("an uptime from a heartbeat");
    assert!(
        uptime >= 3 * SERVER_HEARTBEAT_S,
        "the third heartbeat reported {uptime} s of uptime"
    );
}
