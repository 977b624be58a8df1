//! The outbox's sender: every delivery is sent, and retried with backoff until it is
//! delivered or a day has passed, surviving restarts (the outbox is in the database); every
//! attempt is logged. The leader sends (`alerts::run` has the evaluator there too).
//!
//! # What is sent (docs/ALERTS.md)
//! - `webhook`: the message as JSON, signed: `X-Assetlog-Signature: sha256=<hex>` is the
//!   HMAC-SHA256, keyed with the channel's secret, of `<X-Assetlog-Timestamp>.<body>`;
//!   `X-Assetlog-Delivery` names the delivery (the same on every retry, to drop repeats).
//! - `slack`: `{"text": …}`, Slack's incoming-webhook format.
//! - `teams`: an Adaptive Card message, as Teams' Workflows webhooks take it.

use std::sync::Arc;
use std::time::Duration;

use hmac::{KeyInit, Mac};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::config::{Channel, ChannelKind};
use super::mail::{Attached, Mailer, escape};
use crate::AppState;
use crate::reports::render::Email;
use crate::store::{AfterAttempt, Attempt, Delivery, now_ms};

/// Deliveries claimed at once.
const BATCH: i64 = 64;
/// Deliveries in flight at once.
const IN_FLIGHT: usize = 16;
/// A claimed delivery is not claimed again before this (a sender that died with it in hand).
const LEASE_MS: i64 = 60_000;
/// The longest wait between two attempts.
const MAX_BACKOFF_MS: i64 = 15 * 60_000;
/// After this long since it was queued, a delivery is given up.
pub const GIVE_UP_AFTER_MS: i64 = 24 * 3_600_000;
/// How often the outbox is looked at besides when told (retries, leases that ran out).
const POLL: Duration = Duration::from_secs(1);

/// What becomes of a delivery that failed its `attempts`-th attempt at `now`: the waits
/// double from `first_retry_ms` up to [`MAX_BACKOFF_MS`], for a day.
pub fn after_failure(
    attempts: i64,
    created_at: i64,
    now: i64,
    first_retry_ms: i64,
) -> AfterAttempt {
    if now - created_at >= GIVE_UP_AFTER_MS {
        return AfterAttempt::GiveUp;
    }
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    let wait = first_retry_ms
        .saturating_mul(1 << doublings)
        .min(MAX_BACKOFF_MS);
    AfterAttempt::Retry(now + wait)
}

/// The signature of a webhook body sent at `timestamp` (seconds).
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The body a channel of `kind` gets for a stored message (with the ids it belongs to).
pub fn render(
    kind: ChannelKind,
    message: &Value,
    alert_id: Option<i64>,
    delivery_id: i64,
) -> Value {
    let text = message["text"].as_str().unwrap_or_default();
    match kind {
        ChannelKind::Slack => json!({ "text": text }),
        ChannelKind::Teams => json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {"type": "TextBlock", "size": "Medium", "weight": "Bolder", "wrap": true,
                         "text": message["title"].as_str().unwrap_or("assetlog")},
                        {"type": "TextBlock", "wrap": true, "text": text},
                    ],
                },
            }],
        }),
        ChannelKind::Webhook | ChannelKind::Email => {
            let mut body = message.clone();
            if let Some(map) = body.as_object_mut() {
                map.insert("alert_id".into(), json!(alert_id));
                map.insert("delivery_id".into(), json!(delivery_id));
                map.insert("sent_at".into(), json!(now_ms()));
            }
            body
        }
    }
}

/// An alert's email: subject, text and HTML (inline styles only, as mail clients show it).
pub fn email(message: &Value) -> (String, String, String) {
    let title = message["title"].as_str().unwrap_or("assetlog");
    let text = message["text"].as_str().unwrap_or_default();
    let event = message["event"].as_str().unwrap_or_default();
    let subject = format!("[assetlog] {event}: {title}");
    let colour = match event {
        "cleared" => "#2e7d32",
        "test" => "#455a64",
        _ => "#c62828",
    };
    let html = format!(
        "<!DOCTYPE html><html><body style=\"font-family:Arial,Helvetica,sans-serif;color:#222\">\
         <p style=\"margin:0 0 8px;font-size:12px;color:{colour};text-transform:uppercase;font-weight:bold\">{event}</p>\
         <h2 style=\"margin:0 0 12px;font-size:18px\">{}</h2><p style=\"margin:0;font-size:14px\">{}</p>\
         <p style=\"margin:16px 0 0;font-size:11px;color:#777\">Sent by assetlog.</p></body></html>",
        escape(title),
        escape(text)
    );
    (subject, format!("{title}\n\n{text}\n"), html)
}

