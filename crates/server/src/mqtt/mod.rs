//! Loggers over MQTT (`--mqtt-url`): assetlog subscribes to a broker the plant runs and takes
//! logger reports from it through the one ingest path, with HTTP's guarantees.
//!
//! - **Nothing lost:** QoS 1 on a persistent session (clean session off, a stable client id),
//!   so what is published while assetlog is down waits at the broker; each message is
//!   acknowledged to the broker only after its events are committed, in the order received
//!   (manual acks), so a crash before the commit means redelivery.
//! - **Nothing doubled:** the seq; a redelivered batch is a duplicate and answered as such.
//! - **The logger's answer:** on `assetlog/v1/<id>/ack` after the commit, a batch's
//!   `{acked_seq, last_seq}` (HTTP's answer, and which batch it answers) or a heartbeat's
//!   `{status, heartbeat_interval_s, server_time}`; a refusal's `{error: {code, message,
//!   status}}` on `assetlog/v1/<id>/error`. A logger releases events only on that ack, never on
//!   the broker's PUBACK.
//! - **Nothing from another client:** the topic names the logger and the broker decides who may
//!   publish on it: [`dynsec`] keeps one broker client per logger. A broker that lets anonymous
//!   clients in is refused at start unless the operator vouches for its own ACLs with
//!   `--mqtt-trust-broker`.
//! - **Replicas:** one shared subscription (`$share/assetlog/…`): each message goes to one server.
//!
//! # Layout
//! - [`topics`]: the topics' spelling.
//! - [`dynsec`]: the broker clients of loggers (Mosquitto's dynamic-security plugin).
//! - here: the settings, the link (connect, check, the control requests) and the receiving loop.

pub mod dynsec;
pub mod topics;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use assetlog_core::LoggerId;
use assetlog_core::wire::{IngestAck, ObjectOnly, WireEvent};
use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, EventLoop, MqttOptions, Outgoing,
    Packet, Publish, QoS, SubscribeReasonCode, Transport,
};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::AppState;
use crate::config::ServeConfig;
use crate::error::ApiError;
use crate::ingest::{self, IngestError};
use crate::store::now_ms;
use topics::{Inbound, Outbound};

/// Messages in work at once: each logger's go through one of these in order, so a logger's
/// batches are stored in the order it sent them; different loggers' share group commits.
const WORKERS: usize = 16;

/// The largest message assetlog takes; a batch of 1,000 events is about 70 kB. A larger one is
/// refused on the error topic (`body_too_large`), as HTTP refuses a larger body.
const MAX_MESSAGE_BYTES: usize = 1 << 20;

/// The largest packet assetlog reads off the connection: MQTT's own limit, so that no message a
/// broker delivers can end the connection (and come again at every reconnect, holding up all
/// behind it). The broker's `max_packet_size` keeps them smaller (docs/MQTT.md).
const MAX_PACKET_BYTES: usize = 268_435_455;

/// How long a start waits for the broker, and a control request for its answer.
const BROKER_WAIT: Duration = Duration::from_secs(10);

/// Where and as whom assetlog connects, from `--mqtt-*`.
#[derive(Clone)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    pub ca_file: Option<PathBuf>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub client_id: String,
    /// The broker's own ACLs decide who publishes where; assetlog keeps no broker clients.
    pub trust_broker: bool,
}

/// Without the password.
impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("address", &self.address())
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .field("client_id", &self.client_id)
            .field("trust_broker", &self.trust_broker)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// The settings of `--mqtt-url` and its companions; `None` without it.
    pub fn from_config(config: &ServeConfig) -> anyhow::Result<Option<Self>> {
        let Some(raw) = &config.mqtt_url else {
            return Ok(None);
        };
        let url = url::Url::parse(raw).context("--mqtt-url is not a URL")?;
        let tls = match url.scheme() {
            "mqtt" => false,
            "mqtts" => true,
            other => bail!("--mqtt-url must be mqtt:// or mqtts://, not {other}://"),
        };
        let host = url
            .host_str()
            .context("--mqtt-url names no host")?
            .trim_matches(['[', ']'])
            .to_owned();
        let port = url.port().unwrap_or(if tls { 8883 } else { 1883 });
        let decode = |s: &str| {
            percent_decode(s).with_context(|| "--mqtt-url's credentials are not valid UTF-8")
        };
        let mut username = match url.username() {
            "" => None,
            user => Some(decode(user)?),
        };
        let mut password = url.password().map(decode).transpose()?;
        if let Some(user) = &config.mqtt_username {
            username = Some(user.clone());
        }
        if let Some(file) = &config.mqtt_password_file {
            let text = std::fs::read_to_string(file).with_context(|| {
                format!("cannot read the MQTT password file {}", file.display())
            })?;
            password = Some(text.lines().next().unwrap_or_default().to_owned());
        }
        if password.is_some() && username.is_none() {
            bail!("an MQTT password needs a username (--mqtt-username or the URL's)");
        }
        let client_id = match &config.mqtt_client_id {
            Some(id) => id.clone(),
            None => format!("assetlog@{}", hostname()),
        };
        // Each logger's broker client may connect only under its own id as client id; a server
        // client id that could be a logger's would let that logger take the server's session
        // (its subscription and everything queued for it).
        if LoggerId::parse(&client_id).is_ok() {
            bail!(
                "--mqtt-client-id {client_id:?} could be a logger's id, and a logger registered \
                 under it could take over this server's session at the broker: use an id with a \
                 character logger ids cannot have, such as @ (the default is assetlog@<hostname>)"
            );
        }
        Ok(Some(Self {
            host,
            port,
            tls,
            ca_file: config.mqtt_ca_file.clone(),
            username,
            password,
            client_id,
            trust_broker: config.mqtt_trust_broker,
        }))
    }

    fn address(&self) -> String {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        format!("{scheme}://{}:{}", self.host, self.port)
    }

    fn options(&self, client_id: &str, credentials: bool) -> anyhow::Result<MqttOptions> {
        let mut options = MqttOptions::new(client_id, &self.host, self.port);
        options
            .set_keep_alive(Duration::from_secs(30))
            .set_max_packet_size(MAX_PACKET_BYTES, MAX_PACKET_BYTES);
        if credentials && let Some(user) = &self.username {
            options.set_credentials(user, self.password.clone().unwrap_or_default());
        }
        if self.tls {
            options.set_transport(Transport::tls_with_config(tls_config(
                self.ca_file.as_deref(),
            )?));
        }
        Ok(options)
    }
}

