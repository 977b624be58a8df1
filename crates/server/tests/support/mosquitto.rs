//! A real Mosquitto (Debian's `mosquitto`) on a free port with its own config, data and
//! dynamic-security file, for the tests of the server's and the agent's MQTT and for the bench's
//! `mqtt` scenario (each includes this file by path).

// Each includer uses part of it (the agent's tests do not restart the broker, say).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use tempfile::TempDir;

/// assetlog's account at the test broker: the dynamic-security admin.
pub const ADMIN: &str = "assetlog";
pub const ADMIN_PASSWORD: &str = "broker-admin-secret";

/// Where Debian puts the plugin; `ASSETLOG_TEST_MOSQUITTO_PLUGIN` names another.
fn plugin() -> PathBuf {
    if let Some(p) = std::env::var_os("ASSETLOG_TEST_MOSQUITTO_PLUGIN") {
        return p.into();
    }
    [
        "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so",
        "/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so",
        "/usr/lib/mosquitto_dynamic_security.so",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
    .expect("mosquitto's dynamic-security plugin (apt install mosquitto; `cargo xtask test` does)")
}

pub struct Broker {
    pub port: u16,
    /// With [`Broker::start_tls`]: a second listener, TLS with a certificate for `localhost` and
    /// 127.0.0.1 signed by the test CA at `ca_file`.
    pub tls_port: Option<u16>,
    dir: TempDir,
    child: Option<Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Runs `openssl` with `args` in `dir`.
fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(status.success(), "openssl {args:?}");
}

impl Broker {
    /// A broker with dynamic security: no anonymous clients, assetlog's account the admin.
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// `anonymous`: a broker that lets anyone in (and has no dynamic security).
    pub fn start_with(anonymous: bool) -> Self {
        Self::start_opts(anonymous, false)
    }

    /// A broker with dynamic security, listening on plain MQTT and on TLS (`tls_port`).
    pub fn start_tls() -> Self {
        Self::start_opts(false, true)
    }

    fn start_opts(anonymous: bool, tls: bool) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let dynsec = dir.path().join("dynsec.json");
        let mut config = format!(
            "listener {port} 127.0.0.1\n\
             persistence true\n\
             persistence_location {}/\n\
             max_queued_messages 100000\n\
             max_inflight_messages 100\n\
             max_packet_size 4194304\n\
             set_tcp_nodelay true\n\
             log_dest stderr\n\
             user {}\n\
             log_type error\nlog_type warning\nlog_type notice\nlog_type information\n",
            dir.path().display(),
            // As root it would switch to `mosquitto`, who cannot read this temp dir.
            std::env::var("USER").unwrap_or_else(|_| "root".into()),
        );
        if anonymous {
            config.push_str("allow_anonymous true\n");
        } else {
            let status = Command::new("mosquitto_ctrl")
                .args(["dynsec", "init"])
                .arg(&dynsec)
                .args([ADMIN, ADMIN_PASSWORD])
                .stdout(Stdio::null())
                .status()
                .expect("mosquitto_ctrl runs (apt install mosquitto)");
            assert!(status.success(), "dynsec init");
            config.push_str(&format!(
                "allow_anonymous false\nplugin {}\nplugin_opt_config_file {}\n",
                plugin().display(),
                dynsec.display()
            ));
        }
        let tls_port = tls.then(|| {
            // A CA of the test's own, and a certificate it signs for this machine.
            let d = dir.path();
            let ec = [
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
            ];
            let ca = [
                &["req", "-x509"][..],
                &ec,
                &["-keyout", "ca.key", "-out", "ca.pem"],
            ];
            openssl(
                d,
                &[
                    ca.concat(),
                    vec!["-days", "2", "-subj", "/CN=assetlog test CA"],
                ]
                .concat(),
            );
            let csr = [
                &["req"][..],
                &ec,
                &["-keyout", "server.key", "-out", "server.csr"],
            ];
            openssl(d, &[csr.concat(), vec!["-subj", "/CN=localhost"]].concat());
            std::fs::write(
                d.join("san.cnf"),
                "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
            )
            .expect("san");
            openssl(
                d,
                &[
                    "x509",
                    "-req",
                    "-in",
                    "server.csr",
                    "-CA",
                    "ca.pem",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-out",
                    "server.pem",
                    "-days",
                    "2",
                    "-extfile",
                    "san.cnf",
                ],
            );
            let tls_port = free_port();
            config.push_str(&format!(
                "listener {tls_port} 127.0.0.1\ncafile {0}/ca.pem\ncertfile {0}/server.pem\n\
                 keyfile {0}/server.key\n",
                d.display()
            ));
            tls_port
        });
        std::fs::write(dir.path().join("mosquitto.conf"), config).expect("config");
        let mut broker = Self {
            port,
            tls_port,
            dir,
            child: None,
        };
        broker.run();
        broker
    }

    /// Starts the broker process and returns once it listens (its log says so).
    fn run(&mut self) {
        let mut child = Command::new("mosquitto")
            .arg("-c")
            .arg(self.dir.path().join("mosquitto.conf"))
            .stdout(Stdio::null())
            // Its log, on stderr: unbuffered, where stdout to a pipe would hold it back.
            .stderr(Stdio::piped())
            .spawn()
            .expect("mosquitto starts (apt install mosquitto)");
        let lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        // Its log, read to the end (so it never blocks on a full pipe) and handed over here.
        let (tx, log) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        loop {
            let line = log
                .recv_timeout(std::time::Duration::from_secs(20))
                .expect("mosquitto said it runs within 20 s");
            if line.contains("running") {
                break;
            }
            assert!(!line.contains("Error"), "mosquitto: {line}");
        }
        self.child = Some(child);
    }

    /// Stops the broker the way `systemctl stop` does (it saves its persistence), then starts it
    /// again on the same port and data.
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = child.id().to_string();
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
            let _ = child.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// The test CA that signed the TLS listener's certificate (PEM).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A file with assetlog's broker password, for `--mqtt-password-file`.
    pub fn password_file(&self) -> PathBuf {
        let path = self.dir.path().join("assetlog-password");
        std::fs::write(&path, format!("{ADMIN_PASSWORD}\n")).expect("password file");
        path
    }

    /// The broker process, while it runs (the bench reads its CPU time).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The `assetlog serve` flags that connect it to `broker` as its admin account.
pub fn flags(broker: &Broker, client_id: &str) -> Vec<String> {
    vec![
        "--mqtt-url".into(),
        broker.url(),
        "--mqtt-username".into(),
        ADMIN.into(),
        "--mqtt-password-file".into(),
        broker.password_file().display().to_string(),
        "--mqtt-client-id".into(),
        client_id.into(),
    ]
}
