//! The uploader: `assetlog-core`'s [`Uplink`] decides what to send (register, heartbeat, the
//! oldest logged changes) and when to back off; this task does the HTTP (reqwless over
//! embassy-net) and the bookkeeping around it: the device key and claim code go to flash as
//! soon as the server issues them, and changes leave the flash log only when acknowledged.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use assetlog_core::record::LoggedChange;
use assetlog_core::timebase::{EarlierBoots, TimeBase, WireTime};
use assetlog_core::uplink::{Action, Link, Outcome, Request, Settings, Uplink};
use assetlog_core::wire::{
    AssetName, HeartbeatAnswer, HeartbeatRequest, IngestAck, IngestRequest, RegisterAnswer,
    RegisterRequest, WireEvent,
};
use embassy_futures::select::select;
use embassy_net::Stack;
use embassy_net::dns::DnsSocket;
use embassy_net::tcp::client::{TcpClient, TcpClientState};
use embassy_time::{Duration, Instant, Timer, with_timeout};
use reqwless::client::HttpClient;
use reqwless::headers::ContentType;
use reqwless::request::{Method, RequestBuilder};
use serde::{Deserialize, Serialize};

use crate::config::{FIRMWARE_VERSION, INPUTS, MAX_UPLOAD_EVENTS, REQUEST_TIMEOUT_MS};
use crate::inputs::uptime_ms;
use crate::status;
use crate::{CLOCK_SET, SharedStore, UPLOAD_WAKE};

/// A request that got no usable answer.
#[derive(Debug)]
enum CallError {
    /// Not sent, or no answer in time.
    Network(String),
    /// The server answered with this status.
    Status(u16),
    /// A 200 whose body is not what the protocol says.
    Answer,
}

impl CallError {
    fn outcome(&self) -> Outcome {
        match self {
            Self::Status(401) => Outcome::Unauthorized,
            // Fewer events at a time: the uplink halves its batch limit.
            Self::Status(413) => Outcome::TooLarge,
            Self::Status(429) => Outcome::Failed,
            Self::Status(code) if (400..500).contains(code) => Outcome::Refused,
            Self::Status(_) | Self::Network(_) | Self::Answer => Outcome::Failed,
        }
    }
}

impl core::fmt::Display for CallError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Network(m) => write!(f, "{m}"),
            Self::Status(code) => write!(f, "the server answered {code}"),
            Self::Answer => write!(f, "the server's answer is not what the protocol says"),
        }
    }
}

/// One logger's conversation with the server.
struct Session<'a> {
    http: HttpClient<'a, TcpClient<'a, 1, 2048, 2048>, DnsSocket<'a>>,
    server_url: &'a str,
    logger_id: &'a str,
    device_key: Option<String>,
    response: Vec<u8>,
}

impl Session<'_> {
    async fn post<B: Serialize, A: for<'de> Deserialize<'de>>(
        &mut self,
        path: &str,
        body: &B,
    ) -> Result<A, CallError> {
        let body = serde_json::to_vec(body).map_err(|_| CallError::Answer)?;
        let url = format!("{}{path}", self.server_url);
        let authorization = self.device_key.as_ref().map(|k| format!("Bearer {k}"));
        let with_key;
        let headers: &[(&str, &str)] = match &authorization {
            Some(value) => {
                with_key = [("Authorization", value.as_str())];
                &with_key
            }
            None => &[],
        };
        let call = async {
            let mut request = self
                .http
                .request(Method::POST, &url)
                .await
                .map_err(|e| CallError::Network(format!("cannot reach {url}: {e:?}")))?
                .content_type(ContentType::ApplicationJson)
                .headers(headers)
                .body(body.as_slice());
            let response = request
                .send(&mut self.response)
                .await
                .map_err(|e| CallError::Network(format!("{url}: {e:?}")))?;
            let code = response.status.0;
            let body = response
                .body()
                .read_to_end()
                .await
                .map_err(|e| CallError::Network(format!("{url}: {e:?}")))?;
            if code != 200 {
                return Err(CallError::Status(code));
            }
            serde_json::from_slice::<A>(body).map_err(|_| CallError::Answer)
        };
        with_timeout(Duration::from_millis(REQUEST_TIMEOUT_MS), call)
            .await
            .map_err(|_| CallError::Network(format!("{url}: no answer in time")))?
    }
}