/// Answers and acknowledgements leave at once: with Nagle's algorithm, a small answer waits for
/// the broker's ACK of the one before (tens of ms at each end).
fn no_delay() -> rumqttc::NetworkOptions {
    let mut network = rumqttc::NetworkOptions::new();
    network.set_tcp_nodelay(true);
    network
}

fn percent_decode(s: &str) -> Result<String, std::str::Utf8Error> {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| Ok(v.into_owned()))
        .unwrap_or_else(|| Ok(String::new()))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "server".into())
}

/// TLS to the broker: the system's roots, or only the CA of `--mqtt-ca-file`.
fn tls_config(ca_file: Option<&std::path::Path>) -> anyhow::Result<rumqttc::TlsConfiguration> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(file) => {
            let certs = CertificateDer::pem_file_iter(file)
                .with_context(|| format!("cannot read --mqtt-ca-file {}", file.display()))?
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("--mqtt-ca-file {} is not PEM", file.display()))?;
            if certs.is_empty() {
                bail!("--mqtt-ca-file {} holds no certificate", file.display());
            }
            for cert in certs {
                roots
                    .add(cert)
                    .context("--mqtt-ca-file: a certificate is not valid")?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                bail!("no system root certificates for mqtts://: pass --mqtt-ca-file");
            }
        }
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(rumqttc::TlsConfiguration::Rustls(Arc::new(config)))
}

/// assetlog's connection to the broker: publishes answers, acknowledges messages and, unless
/// the broker is trusted, keeps the loggers' broker clients.
pub struct Link {
    client: AsyncClient,
    settings: Settings,
    /// Control requests waiting for their answer, by correlation.
    control: std::sync::Mutex<HashMap<String, oneshot::Sender<Vec<Value>>>>,
    next_request: AtomicU64,
    /// The newest broker change asked for each logger (by number): an older one that is still
    /// retrying gives up, so a rotated key never comes back.
    changes: std::sync::Mutex<HashMap<String, u64>>,
}

/// What a logger's broker client is to become.
#[derive(Clone)]
enum Change {
    Key(String),
    Removed,
}

/// How long a registration, rotation or deletion waits for the broker before it is answered;
/// the change goes on being tried after that.
const CHANGE_WAIT: Duration = Duration::from_secs(2);

/// Tries of a broker change before it is given up (about ten minutes of backoff).
const CHANGE_TRIES: u32 = 25;

/// What `connect` hands to `run`: the messages received, and the task reading the connection.
pub struct Receiving {
    messages: mpsc::UnboundedReceiver<Publish>,
    poller: JoinHandle<()>,
}

