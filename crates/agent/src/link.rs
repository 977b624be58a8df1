//! A logger's link to the server, one loop for the agent and the simulator alike: ask core's
//! [`Uplink`] what to do, send that request over HTTP ([`Client`]), tell the `Uplink` how it
//! ended, and wait when there is nothing to send.
//!
//! Which request goes when, the heartbeat period (the server's), how long to back off, when to
//! register again and how many events one upload may carry are the `Uplink`'s rules, tested once
//! in `assetlog-core` and shared with the firmware. What a logger keeps (its key, its queue), how
//! it shows the link's state and when it stops are its [`Station`]'s.

use std::future::Future;
use std::ops::RangeInclusive;
use std::time::Duration;

use assetlog_core::StateChange;
use assetlog_core::uplink::{Action, Outcome, Request, Uplink};
use tokio::time::Instant;

use crate::client::{
    CallError, Client, HeartbeatAnswer, HeartbeatRequest, RegisterAnswer, RegisterRequest,
};

/// Whether the link goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

/// How one request ended, for the station to show.
#[derive(Debug)]
pub struct Report<'a> {
    pub request: Request,
    /// What the server (or the way to it) answered instead of a 200; `None` when it answered.
    pub error: Option<&'a CallError>,
    /// The seqs an upload carried.
    pub seqs: Option<RangeInclusive<u64>>,
    /// The uplink, with this request noted: its link state, failures and heartbeat period.
    pub uplink: &'a Uplink,
}

/// The logger's side of the link.
pub trait Station {
    fn logger_id(&self) -> &str;
    /// The key to send; `None` before the first registration.
    fn device_key(&self) -> Option<&str>;
    fn register_request(&self) -> RegisterRequest;
    /// The server answered a registration: keep the key it carries (only when it created the
    /// logger) before anything else, and show the claim code.
    fn registered(&mut self, answer: &RegisterAnswer);
    /// Right after each registration: how far the server holds this logger's seqs (the answer to
    /// an empty upload), or why it could not say. `false` counts the registration as failed, so
    /// the `Uplink` backs off and registers again.
    fn watermark(&mut self, acked: Result<u64, &CallError>) -> impl Future<Output = bool> + Send;
    fn heartbeat_request(&self) -> HeartbeatRequest;
    /// The server answered a heartbeat.
    fn alive(&mut self, answer: &HeartbeatAnswer);
    /// How many events wait to go up; asked before every step (a simulator makes the changes
    /// that are due first).
    fn queued(&mut self) -> usize;
    /// The oldest `max` queued events.
    fn batch(&mut self, max: usize) -> Vec<StateChange>;
    /// The server stored every event up to `upto` (`sent` were in the batch): release them.
    /// `false` (after showing why) counts as a failed upload: the batch goes again later.
    fn release(&mut self, upto: u64, sent: usize) -> impl Future<Output = bool> + Send;
    /// How a request ended; [`Flow::Stop`] ends the link.
    fn report(&mut self, report: Report<'_>) -> Flow;
    /// Nothing to send before `until`: wait for it, or return earlier when there may be
    /// something to send (an event was queued). [`Flow::Stop`] ends the link.
    fn wait(&mut self, until: Instant) -> impl Future<Output = Flow> + Send;
}

/// Drives `station`'s link with `uplink` until the station says stop.
pub async fn run<S: Station>(client: &Client, mut uplink: Uplink, station: &mut S) {
    let origin = Instant::now();
    let now_ms = || u64::try_from(origin.elapsed().as_millis()).unwrap_or(u64::MAX);
    loop {
        let queued = station.queued();
        let request = match uplink.next(now_ms(), queued) {
            Action::Send(request) => request,
            Action::Wait { until_ms } => {
                // Beyond any period or backoff, but an `Instant` must not overflow.
                let until = origin
                    .checked_add(Duration::from_millis(until_ms))
                    .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400));
                if station.wait(until).await == Flow::Stop {
                    return;
                }
                continue;
            }
        };
        let mut seqs = None;
        let (outcome, error) = match request {
            Request::Register => register(client, station).await,
            Request::Heartbeat => heartbeat(client, station).await,
            Request::Ingest => ingest(client, station, uplink.batch_limit(), &mut seqs).await,
        };
        uplink.done(request, outcome, now_ms());
        let report = Report {
            request,
            error: error.as_ref(),
            seqs,
            uplink: &uplink,
        };
        if station.report(report) == Flow::Stop {
            return;
        }
    }
}

impl CallError {
    /// What the `Uplink` makes of this answer.
    pub fn outcome(&self) -> Outcome {
        match self {
            Self::Unauthorized(_) => Outcome::Unauthorized,
            Self::TooLarge => Outcome::TooLarge,
            Self::Refused(..) => Outcome::Refused,
            Self::Unavailable(_) => Outcome::Failed,
        }
    }
}

type Ended = (Outcome, Option<CallError>);

async fn register<S: Station>(client: &Client, station: &mut S) -> Ended {
    let key = station.device_key().map(str::to_owned);
    let answer = match client
        .register(&station.register_request(), key.as_deref())
        .await
    {
        Ok(answer) => answer,
        Err(e) => return (e.outcome(), Some(e)),
    };
    station.registered(&answer);
    // With the key the answer may just have issued.
    let key = station.device_key().map(str::to_owned);
    let watermark = client
        .ingest(station.logger_id(), &[], key.as_deref())
        .await
        .map(|ack| ack.acked_seq);
    if station.watermark(watermark.as_ref().copied()).await {
        (Outcome::registered(&answer), None)
    } else {
        (Outcome::Failed, watermark.err())
    }
}

async fn heartbeat<S: Station>(client: &Client, station: &mut S) -> Ended {
    let key = station.device_key().map(str::to_owned);
    match client
        .heartbeat(&station.heartbeat_request(), key.as_deref())
        .await
    {
        Ok(answer) => {
            station.alive(&answer);
            (Outcome::alive(&answer), None)
        }
        Err(e) => (e.outcome(), Some(e)),
    }
}

async fn ingest<S: Station>(
    client: &Client,
    station: &mut S,
    max: usize,
    seqs: &mut Option<RangeInclusive<u64>>,
) -> Ended {
    let batch = station.batch(max);
    let (Some(first), Some(last)) = (batch.first(), batch.last()) else {
        // Nothing was queued after all: nothing is outstanding either.
        return (Outcome::Acked, None);
    };
    *seqs = Some(first.seq..=last.seq);
    let last = last.seq;
    let key = station.device_key().map(str::to_owned);
    match client
        .ingest(station.logger_id(), &batch, key.as_deref())
        .await
    {
        Ok(ack) => {
            // A 200 means the whole batch is durably stored. Release by the batch's last seq as
            // well as by the watermark: after the queue dropped events the watermark stops at
            // that gap for good.
            let upto = ack.acked_seq.max(last);
            if station.release(upto, batch.len()).await {
                (Outcome::Acked, None)
            } else {
                (Outcome::Failed, None)
            }
        }
        Err(e) => (e.outcome(), Some(e)),
    }
}