#[embassy_executor::task]
pub async fn upload(
    stack: Stack<'static>,
    store: &'static SharedStore,
    server_url: String,
    logger_id: String,
    mut earlier_boots: EarlierBoots,
    seed: u64,
) {
    if server_url.starts_with("https://") {
        status::error(String::from(
            "this image speaks plain HTTP only: set an http:// server URL in the setup portal",
        ));
        return;
    }
    let state = TcpClientState::<1, 2048, 2048>::new();
    let tcp = TcpClient::new(stack, &state);
    let dns = DnsSocket::new(stack);
    let device_key = match store.lock().await.device_key().await {
        Ok(key) => key,
        Err(e) => {
            status::error(format!("cannot read the device key: {e}"));
            None
        }
    };
    let mut session = Session {
        http: HttpClient::new(&tcp, &dns),
        server_url: &server_url,
        logger_id: &logger_id,
        device_key,
        response: alloc::vec![0; 2048],
    };
    let settings = Settings {
        max_batch: MAX_UPLOAD_EVENTS,
        ..Settings::default()
    };
    let mut uplink = Uplink::with_settings(settings, seed);

    loop {
        stack.wait_config_up().await;
        let queued = store.lock().await.depth();
        let request = match uplink.next(uptime_ms(), queued) {
            Action::Wait { until_ms } => {
                let until = Instant::from_millis(until_ms);
                select(Timer::at(until), UPLOAD_WAKE.wait()).await;
                continue;
            }
            Action::Send(request) => request,
        };
        let outcome = match request {
            Request::Register => register(&mut session, store, stack).await,
            Request::Heartbeat => heartbeat(&mut session, store).await,
            Request::Ingest => {
                match ingest(
                    &mut session,
                    store,
                    &mut earlier_boots,
                    uplink.batch_limit(),
                )
                .await
                {
                    IngestResult::Done(outcome) => outcome,
                    IngestResult::WaitForClock => {
                        // The oldest change is of an earlier boot that never learned the time:
                        // it can be placed once SNTP has answered.
                        select(CLOCK_SET.wait(), Timer::after(Duration::from_secs(60))).await;
                        continue;
                    }
                }
            }
        };
        uplink.done(request, outcome, uptime_ms());
        let (link, failures) = (uplink.link(), uplink.failures());
        status::with(|s| {
            s.link = link;
            s.failures = failures;
        });
    }
}

async fn register(
    session: &mut Session<'_>,
    store: &SharedStore,
    stack: Stack<'static>,
) -> Outcome {
    let ip_address = stack.config_v4().map(|c| {
        let [a, b, c, d] = c.address.address().octets();
        format!("{a}.{b}.{c}.{d}")
    });
    let request = RegisterRequest {
        logger_id: String::from(session.logger_id),
        logger_name: None,
        firmware_version: String::from(FIRMWARE_VERSION),
        ip_address,
        assets: INPUTS
            .iter()
            .map(|i| AssetName {
                pin_number: i.gpio,
                asset_name: String::from(i.name),
            })
            .collect(),
    };
    let answer: RegisterAnswer = match session.post("/api/v1/device/register", &request).await {
        Ok(answer) => answer,
        Err(e) => return failed("registration", e),
    };
    let outcome = Outcome::registered(&answer);
    let claimed = answer.is_claimed();
    let claim_code = if claimed { None } else { answer.claim_code };
    {
        let mut store = store.lock().await;
        if let Some(key) = &answer.device_key {
            // Without the key in flash a restart would be locked out: keep trying to save it,
            // and use it from memory meanwhile.
            if let Err(e) = store.save_device_key(key).await {
                status::error(format!("cannot save the device key: {e}"));
            }
            session.device_key = Some(key.clone());
            log::info!("registered; device key stored");
        }
        if let Err(e) = store.save_claim_code(claim_code.as_deref()).await {
            status::error(format!("cannot save the claim code: {e}"));
        }
    }
    status::with(|s| s.claim_code = claim_code);
    learn_watermark(session, store).await;
    outcome
}

/// Asks how far the server holds this logger's seqs (an empty batch) and numbers new changes
/// after that: a logger whose flash was erased must not reuse seqs the server already has.
async fn learn_watermark(session: &mut Session<'_>, store: &SharedStore) {
    let request = IngestRequest {
        logger_id: String::from(session.logger_id),
        events: Vec::new(),
    };
    if let Ok(ack) = session
        .post::<_, IngestAck>("/api/v1/ingest", &request)
        .await
        && let Err(e) = store.lock().await.number_after(ack.acked_seq).await
    {
        status::error(format!("cannot save the seq watermark: {e}"));
    }
}

