//! The agent over MQTT (`uplink = "mqtt"`) through a real Mosquitto with the dynamic-security
//! plugin: registration over HTTP gives the logger its broker client, batches and heartbeats go
//! through the broker, and events are released only on assetlog's ack.

use crate::helpers::*;
use crate::mosquitto::{self, Broker};

/// An agent configuration uploading through `broker`.
fn over_mqtt(
    broker: &Broker,
    server_url: &str,
    logger_id: &str,
    dir: &std::path::Path,
    inputs: &str,
) -> String {
    // Top-level keys go before the `[[input]]` tables.
    format!(
        "uplink = \"mqtt\"\nmqtt_url = \"{}\"\n{}",
        broker.url(),
        agent_config(server_url, logger_id, &dir.join("state"), inputs)
    )
}

async fn mqtt_messages(server: &Server) -> u64 {
    let text = server.metrics().await;
    text.lines()
        .find_map(|l| l.strip_prefix("assetlog_mqtt_messages_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_mqtt_every_event_arrives_once_in_order_with_its_own_time() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        &dir.path().join("server"),
        &mosquitto::flags(&broker, "assetlog@agent-test"),
    );
    let token = server.signup().await;
    let home = dir.path().join("agent");
    let inputs = fast_sim(0, "Saw", 20) + &fast_sim(3, "Press", 20);
    let agent = Agent::start(
        &home,
        &over_mqtt(&broker, &server.url, "agent-m", &home, &inputs),
    );

    let events = server.await_events(&token, "agent-m", 40).await;
    assert_complete(&events, 40);
    for e in &events {
        assert!(e.ts <= e.received_at, "stamped at the change: {e:?}");
    }
    let status = agent
        .await_status("the queue drained", |s| {
            queue_depth(s) == 0 && last_seq(s) == 40
        })
        .await;
    assert_eq!(status["connection"]["state"], "online");
    assert!(
        mqtt_messages(&server).await > 0,
        "the batches came through the broker"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_published_while_assetlog_is_down_for_30_s_arrive_once_when_it_is_back() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let server_dir = dir.path().join("server");
    let flags = mosquitto::flags(&broker, "assetlog@away");
    let server = Server::start_with(&server_dir, &flags);
    let token = server.signup().await;
    let home = dir.path().join("agent");
    // About 60 changes in 30 s.
    let inputs = "[[input]]
kind = \"sim\"
pin = 0
name = \"Saw\"
seed = 7
mean_run_s = 0.6
mean_short_stop_s = 0.4
mean_long_stop_s = 0.6
max_changes = 60
";
    let agent = Agent::start(
        &home,
        &over_mqtt(&broker, &server.url, "agent-away", &home, inputs),
    );
    server.await_events(&token, "agent-away", 1).await;
    let data = server.kill();

    // The agent goes on publishing (and publishing again, unanswered) until its input is done.
    agent
        .await_status("60 changes recorded", |s| last_seq(s) == 60)
        .await;
    let server = Server::start_with(&data, &flags);
    let events = server.await_events(&token, "agent-away", 60).await;
    assert_complete(&events, 60);
    agent
        .await_status("the queue drained", |s| queue_depth(s) == 0)
        .await;
    assert!(mqtt_messages(&server).await > 0);
}