impl Link {
    /// Connects to the broker and checks it: anonymous clients refused (or the broker trusted),
    /// assetlog's account the dynamic-security admin, the subscriptions made.
    pub async fn connect(settings: Settings) -> anyhow::Result<(Arc<Self>, Receiving)> {
        let address = settings.address();
        if !settings.trust_broker {
            if settings.username.is_none() {
                bail!(
                    "MQTT: assetlog needs its own account at the broker (--mqtt-username and \
                     --mqtt-password-file) to keep the loggers' broker clients; or pass \
                     --mqtt-trust-broker if the broker's own ACLs decide who publishes (docs/MQTT.md)"
                );
            }
            if anonymous_allowed(&settings).await? {
                bail!(
                    "the MQTT broker at {address} lets clients in without credentials, so anyone \
                     could publish as any logger: turn anonymous access off (allow_anonymous \
                     false), or pass --mqtt-trust-broker if its ACLs keep each logger's topics to \
                     that logger (docs/MQTT.md)"
                );
            }
        }
        if !settings.trust_broker {
            server_role(&settings).await?;
        }
        let mut options = settings.options(&settings.client_id, true)?;
        options
            .set_clean_session(false)
            .set_manual_acks(true)
            .set_inflight(200);
        let (client, mut eventloop) = AsyncClient::new(options, 1024);
        eventloop.set_network_options(no_delay());
        let link = Arc::new(Self {
            client,
            settings,
            control: Default::default(),
            next_request: AtomicU64::new(1),
            changes: Default::default(),
        });
        let (messages_tx, messages) = mpsc::unbounded_channel();
        let (first_tx, mut first) = watch::channel(None);
        let poller = tokio::spawn(poll(link.clone(), eventloop, messages_tx, first_tx));
        let connected = tokio::time::timeout(BROKER_WAIT, first.wait_for(Option::is_some)).await;
        let outcome = match connected {
            Ok(Ok(outcome)) => outcome.clone().expect("waited for it"),
            _ => Err(format!("no answer within {}s", BROKER_WAIT.as_secs())),
        };
        if let Err(why) = outcome {
            poller.abort();
            bail!("cannot connect to the MQTT broker at {address}: {why}");
        }
        tracing::info!(broker = %address, client_id = %link.settings.client_id, managed = !link.settings.trust_broker, "connected to the MQTT broker");
        Ok((link, Receiving { messages, poller }))
    }
}

/// After a registration with its key, or a new key: the logger's broker client gets it. The
/// request waits for that at most [`CHANGE_WAIT`], then is answered all the same (a device must
/// not lose its new key to a slow broker); the change goes on being tried with backoff until it
/// is made or a newer change for the logger comes. Until then an old key may still open the
/// broker; failures are logged.
pub async fn keyed(state: &AppState, logger_id: &str, key: &str) {
    change(state, logger_id, Change::Key(key.to_owned())).await;
}

/// After a logger is deleted (by an admin, or unclaimed and expired): its broker client goes,
/// tried as [`keyed`] is.
pub async fn removed(state: &AppState, logger_id: &str) {
    change(state, logger_id, Change::Removed).await;
}

async fn change(state: &AppState, logger_id: &str, change: Change) {
    let Some(link) = &state.mqtt else { return };
    if !link.manages_clients() {
        return;
    }
    let number = link.next_request.fetch_add(1, Ordering::Relaxed);
    link.changes
        .lock()
        .expect("not poisoned")
        .insert(logger_id.to_owned(), number);
    let task = tokio::spawn(
        link.clone()
            .keep_trying(logger_id.to_owned(), number, change),
    );
    let _ = tokio::time::timeout(CHANGE_WAIT, task).await;
}

impl Link {
    /// Whether assetlog keeps the loggers' broker clients (not with `--mqtt-trust-broker`).
    pub fn manages_clients(&self) -> bool {
        !self.settings.trust_broker
    }

    /// Tries `change` until it is made, given up, or replaced by a newer one for the logger.
    async fn keep_trying(self: Arc<Self>, logger_id: String, number: u64, change: Change) {
        let latest = |link: &Self| {
            link.changes.lock().expect("not poisoned").get(&logger_id) == Some(&number)
        };
        for attempt in 0..CHANGE_TRIES {
            if !latest(&self) {
                return;
            }
            let outcome = match (&change, LoggerId::parse(&logger_id)) {
                (Change::Key(key), Ok(id)) => self.provision(&id, key).await,
                (Change::Key(_), Err(_)) => return,
                (Change::Removed, _) => self.deprovision(&logger_id).await,
            };
            let what = match change {
                Change::Key(_) => "cannot give the logger its broker client",
                Change::Removed => "cannot remove the logger's broker client",
            };
            match outcome {
                Ok(()) => {
                    let mut changes = self.changes.lock().expect("not poisoned");
                    if changes.get(&logger_id) == Some(&number) {
                        changes.remove(&logger_id);
                    }
                    return;
                }
                Err(e) if attempt == 0 || attempt.is_power_of_two() => {
                    tracing::warn!(logger = %logger_id, error = %format!("{e:#}"), attempt, "{what}; trying again");
                }
                Err(_) => {}
            }
            // A backoff between tries, not a wait for something to happen.
            let pause = Duration::from_millis(250u64 << attempt.min(7));
            tokio::time::sleep(pause).await;
        }
        tracing::error!(logger = %logger_id, "gave up changing the logger's broker client: its next registration with its key tries again");
    }