/// Sends one message to a channel once; what the attempt gave.
pub async fn send(
    client: &reqwest::Client,
    mailer: Option<&Mailer>,
    channel: &Channel,
    message: &Value,
    alert_id: Option<i64>,
    delivery_id: i64,
) -> Attempt {
    let at = now_ms();
    let failed = |status: Option<i64>, error: String| Attempt {
        at,
        ok: false,
        status,
        error: Some(error),
    };
    let Some(url) = &channel.url else {
        return match mailer {
            None => failed(
                None,
                "email needs the server started with --smtp-url".into(),
            ),
            Some(mailer) => {
                let (subject, text, html) = email(message);
                match mailer
                    .send(&channel.to, &subject, text, html, Vec::new())
                    .await
                {
                    Ok(()) => Attempt {
                        at,
                        ok: true,
                        status: None,
                        error: None,
                    },
                    Err(e) => failed(None, e),
                }
            }
        };
    };
    let body = render(channel.kind, message, alert_id, delivery_id).to_string();
    let mut request = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json");
    if let Some(secret) = &channel.secret {
        let timestamp = at / 1000;
        request = request
            .header("X-Assetlog-Timestamp", timestamp.to_string())
            .header("X-Assetlog-Delivery", delivery_id.to_string())
            .header(
                "X-Assetlog-Signature",
                signature(secret, timestamp, body.as_bytes()),
            );
    }
    match request.body(body).send().await {
        Ok(response) if response.status().is_success() => Attempt {
            at,
            ok: true,
            status: Some(i64::from(response.status().as_u16())),
            error: None,
        },
        Ok(response) => {
            let status = response.status();
            failed(
                Some(i64::from(status.as_u16())),
                if status.is_redirection() {
                    format!("the receiver answered {status}: redirects are not followed")
                } else {
                    format!("the receiver answered {status}")
                },
            )
        }
        Err(e) => failed(None, describe(&e)),
    }
}

/// Sends a report's email (made when its period ended) once.
async fn send_report(mailer: Option<&Mailer>, message: &str) -> Attempt {
    let at = now_ms();
    let failed = |error: String| Attempt {
        at,
        ok: false,
        status: None,
        error: Some(error),
    };
    let Some(mailer) = mailer else {
        return failed("reports need the server started with --smtp-url".into());
    };
    let email: Email = match serde_json::from_str(message) {
        Ok(email) => email,
        Err(e) => return failed(format!("the stored report cannot be read: {e}")),
    };
    let attachments = email
        .attachments
        .into_iter()
        .map(|a| Attached {
            filename: a.filename,
            content_type: "text/csv; charset=utf-8",
            body: a.content.into_bytes(),
        })
        .collect();
    match mailer
        .send(
            &email.to,
            &email.subject,
            email.text,
            email.html,
            attachments,
        )
        .await
    {
        Ok(()) => Attempt {
            at,
            ok: true,
            status: None,
            error: None,
        },
        Err(e) => failed(e),
    }
}

