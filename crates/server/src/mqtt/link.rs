//! assetlog's connection to the broker: connecting and checking it, the plugin's control
//! requests, and the loggers' broker clients kept in step with their keys.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use assetlog_core::LoggerId;
use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, EventLoop, Outgoing, Packet, Publish,
    QoS, SubscribeReasonCode,
};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::dynsec;
use super::settings::{Settings, no_delay};
use super::topics::Inbound;
use crate::AppState;

/// A broker client named as the logger that assetlog did not make: left alone.
#[derive(Debug)]
struct NotOurs(String);

impl std::fmt::Display for NotOurs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the broker has a client named {} that is not a logger's: left alone",
            self.0
        )
    }
}

impl std::error::Error for NotOurs {}

/// How long a start waits for the broker, and a control request for its answer.
const BROKER_WAIT: Duration = Duration::from_secs(10);

/// assetlog's connection to the broker: publishes answers, acknowledges messages and, unless
/// the broker is trusted, keeps the loggers' broker clients.
pub struct Link {
    /// Answers and acknowledgements go out through it (`receive`).
    pub(super) client: AsyncClient,
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
    pub(super) messages: mpsc::UnboundedReceiver<Publish>,
    pub(super) poller: JoinHandle<()>,
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
                // Trying again changes nothing: the name is someone else's.
                Err(e) if e.downcast_ref::<NotOurs>().is_some() => {
                    tracing::warn!(logger = %logger_id, error = %e, "{what}");
                    return;
                }
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
            return Err(NotOurs(id.to_owned()).into());
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
            _ => return Err(NotOurs(logger_id.to_owned()).into()),
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
    async fn command(&self, commands: Vec<Value>) -> anyhow::Result<Vec<Value>> {
        let id = format!(
            "{}-{}",
            self.settings.client_id,
            self.next_request.fetch_add(1, Ordering::Relaxed)
        );
        let count = commands.len();
        let (tx, rx) = oneshot::channel();
        self.control
            .lock()
            .expect("not poisoned")
            .insert(id.clone(), tx);
        let body = dynsec::request(commands, &id);
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
        let Some((id, responses)) = dynsec::answer(payload) else {
            return;
        };
        if let Some(waiting) = self.control.lock().expect("not poisoned").remove(&id) {
            let _ = waiting.send(responses);
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
    commands: Vec<Value>,
) -> Result<Option<Vec<Value>>, Refusal> {
    let correlation = crate::secrets::new_secret("");
    let body = dynsec::request(commands, &correlation);
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
                if let Some((id, responses)) = dynsec::answer(&p.payload)
                    && id == correlation
                {
                    let _ = client.try_disconnect();
                    return Ok(Some(responses));
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