    /// Makes (or updates) the broker client of a logger with its device key, so it may publish
    /// its reports. A client of that name that is not a logger's is left alone (and refused).
    pub async fn provision(&self, logger_id: &LoggerId, key: &str) -> anyhow::Result<()> {
        if !self.manages_clients() {
            return Ok(());
        }
        let id = logger_id.as_str();
        let created = self
            .command_all(dynsec::create_logger(id, key), dynsec::exists)
            .await?;
        if created.get(1).and_then(dynsec::error).is_none() {
            return Ok(());
        }
        // The client was there: set its key only if it is this logger's.
        let client = self.command(dynsec::get_client(id)).await?;
        if !client.first().is_some_and(|c| dynsec::ours(c, id)) {
            bail!("the broker has a client named {id} that is not a logger's: left alone");
        }
        self.command_all(dynsec::set_password(id, key), |_| false)
            .await
            .map(drop)
    }

    /// Removes a logger's broker client (disconnecting it) and its role, if they are ours.
    pub async fn deprovision(&self, logger_id: &str) -> anyhow::Result<()> {
        if !self.manages_clients() {
            return Ok(());
        }
        let client = self.command(dynsec::get_client(logger_id)).await?;
        match client.first() {
            Some(c) if dynsec::ours(c, logger_id) => {}
            Some(c) if dynsec::error(c).is_some_and(dynsec::missing) => {}
            _ => bail!("the broker has a client named {logger_id} that is not a logger's"),
        }
        self.command_all(dynsec::delete_logger(logger_id), dynsec::missing)
            .await
            .map(drop)
    }

    /// Sends control commands and returns their answers, failing on an error that `fine` does
    /// not accept.
    async fn command_all(
        &self,
        commands: Vec<Value>,
        fine: fn(&str) -> bool,
    ) -> anyhow::Result<Vec<Value>> {
        let answers = self.command(commands).await?;
        for answer in &answers {
            if let Some(error) = dynsec::error(answer)
                && !fine(error)
            {
                let command = answer.get("command").and_then(Value::as_str).unwrap_or("?");
                bail!("the broker refused {command}: {error}");
            }
        }
        Ok(answers)
    }

    /// One control request: its commands' answers, in order.
    async fn command(&self, mut commands: Vec<Value>) -> anyhow::Result<Vec<Value>> {
        let id = format!(
            "{}-{}",
            self.settings.client_id,
            self.next_request.fetch_add(1, Ordering::Relaxed)
        );
        for c in &mut commands {
            c["correlationData"] = Value::String(id.clone());
        }
        let count = commands.len();
        let (tx, rx) = oneshot::channel();
        self.control
            .lock()
            .expect("not poisoned")
            .insert(id.clone(), tx);
        let body = json!({ "commands": commands }).to_string();
        let sent = self
            .client
            .publish(dynsec::CONTROL, QoS::AtLeastOnce, false, body)
            .await;
        let answer = match sent {
            Ok(()) => tokio::time::timeout(BROKER_WAIT, rx).await,
            Err(e) => {
                self.control.lock().expect("not poisoned").remove(&id);
                bail!("cannot send to the broker: {e}");
            }
        };
        self.control.lock().expect("not poisoned").remove(&id);
        match answer {
            Ok(Ok(answers)) if answers.len() == count => Ok(answers),
            Ok(Ok(answers)) => bail!("the broker answered {} of {count} commands", answers.len()),
            _ => bail!(
                "no answer from the broker's dynamic-security plugin within {}s",
                BROKER_WAIT.as_secs()
            ),
        }
    }

    /// A control answer: to the request that waits for it.
    fn answered(&self, payload: &[u8]) {
        let Ok(body) = serde_json::from_slice::<Value>(payload) else {
            return;
        };
        let Some(responses) = body.get("responses").and_then(Value::as_array) else {
            return;
        };
        let Some(id) = responses
            .first()
            .and_then(|r| r.get("correlationData"))
            .and_then(Value::as_str)
        else {
            return;
        };
        if let Some(waiting) = self.control.lock().expect("not poisoned").remove(id) {
            let _ = waiting.send(responses.clone());
        }
    }

    fn subscribe(&self) {
        let mut topics: Vec<_> = Inbound::ALL
            .into_iter()
            .map(|kind| rumqttc::SubscribeFilter::new(kind.subscription(), QoS::AtLeastOnce))
            .collect();
        if self.manages_clients() {
            topics.push(rumqttc::SubscribeFilter::new(
                dynsec::RESPONSE.into(),
                QoS::AtMostOnce,
            ));
        }
        // Beside the poller, which must go on reading while the request queue has no room.
        let client = self.client.clone();
        tokio::spawn(async move {
            if let Err(e) = client.subscribe_many(topics).await {
                tracing::warn!(error = %e, "cannot subscribe to the loggers' topics");
            }
        });
    }
}

