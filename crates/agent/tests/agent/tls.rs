//! The agent and an `https://` server: checked by a CA file or a pinned certificate it reports
//! as over HTTP; refused, with the reason on its status page and nothing stored, when the
//! certificate has expired, names another host, comes from an unknown CA or is not the pinned
//! one; and accepted unchecked only with `insecure_skip_verify`, which it logs.

use std::path::Path;

use serde_json::Value;

use crate::certs::{Ca, Issued, Validity};
use crate::helpers::*;

fn sha256_hex(der: &[u8]) -> String {
    assetlog_agent::tls::fingerprint(ring::digest::digest(&ring::digest::SHA256, der).as_ref())
}

/// An agent config for the HTTPS `server`, with `trust` lines (tls_ca_file, …) added.
fn https_config(
    server: &Server,
    logger_id: &str,
    home: &Path,
    trust: &str,
    changes: u64,
) -> String {
    let url = format!("https://{}", server.addr);
    // The trust lines are top-level keys: before the first [[input]].
    let rest = format!("{trust}{}", fast_sim(0, "Saw", changes));
    agent_config(&url, logger_id, &home.join("state"), &rest)
}

/// Runs an agent that reports `changes` changes through `trust`, waits for the queue to
/// drain, and checks the server holds each change once.
async fn reports_through(dir: &Path, issued: &Issued, trust: &str) -> Agent {
    let (server, token) = {
        let server = Server::start_tls(&dir.join("server"), issued);
        let token = server.signup().await;
        (server, token)
    };
    let home = dir.join("agent");
    let agent = Agent::start(&home, &https_config(&server, "pi-tls", &home, trust, 20));
    let status = agent
        .await_status("20 changes uploaded", |s| {
            last_seq(s) == 20 && queue_depth(s) == 0
        })
        .await;
    assert_eq!(status["connection"]["state"], "online", "{status:#}");
    let events = server.events(&token, "pi-tls").await;
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=20).collect::<Vec<_>>());
    agent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_reports_to_an_https_server_checked_by_a_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new(dir.path(), "plant-ca", "Plant CA");
    let issued = ca.issue(dir.path(), "server", &["127.0.0.1"], Validity::Now);
    let trust = format!("tls_ca_file = \"{}\"\n", ca.file.display());
    reports_through(dir.path(), &issued, &trust).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_reports_to_an_https_server_by_its_pinned_certificate() {
    let dir = tempfile::tempdir().unwrap();
    // A pin needs no CA the agent knows, and no name: the server's certificate names another
    // host here, and its CA is nowhere in the agent's configuration.
    let ca = Ca::new(dir.path(), "own-ca", "Server's own CA");
    let issued = ca.issue(
        dir.path(),
        "server",
        &["assetlog.plant.example"],
        Validity::Now,
    );
    let trust = format!("tls_pin_sha256 = \"{}\"\n", sha256_hex(&issued.der));
    reports_through(dir.path(), &issued, &trust).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insecure_skip_verify_accepts_any_certificate_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new(dir.path(), "unknown-ca", "Unknown CA");
    let issued = ca.issue(
        dir.path(),
        "server",
        &["elsewhere.example"],
        Validity::Expired,
    );
    let agent = reports_through(dir.path(), &issued, "insecure_skip_verify = true\n").await;
    assert!(
        agent
            .log()
            .contains("the server's certificate is NOT checked"),
        "{}",
        agent.log()
    );
}

/// The agent refuses the server: its status page says why (`expected`), and nothing is stored.
async fn refused(dir: &Path, issued: &Issued, trust: &str, expected: &str) {
    let server = Server::start_tls(&dir.join("server"), issued);
    let token = server.signup().await;
    let home = dir.join("agent");
    let agent = Agent::start(&home, &https_config(&server, "pi-refuses", &home, trust, 4));
    let status = agent
        .await_status(expected, |s| {
            s["last_error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(expected))
                && last_seq(s) == 4
        })
        .await;
    assert_eq!(status["connection"]["state"], "unreachable", "{status:#}");
    assert_eq!(last_seq(&status), 4);
    assert_eq!(
        queue_depth(&status),
        4,
        "kept until a server it trusts acks"
    );
    let loggers: Value = server.get_json("/api/v1/loggers", &token).await;
    assert_eq!(
        loggers.as_array().map(Vec::len),
        Some(0),
        "the agent registered with a server it should not trust: {loggers}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_certificate_is_refused_as_expired() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new(dir.path(), "plant-ca", "Plant CA");
    let issued = ca.issue(dir.path(), "server", &["127.0.0.1"], Validity::Expired);
    let trust = format!("tls_ca_file = \"{}\"\n", ca.file.display());
    refused(
        dir.path(),
        &issued,
        &trust,
        "the server's certificate has expired",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_for_another_name_is_refused_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new(dir.path(), "plant-ca", "Plant CA");
    let issued = ca.issue(
        dir.path(),
        "server",
        &["other.plant.example"],
        Validity::Now,
    );
    let trust = format!("tls_ca_file = \"{}\"\n", ca.file.display());
    refused(
        dir.path(),
        &issued,
        &trust,
        "not valid for the name \"127.0.0.1\" in server_url (it names other.plant.example)",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_from_an_unknown_ca_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let plant = Ca::new(dir.path(), "plant-ca", "Plant CA");
    let stranger = Ca::new(dir.path(), "stranger-ca", "Stranger CA");
    let issued = stranger.issue(dir.path(), "server", &["127.0.0.1"], Validity::Now);
    // Against the plant's CA file, and against the system's roots (no trust lines).
    let trust = format!("tls_ca_file = \"{}\"\n", plant.file.display());
    refused(dir.path(), &issued, &trust, "signed by an unknown CA").await;
    let dir = tempfile::tempdir().unwrap();
    refused(dir.path(), &issued, "", "signed by an unknown CA").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_other_than_the_pinned_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new(dir.path(), "plant-ca", "Plant CA");
    let pinned = ca.issue(dir.path(), "pinned", &["127.0.0.1"], Validity::Now);
    // The same CA, the same name: only the pin tells them apart.
    let served = ca.issue(dir.path(), "served", &["127.0.0.1"], Validity::Now);
    let trust = format!("tls_pin_sha256 = \"{}\"\n", sha256_hex(&pinned.der));
    let expected = format!(
        "the server's certificate has SHA-256 {}, not the one in tls_pin_sha256",
        sha256_hex(&served.der)
    );
    refused(dir.path(), &served, &trust, &expected).await;
}