async fn heartbeat(session: &mut Session<'_>, store: &SharedStore) -> Outcome {
    let (queued, dropped) = {
        let store = store.lock().await;
        (store.depth(), store.dropped())
    };
    let request = HeartbeatRequest {
        logger_id: String::from(session.logger_id),
        uptime_s: uptime_ms() / 1000,
        rssi: status::with(|s| s.rssi),
        free_heap: Some(esp_alloc::HEAP.free() as u64),
        queued_events: queued as u64,
        dropped_events: dropped,
        firmware_version: String::from(FIRMWARE_VERSION),
    };
    match session
        .post::<_, HeartbeatAnswer>("/api/v1/device/heartbeat", &request)
        .await
    {
        Ok(answer) => {
            let claimed = answer.is_claimed();
            if claimed && status::with(|s| s.claim_code.take()).is_some() {
                if let Err(e) = store.lock().await.save_claim_code(None).await {
                    status::error(format!("cannot clear the claim code: {e}"));
                }
                log::info!("claimed by a tenant");
            }
            Outcome::alive(&answer)
        }
        Err(e) => failed("heartbeat", e),
    }
}

enum IngestResult {
    Done(Outcome),
    WaitForClock,
}

async fn ingest(
    session: &mut Session<'_>,
    store: &SharedStore,
    earlier_boots: &mut EarlierBoots,
    max_events: usize,
) -> IngestResult {
    let changes = match store.lock().await.oldest(max_events).await {
        Ok(changes) => changes,
        Err(e) => {
            status::error(format!("cannot read the flash log: {e}"));
            return IngestResult::Done(Outcome::Failed);
        }
    };
    let time = status::with(|s| s.time);
    let events = wire_events(&changes, &time, earlier_boots, uptime_ms());
    let Some(last) = events.last().map(|e| e.seq) else {
        return IngestResult::WaitForClock;
    };
    let request = IngestRequest {
        logger_id: String::from(session.logger_id),
        events,
    };
    match session
        .post::<_, IngestAck>("/api/v1/ingest", &request)
        .await
    {
        Ok(ack) => {
            // A 200 means the whole batch is durably stored. Release by the batch's last seq as
            // well as by the watermark: after the log dropped events the watermark stops at
            // that gap for good.
            let upto = ack.acked_seq.max(last);
            let mut store = store.lock().await;
            match store.release(upto).await {
                Ok(_) => {
                    let queued = store.depth();
                    status::with(|s| s.queued = queued);
                    IngestResult::Done(Outcome::Acked)
                }
                Err(e) => {
                    status::error(format!("cannot release acknowledged events: {e}"));
                    IngestResult::Done(Outcome::Failed)
                }
            }
        }
        Err(e) => IngestResult::Done(failed("upload", e)),
    }
}

/// The changes as they travel, oldest first, up to the first one that cannot be placed in time
/// yet (a change of an earlier boot, before SNTP has answered in this one).
fn wire_events(
    changes: &[LoggedChange],
    time: &TimeBase,
    earlier_boots: &EarlierBoots,
    uptime_now_ms: u64,
) -> Vec<WireEvent> {
    let mut events = Vec::with_capacity(changes.len());
    for change in changes {
        let wire = match time.wire_time(change.time, uptime_now_ms) {
            Some(wire) => wire,
            None => match earlier_boots.place(change.time, time) {
                Some(ts) => WireTime::Ts(ts),
                None => break,
            },
        };
        let (ts, age_ms) = match wire {
            WireTime::Ts(ts) => (Some(ts), None),
            WireTime::AgeMs(age) => (None, Some(age)),
        };
        events.push(WireEvent {
            seq: change.seq,
            pin: change.pin,
            running: change.running,
            ts,
            age_ms,
        });
    }
    events
}

fn failed(what: &str, e: CallError) -> Outcome {
    let outcome = e.outcome();
    let message = match outcome {
        Outcome::Unauthorized => format!(
            "{what}: the server refuses this logger's key (rotated or revoked); an admin can delete the logger so it registers anew"
        ),
        _ => format!("{what}: {e}"),
    };
    status::error(message);
    outcome
}

/// Whether the server has accepted this logger in this boot.
pub fn is_up(link: Link, failures: u32) -> bool {
    matches!(link, Link::Pending | Link::Claimed) && failures == 0
}