/// Gives assetlog's account the server's role (once: it is kept at the broker), on connections
/// of its own before the link's: the broker disconnects the account's clients when it does.
async fn server_role(settings: &Settings) -> anyhow::Result<()> {
    let user = settings.username.as_deref().unwrap_or_default();
    let hint = || {
        format!(
            "the MQTT broker at {} did not take assetlog's dynamic-security commands: load \
             Mosquitto's dynamic-security plugin and make {user} its admin (mosquitto_ctrl \
             dynsec init), or pass --mqtt-trust-broker (docs/MQTT.md)",
            settings.address()
        )
    };
    let control = |commands| async move {
        match control_alone(settings, commands).await {
            Ok(answers) => Ok(answers),
            Err(Refusal::Connect(why)) => Err(anyhow::anyhow!(
                "cannot connect to the MQTT broker at {}: {why}",
                settings.address()
            )),
            Err(Refusal::Control(why)) => Err(anyhow::anyhow!(why).context(hint())),
        }
    };
    let has_role = |answers: Option<Vec<Value>>| -> anyhow::Result<bool> {
        let answers = answers.context("the broker closed the connection")?;
        let client = answers.first().context("no answer to getClient")?;
        if let Some(e) = dynsec::error(client) {
            bail!("the broker refused getClient: {e}");
        }
        Ok(dynsec::roles(client).contains(&dynsec::SERVER_ROLE))
    };
    // The plugin's defaults must deny what no role allows; else any logger publishes anywhere.
    let defaults = control(dynsec::get_default_acl_access())
        .await?
        .context("the broker closed the connection")
        .with_context(hint)?;
    let open = defaults
        .first()
        .map(dynsec::open_defaults)
        .unwrap_or_default();
    if !open.is_empty() {
        bail!(
            "the MQTT broker at {} lets every client {} where no role says otherwise, so a \
             logger could publish as another: set them back to deny (the plugin's \
             setDefaultACLAccess, docs/MQTT.md), or pass --mqtt-trust-broker",
            settings.address(),
            open.join(" and ")
        );
    }
    if has_role(control(dynsec::get_client(user)).await?).with_context(hint)? {
        return Ok(());
    }
    if let Some(answers) = control(dynsec::server_role(user)).await?
        && let Some(e) = answers.first().and_then(dynsec::error)
        && !dynsec::exists(e)
    {
        return Err(anyhow::anyhow!("the broker refused createRole: {e}").context(hint()));
    }
    if !has_role(control(dynsec::get_client(user)).await?).with_context(hint)? {
        let why = anyhow::anyhow!(
            "the broker did not give {user} the role {}",
            dynsec::SERVER_ROLE
        );
        return Err(why.context(hint()));
    }
    tracing::info!(
        user,
        role = dynsec::SERVER_ROLE,
        "gave assetlog's broker account its role"
    );
    Ok(())
}

/// One control request on a connection of its own: its answers, or `None` when the broker
/// closed the connection after the request and before answering.
async fn control_alone(
    settings: &Settings,
    mut commands: Vec<Value>,
) -> Result<Option<Vec<Value>>, Refusal> {
    let correlation = crate::secrets::new_secret("");
    for c in &mut commands {
        c["correlationData"] = Value::String(correlation.clone());
    }
    let body = json!({ "commands": commands }).to_string();
    let mut options = settings
        .options(&format!("{}/setup", settings.client_id), true)
        .map_err(|e| Refusal::Connect(format!("{e:#}")))?;
    options.set_clean_session(true);
    let (client, mut eventloop) = AsyncClient::new(options, 8);
    client
        .subscribe(dynsec::RESPONSE, QoS::AtMostOnce)
        .await
        .map_err(|e| Refusal::Connect(e.to_string()))?;
    let deadline = tokio::time::sleep(BROKER_WAIT);
    tokio::pin!(deadline);
    let mut sent = false;
    loop {
        let event = tokio::select! {
            () = &mut deadline => {
                let secs = BROKER_WAIT.as_secs();
                return Err(if sent {
                    Refusal::Control(format!(
                        "no answer from the broker's dynamic-security plugin within {secs}s"
                    ))
                } else {
                    Refusal::Connect(format!("no answer within {secs}s"))
                });
            }
            event = eventloop.poll() => event,
        };
        match event {
            Ok(Event::Incoming(Packet::SubAck(_))) if !sent => {
                sent = true;
                client
                    .publish(dynsec::CONTROL, QoS::AtLeastOnce, false, body.clone())
                    .await
                    .map_err(|e| Refusal::Connect(e.to_string()))?;
            }
            Ok(Event::Incoming(Packet::Publish(p))) if p.topic == dynsec::RESPONSE => {
                let answers: Value = serde_json::from_slice(&p.payload).unwrap_or_default();
                let Some(responses) = answers.get("responses").and_then(Value::as_array) else {
                    continue;
                };
                let ours = responses
                    .first()
                    .and_then(|r| r.get("correlationData"))
                    .and_then(Value::as_str)
                    == Some(correlation.as_str());
                if ours {
                    let _ = client.try_disconnect();
                    return Ok(Some(responses.clone()));
                }
            }
            Ok(_) => {}
            Err(ConnectionError::ConnectionRefused(code)) => {
                return Err(Refusal::Connect(refused(code)));
            }
            Err(_) if sent => return Ok(None),
            Err(e) => return Err(Refusal::Connect(e.to_string())),
        }
    }
}

