//! (b)–(d) Faults: the server away for a while, the agent killed mid-burst, the server killed
//! mid-upload. Each time every event arrives exactly once, with the time it was recorded.

use std::collections::BTreeMap;

use assetlog_agent::journal::read_queued;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_recorded_while_the_server_is_away_arrive_exactly_once_with_their_times() {
    let dir = tempfile::tempdir().unwrap();
    let server_dir = dir.path().join("server");
    // A tenant exists before the agent first reaches the server, so it enrols into it.
    let (server, token) = Server::with_tenant(&server_dir).await;
    drop(server);
    // The agent's server address, with no server behind it yet.
    let relay = Relay::start().await;
    let state = dir.path().join("agent/state");
    let inputs = fast_sim(0, "Saw", 15) + &fast_sim(1, "Press", 15);
    let agent = Agent::start(
        &dir.path().join("agent"),
        &agent_config(&relay.url, "agent-b", &state, &inputs),
    );
    let status = agent
        .await_status("30 events queued", |s| {
            last_seq(s) == 30 && queue_depth(s) == 30
        })
        .await;
    assert_eq!(status["connection"]["state"], "unreachable");
    assert!(
        status["last_error"]["message"]
            .as_str()
            .unwrap()
            .contains("registration failed")
    );
    assert!(agent.page().await.contains("unreachable"));
    let (floor, on_disk) = read_queued(&state).unwrap();
    assert_eq!((floor, on_disk.len()), (0, 30));

    let server = Server::start(&server_dir);
    relay.to(&server);
    let events = server.await_events(&token, "agent-b", 30).await;
    assert_complete(&events, 30);
    let sent: Vec<_> = on_disk
        .iter()
        .map(|e| (e.seq, e.pin, e.running, e.ts))
        .collect();
    let got: Vec<_> = events.iter().map(Event::key).collect();
    assert_eq!(got, sent, "the times recorded at the change, not at upload");
    agent
        .await_status("the queue drained", |s| queue_depth(s) == 0)
        .await;
    assert!(
        read_queued(&state).unwrap().1.is_empty(),
        "released on disk too"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_killed_mid_burst_loses_nothing_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (server, token) = Server::with_tenant(&dir.path().join("server")).await;
    let state = dir.path().join("agent/state");
    let inputs = fast_sim(0, "Saw", 150) + &fast_sim(1, "Press", 150);
    let config = agent_config(&server.url, "agent-c", &state, &inputs);
    let agent = Agent::start(&dir.path().join("agent"), &config);
    agent
        .await_status("a burst under way", |s| last_seq(s) >= 60)
        .await;
    agent.kill();

    // What the killed agent had on disk: everything up to its last seq, released or queued.
    let (floor, queued) = read_queued(&state).unwrap();
    let persisted = queued.last().map_or(floor, |e| e.seq);
    assert!(persisted >= 60);

    // The restarted agent's inputs start afresh and make 300 more changes.
    let agent = Agent::start(&dir.path().join("agent"), &config);
    let total = persisted + 300;
    let status = agent
        .await_status("the second burst recorded and delivered", |s| {
            last_seq(s) == total && queue_depth(s) == 0
        })
        .await;
    assert_eq!(status["queue"]["dropped"], 0);
    let events = server.await_events(&token, "agent-c", total as usize).await;
    assert_complete(&events, total);
    let by_seq: BTreeMap<u64, (u64, u8, bool, i64)> =
        events.iter().map(|e| (e.seq, e.key())).collect();
    for e in &queued {
        assert_eq!(
            by_seq[&e.seq],
            (e.seq, e.pin, e.running, e.ts),
            "queued before the kill"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_upload_loses_nothing_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server_dir = dir.path().join("server");
    let (server, token) = Server::with_tenant(&server_dir).await;
    // The agent reaches the server through a relay, so the restarted server (on a port of its
    // own) is at the same address for it.
    let relay = Relay::start().await;
    relay.to(&server);
    let state = dir.path().join("agent/state");
    let inputs = fast_sim(0, "Saw", 200) + &fast_sim(1, "Press", 200);
    let agent = Agent::start(
        &dir.path().join("agent"),
        &agent_config(&relay.url, "agent-d", &state, &inputs),
    );
    server.await_events(&token, "agent-d", 50).await;
    server.kill();
    agent
        .await_status("the agent noticing", |s| {
            s["connection"]["state"] == "unreachable"
        })
        .await;
    let server = Server::start(&server_dir);
    relay.to(&server);
    let events = server.await_events(&token, "agent-d", 400).await;
    assert_complete(&events, 400);
    let status = agent
        .await_status("the queue drained", |s| queue_depth(s) == 0)
        .await;
    assert_eq!(last_seq(&status), 400);
}
