//! Alerting: rules watch the machines and loggers of a tenant; when one fires, an alert opens
//! (exactly one per rule and machine or logger: the database decides), its channels are told
//! through an outbox that survives restarts, and it clears when the machine runs again or the
//! logger reports (docs/ALERTS.md).
//!
//! # Layout
//! - `config`: channels and rules, checked once, stored as checked JSON.
//! - `engine`: the evaluator, pure: state changes and time in, actions out.
//! - `deliver`: the outbox's sender (webhook signed with HMAC, Slack, Teams), retries.
//! - `mail`: email through `--smtp-url`.
//! - `guard`: which receivers may be reached (no private addresses unless allowed).
//! - this file: [`run`], which feeds the evaluator from the live hub on the leader and carries
//!   its actions out (alert rows and deliveries in one transaction, live messages after).

pub mod config;
pub mod deliver;
pub mod engine;
pub mod guard;
pub mod mail;

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use crate::AppState;
use crate::domain::{AssetId, TenantId};
use crate::live::{LiveMessage, rfc3339};
use crate::store::{Alert, AlertDoc, NewAlert, NewDelivery, Store, StoreError, now_ms};
use config::{Channel, Rule, RuleKind};
use engine::{Action, Evaluator, PlannedTime, Seen};

/// What the handlers, the evaluator and the sender share.
pub struct Alerts {
    /// Told when deliveries were queued.
    pub outbox: tokio::sync::Notify,
    /// Told when a report changed here (the schedule looks again at once).
    pub reports: tokio::sync::Notify,
    pub targets: guard::Targets,
    /// The one HTTP client of every delivery and test message (built once: its TLS set-up
    /// reads the system's roots).
    pub client: reqwest::Client,
    /// The wait before a failed delivery's first retry (it doubles from there).
    pub first_retry_ms: i64,
    /// Email, when `--smtp-url` is given.
    pub mailer: Option<mail::Mailer>,
}

impl Alerts {
    pub fn new(config: &crate::config::ServeConfig) -> anyhow::Result<Self> {
        let targets = guard::Targets {
            allow_private: config.allow_private_webhooks,
        };
        Ok(Self {
            outbox: tokio::sync::Notify::new(),
            reports: tokio::sync::Notify::new(),
            targets,
            client: guard::client(targets),
            first_retry_ms: config.alert_retry_ms as i64,
            mailer: mail::Mailer::from_config(config)?,
        })
    }
}

/// Tells the evaluator (on whichever server leads) that a tenant's rules or channels changed,
/// and the tenant's dashboards that they may re-read them.
pub fn config_changed(state: &AppState, tenant_id: TenantId) {
    state
        .live
        .publish(tenant_id, &LiveMessage::AlertConfigChanged {});
}

/// How often the evaluator re-reads everything it knows besides being told (calendars and
/// planned downtime change without telling it).
const RELOAD_EVERY: Duration = Duration::from_secs(300);

/// What the evaluator reads of a live message.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Heard {
    AssetStateChange {
        asset_id: AssetId,
        asset_name: String,
        logger_id: String,
        state: String,
        timestamp: String,
    },
    LoggerStatus {
        logger_id: String,
        online: bool,
        last_seen: String,
    },
    AlertConfigChanged {},
    #[serde(other)]
    Other,
}