/// Why a control request on a connection of its own failed.
enum Refusal {
    /// No connection: the broker is not there, or refused assetlog's account.
    Connect(String),
    /// Connected, but the control request was not answered.
    Control(String),
}

/// Whether the broker lets a client in without credentials.
async fn anonymous_allowed(settings: &Settings) -> anyhow::Result<bool> {
    let id = format!("assetlog@probe-{}", crate::secrets::new_secret(""));
    let options = settings.options(&id[..id.len().min(23)], false)?;
    let (client, mut eventloop) = AsyncClient::new(options, 4);
    let outcome = tokio::time::timeout(BROKER_WAIT, eventloop.poll()).await;
    let allowed = match outcome {
        Ok(Ok(Event::Incoming(Packet::ConnAck(ack)))) => ack.code == ConnectReturnCode::Success,
        Ok(Err(ConnectionError::ConnectionRefused(
            ConnectReturnCode::NotAuthorized | ConnectReturnCode::BadUserNamePassword,
        ))) => false,
        Ok(Ok(other)) => bail!(
            "the MQTT broker at {} answered {other:?}",
            settings.address()
        ),
        Ok(Err(e)) => bail!(
            "cannot connect to the MQTT broker at {}: {e}",
            settings.address()
        ),
        Err(_) => bail!(
            "cannot connect to the MQTT broker at {}: no answer within {}s",
            settings.address(),
            BROKER_WAIT.as_secs()
        ),
    };
    if allowed {
        let _ = client.try_disconnect();
        let _ = tokio::time::timeout(Duration::from_secs(1), eventloop.poll()).await;
    }
    Ok(allowed)
}

/// Reads the connection: reconnects (with the session kept), subscribes after each connect,
/// hands messages on, answers control requests. Never blocks on the receiver, so answers and
/// acks always flow; what is received is bounded by the broker's in-flight window.
async fn poll(
    link: Arc<Link>,
    mut eventloop: EventLoop,
    messages: mpsc::UnboundedSender<Publish>,
    first: watch::Sender<Option<Result<(), String>>>,
) {
    let mut failures = 0u32;
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                if failures > 0 {
                    tracing::info!(
                        session_present = ack.session_present,
                        "reconnected to the MQTT broker"
                    );
                }
                failures = 0;
                link.subscribe();
            }
            // The answer to `subscribe` (the only SUBSCRIBE this connection sends): connected
            // for good only once the broker lets assetlog read the loggers' topics.
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                let outcome = if ack.return_codes.contains(&SubscribeReasonCode::Failure) {
                    let why = format!(
                        "the broker refused assetlog's subscriptions to the loggers' topics \
                         ({:?}): its account must be allowed to subscribe to \
                         $share/assetlog/assetlog/v1/+/events and .../heartbeat",
                        ack.return_codes
                    );
                    tracing::error!("{why}");
                    Err(why)
                } else {
                    Ok(())
                };
                first.send_if_modified(|f| f.is_none() && f.replace(outcome).is_none());
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                if publish.topic == dynsec::RESPONSE {
                    link.answered(&publish.payload);
                } else if messages.send(publish).is_err() {
                    // Stopping: not acknowledged, so the broker delivers it again.
                }
            }
            Ok(Event::Outgoing(Outgoing::Disconnect)) => return,
            Ok(_) => {}
            Err(e) => {
                let why = match &e {
                    ConnectionError::ConnectionRefused(code) => refused(*code),
                    other => other.to_string(),
                };
                first.send_if_modified(|f| f.is_none() && f.replace(Err(why.clone())).is_none());
                if failures == 0 || failures.is_power_of_two() {
                    tracing::warn!(error = %why, "the MQTT broker cannot be reached; retrying");
                }
                failures = failures.saturating_add(1);
                // A backoff between reconnects, not a wait for something to happen.
                let pause = Duration::from_millis(250 * u64::from(failures.min(20)));
                tokio::time::sleep(pause).await;
            }
        }
    }
}

fn refused(code: ConnectReturnCode) -> String {
    match code {
        ConnectReturnCode::BadUserNamePassword => "wrong username or password".into(),
        // What Mosquitto's dynamic-security plugin answers to a wrong password.
        ConnectReturnCode::NotAuthorized => {
            "not authorised: a wrong username or password, or an account not let in".into()
        }
        ConnectReturnCode::BadClientId => "client id refused".into(),
        ConnectReturnCode::ServiceUnavailable => "the broker is unavailable".into(),
        ConnectReturnCode::RefusedProtocolVersion => "MQTT 3.1.1 refused".into(),
        ConnectReturnCode::Success => "connected".into(),
    }
}