/// A transport error with its causes (the resolver's refusal is inside).
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Sends what the outbox holds, while this server leads, until shutdown.
pub async fn run(state: AppState) {
    let client = state.alerts.client.clone();
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut shutdown = state.shutdown.clone();
    let mut leads = state.leads.clone();
    loop {
        if *leads.borrow_and_update() {
            let now = now_ms();
            match state.store.due_deliveries(now, now + LEASE_MS, BATCH).await {
                Ok(due) => {
                    let full = due.len() as i64 == BATCH;
                    for delivery in due {
                        let Ok(slot) = slots.clone().acquire_owned().await else {
                            return;
                        };
                        let (state, client) = (state.clone(), client.clone());
                        tokio::spawn(async move {
                            deliver(&state, &client, delivery).await;
                            drop(slot);
                        });
                    }
                    if full {
                        continue;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot read the alert outbox"),
            }
        }
        tokio::select! {
            _ = state.alerts.outbox.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = super::lead_changed(&mut leads) => {}
            _ = crate::stopped(&mut shutdown) => return,
        }
    }
}

async fn deliver(state: &AppState, client: &reqwest::Client, delivery: Delivery) {
    if delivery.report_run_id.is_some() {
        let attempt = send_report(state.alerts.mailer.as_ref(), &delivery.message).await;
        return finish(state, &delivery, attempt).await;
    }
    let channel = match super::channels(&state.store, delivery.tenant_id).await {
        Ok(channels) => channels.into_iter().find(|c| c.id == delivery.channel_id),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read an alert channel; the delivery waits for its lease");
            return;
        }
    };
    let Some(channel) = channel else {
        let attempt = Attempt {
            at: now_ms(),
            ok: false,
            status: None,
            error: Some("the channel was deleted".into()),
        };
        return record(state, &delivery, attempt, AfterAttempt::GiveUp).await;
    };
    let message: Value = serde_json::from_str(&delivery.message).unwrap_or(Value::Null);
    let attempt = send(
        client,
        state.alerts.mailer.as_ref(),
        &channel,
        &message,
        delivery.alert_id,
        delivery.id,
    )
    .await;
    finish(state, &delivery, attempt).await;
}

/// Records a sent or failed attempt: a failure is tried again later, with backoff.
async fn finish(state: &AppState, delivery: &Delivery, attempt: Attempt) {
    let after = if attempt.ok {
        AfterAttempt::Sent
    } else {
        after_failure(
            delivery.attempts + 1,
            delivery.created_at,
            attempt.at,
            state.alerts.first_retry_ms,
        )
    };
    record(state, delivery, attempt, after).await;
}

async fn record(state: &AppState, delivery: &Delivery, attempt: Attempt, after: AfterAttempt) {
    if !attempt.ok {
        tracing::info!(
            delivery = delivery.id,
            channel = delivery.channel_id,
            error = attempt.error.as_deref().unwrap_or_default(),
            ?after,
            "an alert delivery failed"
        );
    }
    state.metrics.alert_attempts.inc();
    if let Err(e) = state
        .store
        .finish_attempt(delivery.tenant_id, delivery.id, attempt, after)
        .await
    {
        tracing::warn!(error = %e, delivery = delivery.id, "cannot record an alert delivery attempt");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_and_end_after_a_day() {
        let first = 5_000;
        assert_eq!(
            after_failure(1, 0, 1_000, first),
            AfterAttempt::Retry(6_000)
        );
        assert_eq!(
            after_failure(2, 0, 1_000, first),
            AfterAttempt::Retry(11_000)
        );
        assert_eq!(
            after_failure(30, 0, 1_000, first),
            AfterAttempt::Retry(1_000 + MAX_BACKOFF_MS)
        );
        assert_eq!(
            after_failure(3, 0, GIVE_UP_AFTER_MS, first),
            AfterAttempt::GiveUp
        );
        // Retried for at least an hour.
        let mut now = 0;
        let mut attempts = 0;
        while let AfterAttempt::Retry(next) = after_failure(attempts + 1, 0, now, first) {
            now = next;
            attempts += 1;
            if now > 3_600_000 {
                break;
            }
        }
        assert!(
            now > 3_600_000,
            "gave up after {attempts} attempts at {now}"
        );
    }

    #[test]
    fn the_signature_is_an_hmac_of_timestamp_and_body() {
        // Computed independently: python3 -c "import hmac, hashlib;
        // print(hmac.new(b'key', b'1700000000.{}', hashlib.sha256).hexdigest())"
        assert_eq!(
            signature("key", 1_700_000_000, b"{}"),
            "sha256=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
        );
        assert_ne!(
            signature("key", 1_700_000_001, b"{}"),
            signature("key", 1_700_000_000, b"{}")
        );
    }

    #[test]
    fn slack_gets_its_text_and_teams_a_card() {
        let message = json!({"title": "Long stop", "text": "Press 3 stopped"});
        assert_eq!(
            render(ChannelKind::Slack, &message, Some(1), 2),
            json!({"text": "Press 3 stopped"})
        );
        let teams = render(ChannelKind::Teams, &message, Some(1), 2);
        assert_eq!(
            teams["attachments"][0]["content"]["body"][1]["text"],
            "Press 3 stopped"
        );
        let hook = render(ChannelKind::Webhook, &message, Some(1), 2);
        assert_eq!(
            (hook["alert_id"].clone(), hook["delivery_id"].clone()),
            (json!(1), json!(2))
        );
    }
}