fn epoch_ms(rfc3339: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Resolves when whether this server leads changes; never, when it cannot change any more (a
/// SQLite server leads for good, and its sender is gone).
pub(crate) async fn lead_changed(leads: &mut tokio::sync::watch::Receiver<bool>) {
    if leads.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Runs the evaluator while this server leads, until shutdown.
pub async fn run(state: AppState) {
    let mut shutdown = state.shutdown.clone();
    let mut leads = state.leads.clone();
    loop {
        while !*leads.borrow_and_update() {
            tokio::select! {
                _ = lead_changed(&mut leads) => {}
                _ = crate::stopped(&mut shutdown) => return,
            }
        }
        // Listening before reading, so that nothing between the two is missed.
        let mut heard = state.live.observe();
        let mut evaluator = match seed(&state).await {
            Ok(evaluator) => evaluator,
            Err(e) => {
                tracing::warn!(error = %e, "cannot start evaluating alert rules; trying again");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    _ = crate::stopped(&mut shutdown) => return,
                }
            }
        };
        let mut reload =
            tokio::time::interval_at(tokio::time::Instant::now() + RELOAD_EVERY, RELOAD_EVERY);
        loop {
            let wake = evaluator.next_due().map(|at| {
                tokio::time::Instant::now()
                    + Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0))
            });
            let mut actions = Vec::new();
            let mut reseed = false;
            tokio::select! {
                got = heard.recv() => {
                    let mut got = Some(got);
                    // Everything heard so far, before any timer: a report's later change (a
                    // stop that is over already) is taken in before its earlier one fires.
                    while let Some(message) = got.take() {
                        match message {
                            Ok((tenant, frame)) => {
                                reseed |= take_in(&mut evaluator, &mut actions, tenant, &frame);
                            }
                            Err(RecvError::Lagged(n)) => {
                                tracing::warn!(missed = n, "the alert evaluator fell behind; reading the state again");
                                reseed = true;
                            }
                            Err(RecvError::Closed) => return,
                        }
                        got = match heard.try_recv() {
                            Ok(m) => Some(Ok(m)),
                            Err(tokio::sync::broadcast::error::TryRecvError::Lagged(n)) => Some(Err(RecvError::Lagged(n))),
                            Err(_) => None,
                        };
                    }
                }
                _ = async { tokio::time::sleep_until(wake.expect("a timer")).await }, if wake.is_some() => {}
                _ = reload.tick() => reseed = true,
                _ = lead_changed(&mut leads) => {
                    if !*leads.borrow() {
                        break;
                    }
                }
                _ = crate::stopped(&mut shutdown) => return,
            }
            actions.extend(evaluator.due(now_ms()));
            act(&state, &mut evaluator, actions).await;
            if reseed {
                match seed(&state).await {
                    Ok(fresh) => {
                        evaluator = fresh;
                        let due = evaluator.due(now_ms());
                        act(&state, &mut evaluator, due).await;
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot re-read the alert rules"),
                }
            }
        }
    }
}

/// Takes in one live message; true when the rules must be read again.
fn take_in(
    evaluator: &mut Evaluator,
    actions: &mut Vec<Action>,
    tenant: TenantId,
    frame: &str,
) -> bool {
    // Cheap looks first: most frames are state changes of tenants without rules.
    if frame.contains("\"alert_config_changed\"") {
        return true;
    }
    if !evaluator.watches_tenant(tenant)
        || !(frame.contains("\"asset_state_change\"") || frame.contains("\"logger_status\""))
    {
        return false;
    }
    let Ok(heard) = serde_json::from_str::<Heard>(frame) else {
        return false;
    };
    let now = now_ms();
    match heard {
        Heard::AlertConfigChanged {} => return true,
        Heard::AssetStateChange {
            asset_id,
            asset_name,
            logger_id,
            state,
            timestamp,
        } => {
            let running = match state.as_str() {
                "RUNNING" => Some(true),
                "STOPPED" => Some(false),
                _ => None,
            };
            if let Some(ts) = epoch_ms(&timestamp) {
                let seen = Seen {
                    tenant,
                    asset: asset_id,
                    name: &asset_name,
                    logger_id: &logger_id,
                    running,
                    ts,
                };
                actions.extend(evaluator.asset(seen, now));
            }
        }
        Heard::LoggerStatus {
            logger_id,
            online,
            last_seen,
        } => {
            let at = if online {
                now
            } else {
                epoch_ms(&last_seen).unwrap_or(now)
            };
            actions.extend(evaluator.logger(tenant, &logger_id, online, at, now));
        }
        Heard::Other => {}
    }
    false
}

/// A fresh evaluator from what the database holds: the rules, each watched tenant's planned
/// time and machines, the open alerts, and the loggers offline now.
async fn seed(state: &AppState) -> anyhow::Result<Evaluator> {
    let mut rules: HashMap<TenantId, Vec<Rule>> = HashMap::new();
    for (tenant, id, body) in state.store.every_alert_doc(AlertDoc::Rule).await? {
        if let Some(rule) = Rule::from_stored(id, &body) {
            rules.entry(tenant).or_default().push(rule);
        }
    }
    let now = now_ms();
    let mut planned = HashMap::new();
    for tenant in rules.keys() {
        let r = crate::analytics::Rules::load(&state.store, *tenant).await?;
        let (from, to) = (now - 31 * 86_400_000, now + 62 * 86_400_000);
        let downtime = state
            .store
            .planned_downtime(*tenant, Some(from), Some(to))
            .await?
            .into_iter()
            .flat_map(|d| {
                d.spans(r.tz, from, to)
                    .into_iter()
                    .map(move |s| (d.asset_id, s))
            })
            .collect();
        planned.insert(
            *tenant,
            PlannedTime {
                tz: r.tz,
                calendar: r.calendar,
                downtime,
            },
        );
    }
    let tenants: Vec<TenantId> = rules.keys().copied().collect();
    let mut evaluator = Evaluator::new(rules, planned, now);
    for alert in state.store.open_alerts().await? {
        evaluator.adopt(&alert);
    }
    let mut actions = evaluator.orphans(now);
    for tenant in tenants {
        if !evaluator.watches_tenant(tenant) {
            continue;
        }
        for asset in state.store.assets(tenant).await? {
            let (running, since) = (asset.running, asset.since.unwrap_or(now));
            let seen = Seen {
                tenant,
                asset: asset.id,
                name: &asset.name,
                logger_id: &asset.logger_id,
                running,
                ts: since,
            };
            actions.extend(evaluator.asset(seen, now));
        }
        for (logger_id, last_seen) in state.presence.offline(tenant) {
            actions.extend(evaluator.logger(tenant, &logger_id, false, last_seen, now));
        }
    }
    act(state, &mut evaluator, actions).await;
    Ok(evaluator)
}

/// A duration as people say it: "45 s", "12 min", "3 h 5 min".
fn spoken(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        _ if s % 3600 / 60 == 0 => format!("{} h", s / 3600),
        _ => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

/// The deliveries of one change of an alert to some channels.
fn deliveries(
    channels: &HashMap<i64, Channel>,
    ids: &[i64],
    event: &'static str,
    message: &serde_json::Value,
) -> Vec<NewDelivery> {
    ids.iter()
        .filter_map(|id| channels.get(id))
        .map(|c| NewDelivery {
            channel_id: c.id,
            channel_name: c.name.clone(),
            event,
            message: message.to_string(),
            due_at: now_ms(),
        })
        .collect()
}

/// A tenant's alert channels, as stored.
pub async fn channels(store: &Store, tenant: TenantId) -> Result<Vec<Channel>, StoreError> {
    Ok(store
        .alert_docs(tenant, AlertDoc::Channel)
        .await?
        .into_iter()
        .filter_map(|(id, body)| Channel::from_stored(id, &body))
        .collect())
}

/// A tenant's alert rules, as stored.
pub async fn rules(store: &Store, tenant: TenantId) -> Result<Vec<Rule>, StoreError> {
    Ok(store
        .alert_docs(tenant, AlertDoc::Rule)
        .await?
        .into_iter()
        .filter_map(|(id, body)| Rule::from_stored(id, &body))
        .collect())
}

async fn channels_of(state: &AppState, tenant: TenantId) -> HashMap<i64, Channel> {
    match channels(&state.store, tenant).await {
        Ok(channels) => channels.into_iter().map(|c| (c.id, c)).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the alert channels");
            HashMap::new()
        }
    }
}

/// The message of an alert's change, as stored in the outbox (alerts/deliver.rs adds the ids).
fn message(event: &str, title: &str, text: String, alert: &serde_json::Value) -> serde_json::Value {
    json!({ "event": event, "title": title, "text": text, "alert": alert })
}

fn rule_summary(rule: &Rule) -> serde_json::Value {
    json!({"id": rule.id, "name": rule.name, "kind": rule.kind.as_str()})
}

/// Opens an alert with its deliveries ("opened" to the rule's channels); true when something
/// was queued. Already open (another evaluator, or before a restart): adopted instead.
async fn open(
    state: &AppState,
    evaluator: &mut Evaluator,
    key: engine::Key,
    rule: &Rule,
    new: NewAlert,
    text: String,
) -> bool {
    let summary = json!({
        "rule": rule_summary(rule),
        "asset_id": new.asset_id, "asset_name": new.detail["asset_name"],
        "logger_id": new.logger_id, "since": new.since, "opened_at": new.opened_at,
        "cleared_at": new.cleared_at,
    });
    // Opened and over at once: told once, as opened (the text says it ended).
    let channels = channels_of(state, new.tenant_id).await;
    let out = deliveries(
        &channels,
        &rule.channel_ids,
        "opened",
        &message("opened", &rule.name, text, &summary),
    );
    let count = out.len();
    match state.store.open_alert(new, out).await {
        Ok(Some(alert)) => {
            tracing::info!(alert = alert.id, rule = rule.id, "alert opened");
            state.metrics.alerts_opened.inc();
            evaluator.opened(key, &alert);
            publish(state, "opened", &alert);
            if alert.cleared_at.is_some() {
                publish(state, "cleared", &alert);
            }
            count > 0
        }
        Ok(None) => {
            match state.store.open_alerts().await {
                Ok(open) => open.iter().for_each(|a| evaluator.adopt(a)),
                Err(e) => tracing::warn!(error = %e, "cannot read the open alerts"),
            }
            false
        }
        Err(e) => {
            tracing::warn!(error = %e, rule = rule.id, "cannot open an alert");
            false
        }
    }
}

/// Clears an alert, telling the rule's channels when it asks for that; true when something
/// was queued.
async fn clear(
    state: &AppState,
    tenant: TenantId,
    alert: i64,
    at: i64,
    rule: Option<&Rule>,
    text: String,
) -> bool {
    let mut out = Vec::new();
    if let Some(rule) = rule.filter(|r| r.notify_on_clear) {
        let channels = channels_of(state, tenant).await;
        let summary = json!({"rule": rule_summary(rule), "cleared_at": at});
        out = deliveries(
            &channels,
            &rule.channel_ids,
            "cleared",
            &message("cleared", &rule.name, text, &summary),
        );
    }
    let count = out.len();
    match state.store.clear_alert(tenant, alert, at, out).await {
        Ok(Some(cleared)) => {
            publish(state, "cleared", &cleared);
            count > 0
        }
        Ok(None) => false,
        Err(e) => {
            tracing::warn!(error = %e, alert, "cannot clear an alert");
            false
        }
    }
}

/// A machine's planned run and down time in `[from, to)`, as analytics counts them.
async fn figures(
    state: &AppState,
    tenant: TenantId,
    asset: AssetId,
    from: i64,
    to: i64,
) -> anyhow::Result<(i64, i64)> {
    if to <= from {
        return Ok((0, 0));
    }
    let scope =
        crate::analytics::Scope::new(&state.store, tenant, (Some(from), Some(to)), &[asset])
            .await?;
    let answer = crate::analytics::figures(state, &scope, None).await?;
    Ok(answer
        .assets
        .first()
        .map_or((0, 0), |a| (a.row.figures.run_ms, a.row.figures.down_ms)))
}

fn percent(ratio: f64) -> String {
    format!("{:.1} %", ratio * 100.0)
}

/// Carries out what the evaluator decided.
async fn act(state: &AppState, evaluator: &mut Evaluator, actions: Vec<Action>) {
    let mut queued = false;
    for action in actions {
        match action {
            Action::Open {
                key,
                tenant,
                rule,
                asset,
                logger_id,
                since,
                cleared_at,
                threshold_ms,
            } => {
                let text = match (&asset, rule.kind) {
                    (Some((_, name)), _) => {
                        format!(
                            "{name} (logger {logger_id}) has been stopped for longer than {} since {}",
                            spoken(threshold_ms),
                            rfc3339(since)
                        ) + &cleared_at
                            .map(|at| format!("; it ran again after {}", spoken(at - since)))
                            .unwrap_or_default()
                    }
                    (None, RuleKind::LoggerOffline) => format!(
                        "Logger {logger_id} is offline: last heard of at {}",
                        rfc3339(since)
                    ),
                    (None, _) => format!("{} on logger {logger_id}", rule.name),
                };
                let new = NewAlert {
                    tenant_id: tenant,
                    rule_id: rule.id,
                    rule_name: rule.name.clone(),
                    kind: rule.kind.as_str().into(),
                    asset_id: asset.as_ref().map(|a| a.0),
                    logger_id: Some(logger_id.clone()),
                    since,
                    opened_at: now_ms(),
                    cleared_at,
                    detail: json!({ "text": text, "asset_name": asset.as_ref().map(|a| a.1.clone()) }),
                };
                queued |= open(state, evaluator, key, &rule, new, text).await;
            }
            Action::Clear {
                tenant,
                alert,
                at,
                rule,
                lasted_ms,
            } => {
                let text = rule
                    .as_ref()
                    .map(|r| format!("Cleared: {} (after {})", r.name, spoken(lasted_ms)))
                    .unwrap_or_default();
                queued |= clear(state, tenant, alert, at, rule.as_ref(), text).await;
            }
            Action::Escalate {
                tenant,
                alert,
                rule,
            } => {
                let channels = channels_of(state, tenant).await;
                let text = format!(
                    "Not acknowledged after {}: {}",
                    spoken(rule.escalate_after_s.unwrap_or(0) * 1000),
                    rule.name
                );
                let summary = json!({"rule": rule_summary(&rule)});
                let out = deliveries(
                    &channels,
                    &rule.escalate_channel_ids,
                    "escalated",
                    &message("escalated", &rule.name, text, &summary),
                );
                let count = out.len();
                match state
                    .store
                    .escalate_alert(tenant, alert, now_ms(), out)
                    .await
                {
                    Ok(Some(escalated)) => {
                        publish(state, "escalated", &escalated);
                        queued |= count > 0;
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, alert, "cannot escalate an alert"),
                }
            }
            Action::Availability {
                tenant,
                rule,
                asset: (asset_id, asset_name),
                logger_id,
                shift,
                stop_since,
                ended,
            } => {
                let now = now_ms();
                let (run, down) = match figures(
                    state,
                    tenant,
                    asset_id,
                    shift.start,
                    shift.end.min(now),
                )
                .await
                {
                    Ok(f) => f,
                    Err(e) => {
                        tracing::warn!(error = %e, rule = rule.id, "cannot measure a shift's availability");
                        continue;
                    }
                };
                let wanted = rule.threshold_pct.unwrap_or(0.0) / 100.0;
                let (run, down) = (run as f64, down as f64);
                let reached = (run + down > 0.0).then(|| run / (run + down));
                let open_alert = evaluator.is_open(rule.id, asset_id);
                let new = |text: &str, cleared_at: Option<i64>| NewAlert {
                    tenant_id: tenant,
                    rule_id: rule.id,
                    rule_name: rule.name.clone(),
                    kind: rule.kind.as_str().into(),
                    asset_id: Some(asset_id),
                    logger_id: Some(logger_id.clone()),
                    since: shift.start,
                    opened_at: now,
                    cleared_at,
                    detail: json!({"text": text, "asset_name": asset_name, "shift_start": shift.start,
                                   "shift_end": shift.end, "availability": reached}),
                };
                let key = (rule.id, engine::Subject::Asset(asset_id));
                if ended {
                    let figure = reached.map_or("no planned time".to_string(), percent);
                    if let Some(alert) = open_alert {
                        evaluator.closed(rule.id, asset_id);
                        let text = format!(
                            "{asset_name}: the shift ended at {figure} availability ({})",
                            rule.name
                        );
                        queued |= clear(state, tenant, alert, shift.end, Some(&rule), text).await;
                    } else if reached.is_some_and(|r| r < wanted) {
                        let text = format!(
                            "{asset_name} (logger {logger_id}) reached {figure} availability in the shift {} – {}, below {}",
                            rfc3339(shift.start),
                            rfc3339(shift.end),
                            percent(wanted)
                        );
                        queued |= open(
                            state,
                            evaluator,
                            key,
                            &rule,
                            new(&text, Some(shift.end)),
                            text,
                        )
                        .await;
                    }
                    continue;
                }
                if open_alert.is_some() {
                    continue;
                }
                // If it ran for all the planned time left, what could it reach? Below the
                // threshold once the stop lasts `margin` more planned time.
                let left = evaluator.planned_ms(tenant, asset_id, now, shift.end) as f64;
                let margin = run + left - wanted * (run + down + left);
                if margin <= 0.0 {
                    let best = if run + down + left > 0.0 {
                        (run + left) / (run + down + left)
                    } else {
                        0.0
                    };
                    let text = format!(
                        "{asset_name} (logger {logger_id}) can no longer reach {} availability this shift (at most {})",
                        percent(wanted),
                        percent(best)
                    );
                    queued |= open(state, evaluator, key, &rule, new(&text, None), text).await;
                } else if let Some(since) = stop_since {
                    let check = engine::Recheck {
                        tenant,
                        rule: rule.id,
                        asset: asset_id,
                        since,
                        shift,
                    };
                    evaluator.recheck_availability(check, now, margin.ceil() as i64 + 1);
                }
            }
        }
    }
    if queued {
        state.alerts.outbox.notify_one();
    }
}

/// Tells the alert's tenant's dashboards of a change of it.
pub fn publish(state: &AppState, event: &'static str, alert: &Alert) {
    state.live.publish(
        alert.tenant_id,
        &LiveMessage::Alert {
            event,
            alert: alert.clone(),
        },
    );
}