/// Takes the loggers' messages until shutdown; then finishes those in work, acknowledges them
/// and leaves the broker (the session stays: what comes meanwhile waits there).
pub async fn run(state: AppState, link: Arc<Link>, receiving: Receiving) {
    let Receiving {
        mut messages,
        poller,
    } = receiving;
    let (acks_tx, acks) = mpsc::unbounded_channel();
    let acker = tokio::spawn(acknowledge(link.clone(), acks));
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(work(state.clone(), link.clone(), rx));
            tx
        })
        .collect();
    let mut shutdown = state.shutdown.clone();
    loop {
        let publish = tokio::select! {
            () = crate::stopped(&mut shutdown) => break,
            p = messages.recv() => match p {
                Some(p) => p,
                None => break,
            },
        };
        let (done, finished) = oneshot::channel();
        let worker = &workers[worker_of(&publish.topic)];
        let _ = acks_tx.send((publish.clone(), finished));
        let _ = worker.send((publish, done));
    }
    // What is received from now on is not taken: the broker delivers it again.
    drop(messages);
    drop(workers);
    drop(acks_tx);
    // Bounded: with the broker away, acknowledgements cannot leave (they come again anyway).
    if tokio::time::timeout(Duration::from_secs(5), acker)
        .await
        .is_err()
    {
        tracing::warn!("could not acknowledge everything to the MQTT broker before stopping");
    }
    let _ = link.client.try_disconnect();
    if tokio::time::timeout(Duration::from_secs(2), poller)
        .await
        .is_err()
    {
        tracing::warn!("the MQTT broker did not see assetlog leave");
    }
}

/// The worker of a topic: all of a logger's messages go to the same one.
fn worker_of(topic: &str) -> usize {
    use std::hash::{Hash, Hasher};
    let logger = topic.rsplit_once('/').map_or(topic, |(l, _)| l);
    let mut h = std::collections::hash_map::DefaultHasher::new();
    logger.hash(&mut h);
    (h.finish() % WORKERS as u64) as usize
}

/// Acknowledges messages to the broker in the order received (MQTT's rule for QoS 1), each once
/// its work is done; one whose work ended without finishing stays unacknowledged.
async fn acknowledge(
    link: Arc<Link>,
    mut acks: mpsc::UnboundedReceiver<(Publish, oneshot::Receiver<()>)>,
) {
    while let Some((publish, finished)) = acks.recv().await {
        if finished.await.is_ok()
            && let Err(e) = link.client.ack(&publish).await
        {
            tracing::warn!(error = %e, "cannot acknowledge a message to the MQTT broker");
        }
    }
}

async fn work(
    state: AppState,
    link: Arc<Link>,
    mut jobs: mpsc::UnboundedReceiver<(Publish, oneshot::Sender<()>)>,
) {
    use futures_util::FutureExt;
    while let Some((publish, done)) = jobs.recv().await {
        // A panic is one message's internal error, not a worker gone (whose loggers would wait
        // for good): answered and acknowledged as any other internal error.
        let answer = std::panic::AssertUnwindSafe(handle(&state, &publish))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| {
                let (logger_id, _) = topics::parse(&publish.topic).ok()?;
                let e = ApiError::Internal(anyhow::anyhow!("a panic on {}", publish.topic));
                Some((
                    topics::outbound(logger_id.as_str(), Outbound::Error),
                    error_body(e, None),
                ))
            });
        if let Some((topic, body)) = answer
            && let Err(e) = link
                .client
                .publish(topic, QoS::AtLeastOnce, false, body)
                .await
        {
            tracing::warn!(error = %e, "cannot publish an answer to a logger");
        }
        let _ = done.send(());
    }
}

/// One message from a logger: stored, and the answer to publish (an ack, or an error).
async fn handle(state: &AppState, publish: &Publish) -> Option<(String, String)> {
    let (logger_id, kind) = match topics::parse(&publish.topic) {
        Ok(parsed) => parsed,
        Err(_) => {
            tracing::debug!(topic = %publish.topic, "a message on a topic that is not a logger's");
            return None;
        }
    };
    state.metrics.mqtt_messages.inc();
    let payload = &publish.payload;
    let answered = if payload.len() > MAX_MESSAGE_BYTES {
        Err(ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("messages are limited to {MAX_MESSAGE_BYTES} bytes"),
        ))
    } else {
        match kind {
            Inbound::Events => events(state, &logger_id, payload).await,
            Inbound::Heartbeat => heartbeat(state, &logger_id, payload).await.map(|c| {
                json!({
                    "status": c.status,
                    "heartbeat_interval_s": c.heartbeat_interval_s,
                    "server_time": c.server_time,
                })
            }),
        }
        .map_err(ApiError::from)
    };
    match answered {
        Ok(answer) => Some((
            topics::outbound(logger_id.as_str(), Outbound::Ack),
            answer.to_string(),
        )),
        Err(e) => {
            state.metrics.mqtt_refused.inc();
            let last_seq = (kind == Inbound::Events)
                .then(|| last_seq_of(payload))
                .flatten();
            let body = error_body(e, last_seq);
            tracing::debug!(logger = %logger_id, error = %body, "refused a logger's MQTT message");
            Some((topics::outbound(logger_id.as_str(), Outbound::Error), body))
        }
    }
}

