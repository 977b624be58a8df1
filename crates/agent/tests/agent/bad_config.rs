//! (g) Bad configuration: one clear `error:` line on stderr and a non-zero exit, before
//! anything runs.

use std::path::Path;
use std::process::Command;

use crate::helpers::*;

/// Runs the agent on `config` (written to `dir/agent.toml`); returns its stderr.
fn refused(dir: &Path, config: &str) -> String {
    let path = dir.join("agent.toml");
    std::fs::write(&path, config).unwrap();
    let out = Command::new(agent_bin())
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "exit status");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    stderr
}

const GOOD: &str =
    "server_url = \"http://127.0.0.1:9\"\nlogger_id = \"bad-1\"\nstatus_addr = \"127.0.0.1:0\"\n";

#[test]
fn an_unknown_input_kind_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let err = refused(
        dir.path(),
        &format!("{GOOD}[[input]]\nkind = \"serial\"\npin = 1\n"),
    );
    assert!(
        err.contains("agent.toml: [[input]] #1: unknown input kind \"serial\""),
        "{err}"
    );
}

#[test]
fn a_missing_server_url_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let err = refused(dir.path(), "logger_id = \"bad-1\"\n");
    assert!(err.contains("server_url is missing"), "{err}");
}

#[test]
fn a_damaged_or_unreadable_key_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("key.json"), "{ not json").unwrap();
    let err = refused(dir.path(), &format!("{GOOD}key_file = \"key.json\"\n"));
    assert!(
        err.contains("the key file") && err.contains("is damaged"),
        "{err}"
    );

    // A directory in its place cannot be read even by root (tests may run as root).
    std::fs::create_dir(dir.path().join("key.d")).unwrap();
    let err = refused(dir.path(), &format!("{GOOD}key_file = \"key.d\"\n"));
    assert!(err.contains("cannot read the key file"), "{err}");
}

#[test]
fn a_missing_file_and_a_syntax_error_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(agent_bin())
        .args(["--config", "/nonexistent/agent.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with("error: cannot read /nonexistent/agent.toml")
    );
    let err = refused(dir.path(), "server_url = \"http://x\"\nlogger_id = \n");
    assert!(err.contains("agent.toml: line 2"), "{err}");
}

#[test]
fn a_busy_status_address_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let config = GOOD.replace("127.0.0.1:0", &addr.to_string())
        + &format!("state_dir = \"{}\"\n", dir.path().join("state").display());
    let err = refused(dir.path(), &config);
    assert!(
        err.contains(&format!("cannot listen on {addr} for the status page")),
        "{err}"
    );
}

#[test]
fn a_tls_ca_file_that_cannot_be_used_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let https = "server_url = \"https://127.0.0.1:9\"\nlogger_id = \"bad-1\"\nstatus_addr = \"127.0.0.1:0\"\n";
    let err = refused(
        dir.path(),
        &format!("{https}tls_ca_file = \"missing-ca.pem\"\n"),
    );
    assert!(err.contains("missing-ca.pem: cannot read it"), "{err}");
    std::fs::write(
        dir.path().join("junk.pem"),
        "-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let err = refused(dir.path(), &format!("{https}tls_ca_file = \"junk.pem\"\n"));
    assert!(err.contains("junk.pem is not PEM"), "{err}");
    std::fs::write(dir.path().join("key-only.pem"), "no blocks here\n").unwrap();
    let err = refused(
        dir.path(),
        &format!("{https}tls_ca_file = \"key-only.pem\"\n"),
    );
    assert!(err.contains("key-only.pem holds no certificate"), "{err}");
}