/// The highest seq a refused batch names, if it can be read: the logger matches the error to its
/// batch by it, as it matches an ack.
fn last_seq_of(payload: &[u8]) -> Option<u64> {
    let body: Value = serde_json::from_slice(payload).ok()?;
    body.get("events")?
        .as_array()?
        .iter()
        .filter_map(|e| e.get("seq")?.as_u64())
        .max()
}

/// `{error: {code, message, status}, last_seq?}`, `status` being what HTTP would have answered:
/// 4xx means the message will never be taken as it is, 429 and 5xx that it may be later.
fn error_body(e: ApiError, last_seq: Option<u64>) -> String {
    let (status, code, message) = match e {
        ApiError::Client {
            status,
            code,
            message,
        }
        | ApiError::Later {
            status,
            code,
            message,
            ..
        } => (status.as_u16(), code, message),
        ApiError::Internal(e) => {
            tracing::error!(error = %format!("{e:#}"), "an MQTT message failed");
            (500, "internal", "internal error".to_owned())
        }
    };
    let mut body = json!({"error": {"code": code, "message": message, "status": status}});
    if let Some(last) = last_seq {
        body["last_seq"] = json!(last);
    }
    body.to_string()
}

/// The events topic's body: `POST /api/v1/ingest`'s, its `logger_id` optional (the topic names it).
#[derive(Deserialize)]
struct EventsBody {
    logger_id: Option<String>,
    events: Vec<ObjectOnly<WireEvent>>,
}

/// The heartbeat topic's body: `POST /api/v1/device/heartbeat`'s, `logger_id` optional.
#[derive(Deserialize)]
struct HeartbeatBody {
    logger_id: Option<String>,
    uptime_s: Option<i64>,
    rssi: Option<i64>,
    free_heap: Option<i64>,
    queued_events: Option<i64>,
    dropped_events: Option<i64>,
    firmware_version: Option<String>,
}

fn decode<'a, T: Deserialize<'a>>(payload: &'a [u8]) -> Result<T, IngestError> {
    serde_json::from_slice::<ObjectOnly<T>>(payload)
        .map(|o| o.0)
        .map_err(|e| crate::domain::Refusal::new("invalid_json", e.to_string()).into())
}

/// A body's `logger_id`, when it has one, must be the topic's.
fn same_logger(topic: &LoggerId, body: Option<&str>) -> Result<(), IngestError> {
    match body {
        Some(id) if id != topic.as_str() => Err(crate::domain::Refusal::new(
            "logger_mismatch",
            "the body's logger_id is not the topic's",
        )
        .into()),
        _ => Ok(()),
    }
}

/// The broker let only this logger publish here: it needs no key (`ingest::authenticate`'s job
/// over HTTP), only to be registered.
async fn device(
    state: &AppState,
    logger_id: &LoggerId,
) -> Result<Arc<crate::store::DeviceAuth>, IngestError> {
    state
        .store
        .device(logger_id.as_str())
        .await?
        .ok_or(IngestError::UnknownLogger)
}

/// A batch's answer: HTTP's `{acked_seq}`, and `last_seq`, the batch's highest seq, which tells
/// the logger which of its batches this answers (one it sent again may be answered twice).
async fn events(
    state: &AppState,
    logger_id: &LoggerId,
    payload: &[u8],
) -> Result<Value, IngestError> {
    let body: EventsBody = decode(payload)?;
    same_logger(logger_id, body.logger_id.as_deref())?;
    let wire: Vec<WireEvent> = body.events.into_iter().map(|o| o.0).collect();
    let events = ingest::batch(&wire, now_ms())?;
    let last_seq = events.iter().filter_map(|e| e.seq).max();
    let device = device(state, logger_id).await?;
    let outcome = ingest::report(state, &device, events, true).await?;
    let ack = IngestAck {
        acked_seq: outcome.acked_seq.max(0) as u64,
    };
    let mut answer = serde_json::to_value(ack).expect("an ack serialises");
    if let Some(last) = last_seq {
        answer["last_seq"] = json!(last);
    }
    Ok(answer)
}

async fn heartbeat(
    state: &AppState,
    logger_id: &LoggerId,
    payload: &[u8],
) -> Result<ingest::Contact, IngestError> {
    let body: HeartbeatBody = decode(payload)?;
    same_logger(logger_id, body.logger_id.as_deref())?;
    let hb = ingest::heartbeat_fields(ingest::HeartbeatFields {
        uptime_s: body.uptime_s,
        rssi: body.rssi,
        free_heap: body.free_heap,
        queued_events: body.queued_events,
        dropped_events: body.dropped_events,
        firmware_version: body.firmware_version.as_deref(),
    })?;
    let device = device(state, logger_id).await?;
    ingest::heartbeat(state, &device, hb).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loggers_messages_share_a_worker() {
        assert_eq!(
            worker_of("assetlog/v1/L1/events"),
            worker_of("assetlog/v1/L1/heartbeat")
        );
    }

    #[test]
    fn credentials_in_the_url_are_decoded() {
        assert_eq!(percent_decode("p%40ss+w%2Fd").unwrap(), "p@ss+w/d");
    }
}
