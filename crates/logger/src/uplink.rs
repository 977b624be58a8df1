//! The uploader: `assetlog-core`'s [`Uplink`] decides what to send (register, heartbeat, the
//! oldest logged changes) and when to back off; this does the HTTP (reqwless over any
//! `embedded-nal-async` network: embassy-net on the chip, tokio in the host tests) and the
//! bookkeeping around it: the device key and claim code go to flash as soon as the server issues
//! them, and changes leave the flash log only when acknowledged. What it shows and where it
//! waits for the network is the board's, through [`Station`].

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
use core::net::{IpAddr, SocketAddr};
use embassy_futures::select::select;
use embassy_sync::blocking_mutex::raw::RawMutex;
use embassy_sync::mutex::Mutex;
use embassy_time::{Duration, Instant, Timer, with_timeout};
use embedded_nal_async::AddrType;
use embedded_nal_async::{Dns, TcpConnect};
use embedded_tls::{Aes128GcmSha256, TlsConfig, TlsConnection, TlsContext};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use reqwless::client::HttpConnection;
use reqwless::headers::ContentType;
use reqwless::request::{Request as HttpRequest, RequestBuilder};
use serde::{Deserialize, Serialize};

use crate::store::{Flash, Store};
use crate::tls::{Provider, ServerCheck, Verifier};

/// Milliseconds since boot: the uplink's clock.
pub fn uptime_ms() -> u64 {
    Instant::now().as_millis()
}

/// The store as the recorder and the uploader share it.
pub type Shared<M, F> = Mutex<M, Store<F>>;

/// What the uploader needs from the board: what to show, and what to wait for. The uploader runs
/// on one executor thread (the chip's, or a test's), so its futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait Station {
    /// A problem worth showing (flash, server); also logged.
    fn error(&self, message: String);
    /// The link's state after each request.
    fn link(&self, link: Link, failures: u32);
    /// The claim code to show (`None`: claimed, show none).
    fn claim_code(&self, code: Option<String>);
    /// Whether a claim code is shown.
    fn shows_claim_code(&self) -> bool;
    /// Changes still waiting in the flash log.
    fn queued(&self, queued: usize);
    /// The wall clock as far as it is known.
    fn time(&self) -> TimeBase;
    /// For the heartbeat.
    fn rssi(&self) -> Option<i32>;
    fn free_heap(&self) -> Option<u64>;
    /// For the registration.
    fn ip_address(&self) -> Option<String>;
    /// Resolves once the network is up (at once when it is).
    async fn network_up(&self);
    /// Resolves when a change was recorded since the last call.
    async fn recorded(&self);
    /// Resolves when the wall clock was set since the last call.
    async fn clock_set(&self);
}

/// Who the logger is to the server.
#[derive(Debug, Clone)]
pub struct Logger {
    pub logger_id: String,
    /// `http://host[:port]` or `https://host[:port]`.
    pub server_url: String,
    pub firmware_version: String,
    /// Its inputs, sent at registration for the pins the server does not know yet.
    pub assets: Vec<AssetName>,
    /// Most events one upload carries.
    pub max_batch: usize,
    /// A request that has not finished after this long is given up (and retried later).
    pub request_timeout_ms: u64,
    /// Seeds the backoff's jitter.
    pub seed: u64,
    /// With an `https://` server: how it is checked (required: a logger has no system roots).
    pub server_check: Option<ServerCheck>,
    /// Seeds the TLS handshakes' random numbers: from the chip's hardware random source.
    pub tls_seed: [u8; 32],
}

/// A request that got no usable answer.
#[derive(Debug)]
enum CallError {
    /// Not sent, or no answer in time.
    Network(String),
    /// The server's certificate was refused, or the TLS handshake failed: why.
    Tls(String),
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
            Self::Status(_) | Self::Network(_) | Self::Tls(_) | Self::Answer => Outcome::Failed,
        }
    }
}

impl core::fmt::Display for CallError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Network(m) | Self::Tls(m) => write!(f, "{m}"),
            Self::Status(code) => write!(f, "the server answered {code}"),
            Self::Answer => write!(f, "the server's answer is not what the protocol says"),
        }
    }
}

/// The parts of `http(s)://host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl {
    pub https: bool,
    pub host: String,
    pub port: u16,
    /// A path the server is under (a proxy's `/assetlog`), without a trailing `/`; or empty.
    pub base_path: String,
}

impl ServerUrl {
    /// `http://host[:port][/path]` or `https://…` (a bracketed IPv6 host allowed), as the setup
    /// form takes it: the logger's requests go to the path's `/api/v1/…`.
    pub fn parse(url: &str) -> Option<Self> {
        let (https, rest) = match url.strip_prefix("https://") {
            Some(rest) => (true, rest),
            None => (false, url.strip_prefix("http://")?),
        };
        let (rest, base_path) = match rest.find('/') {
            Some(at) => (&rest[..at], rest[at..].trim_end_matches('/')),
            None => (rest, ""),
        };
        let default_port = if https { 443 } else { 80 };
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (host, after) = v6.split_once(']')?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().ok()?,
                None if after.is_empty() => default_port,
                None => return None,
            };
            (host, port)
        } else {
            match rest.rsplit_once(':') {
                Some((host, p)) => (host, p.parse().ok()?),
                None => (rest, default_port),
            }
        };
        if host.is_empty() || port == 0 || host.contains(['/', '@', '?', '#', ' ']) {
            return None;
        }
        if base_path.contains(['?', '#', ' ']) {
            return None;
        }
        Some(Self {
            https,
            host: String::from(host),
            port,
            base_path: String::from(base_path),
        })
    }
}

/// What HTTPS needs across requests: the check, the random source, the record buffers.
struct Tls {
    check: ServerCheck,
    rng: ChaCha20Rng,
    read: Vec<u8>,
    write: Vec<u8>,
}

/// A TLS record can be 16 KiB and its encryption's overhead 256 bytes: the read buffer holds
/// one. What the logger writes is small (a batch is at most a few KiB, split into records).
const TLS_READ_BUFFER: usize = 16_640;
const TLS_WRITE_BUFFER: usize = 4_096;

/// One logger's conversation with the server.
struct Session<'a, T: TcpConnect + 'a, D: Dns + 'a> {
    tcp: &'a T,
    dns: &'a D,
    server: ServerUrl,
    logger_id: &'a str,
    device_key: Option<String>,
    response: Vec<u8>,
    timeout: Duration,
    tls: Option<Tls>,
    /// The wall clock (epoch seconds) when known, for a certificate's dates.
    now_s: Option<u64>,
}

impl<'a, T: TcpConnect + 'a, D: Dns + 'a> Session<'a, T, D> {
    async fn post<B: Serialize, A: for<'de> Deserialize<'de>>(
        &mut self,
        path: &str,
        body: &B,
    ) -> Result<A, CallError> {
        let body = serde_json::to_vec(body).map_err(|_| CallError::Answer)?;
        let authorization = self.device_key.as_ref().map(|k| format!("Bearer {k}"));
        let with_key;
        let headers: &[(&str, &str)] = match &authorization {
            Some(value) => {
                with_key = [("Authorization", value.as_str())];
                &with_key
            }
            None => &[],
        };
        let host = self.server.host.as_str();
        let path = format!("{}{path}", self.server.base_path);
        let url = format!(
            "{}://{host}:{}{path}",
            if self.server.https { "https" } else { "http" },
            self.server.port
        );
        let call = async {
            let literal: Option<IpAddr> = host.parse().ok();
            let ip = match literal {
                Some(ip) => ip,
                None => self
                    .dns
                    .get_host_by_name(host, AddrType::Either)
                    .await
                    .map_err(|e| CallError::Network(format!("cannot resolve {host}: {e:?}")))?,
            };
            let conn = self
                .tcp
                .connect(SocketAddr::new(ip, self.server.port))
                .await
                .map_err(|e| CallError::Network(format!("cannot reach {url}: {e:?}")))?;
            let request = HttpRequest::post(&path)
                .host(host)
                .content_type(ContentType::ApplicationJson)
                .headers(headers)
                .body(body.as_slice())
                .build();
            let Some(Tls {
                check,
                rng,
                read,
                write,
            }) = &mut self.tls
            else {
                return exchange(conn, request, &mut self.response, &url).await;
            };
            let mut verifier = Verifier::new(check, host, self.now_s);
            let mut config = TlsConfig::new();
            if literal.is_none() {
                // SNI names a host, never an address (RFC 6066).
                config = config.with_server_name(host);
            }
            let mut tls = TlsConnection::<_, Aes128GcmSha256>::new(conn, read, write);
            let opened = tls
                .open(TlsContext::new(
                    &config,
                    Provider {
                        rng,
                        verifier: &mut verifier,
                    },
                ))
                .await;
            if let Err(e) = opened {
                return Err(CallError::Tls(match verifier.refusal {
                    Some(refusal) => format!("{url}: {refusal}"),
                    None => format!("{url}: the TLS handshake failed ({e:?})"),
                }));
            }
            exchange(tls, request, &mut self.response, &url).await
        };
        with_timeout(self.timeout, call)
            .await
            .map_err(|_| CallError::Network(format!("{url}: no answer in time")))?
    }
}

/// Sends `request` on `conn` and reads the answer into `rx`.
async fn exchange<C, A>(
    conn: C,
    request: HttpRequest<'_, &[u8]>,
    rx: &mut [u8],
    url: &str,
) -> Result<A, CallError>
where
    C: embedded_io_async::Read + embedded_io_async::Write,
    A: for<'de> Deserialize<'de>,
{
    let mut http = HttpConnection::Plain(conn);
    let response = http
        .send(request, rx)
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
}

/// Talks to the server at `logger.server_url` for as long as the logger runs: over `tcp` and
/// `dns`, from `store`, showing its state on `station`.
pub async fn run<T, D, M, F, S>(
    tcp: &T,
    dns: &D,
    store: &Shared<M, F>,
    station: &S,
    logger: &Logger,
    mut earlier_boots: EarlierBoots,
) where
    T: TcpConnect,
    D: Dns,
    M: RawMutex,
    F: Flash,
    S: Station,
{
    let device_key = match store.lock().await.device_key().await {
        Ok(key) => key,
        Err(e) => {
            station.error(format!("cannot read the device key: {e}"));
            None
        }
    };
    let Some(server) = ServerUrl::parse(&logger.server_url) else {
        station.error(format!(
            "the server URL {:?} is not http(s)://HOST[:PORT]",
            logger.server_url
        ));
        return;
    };
    let tls = match (server.https, &logger.server_check) {
        (false, _) => None,
        (true, Some(check)) => Some(Tls {
            check: check.clone(),
            rng: ChaCha20Rng::from_seed(logger.tls_seed),
            read: alloc::vec![0; TLS_READ_BUFFER],
            write: alloc::vec![0; TLS_WRITE_BUFFER],
        }),
        (true, None) => {
            station.error(String::from(
                "an https:// server needs its CA certificate or its certificate's SHA-256 in the setup portal",
            ));
            return;
        }
    };
    let mut session = Session {
        tcp,
        dns,
        server,
        logger_id: &logger.logger_id,
        device_key,
        response: alloc::vec![0; 2048],
        timeout: Duration::from_millis(logger.request_timeout_ms),
        tls,
        now_s: None,
    };
    let settings = Settings {
        max_batch: logger.max_batch,
        ..Settings::default()
    };
    let mut uplink = Uplink::with_settings(settings, logger.seed);

    loop {
        station.network_up().await;
        let queued = store.lock().await.depth();
        let request = match uplink.next(uptime_ms(), queued) {
            Action::Wait { until_ms } => {
                let until = Instant::from_millis(until_ms);
                select(Timer::at(until), station.recorded()).await;
                continue;
            }
            Action::Send(request) => request,
        };
        session.now_s = station
            .time()
            .wall_at(uptime_ms())
            .and_then(|ms| u64::try_from(ms / 1000).ok());
        let outcome = match request {
            Request::Register => register(&mut session, store, station, logger).await,
            Request::Heartbeat => heartbeat(&mut session, store, station, logger).await,
            Request::Ingest => {
                match ingest(
                    &mut session,
                    store,
                    station,
                    &mut earlier_boots,
                    uplink.batch_limit(),
                )
                .await
                {
                    IngestResult::Done(outcome) => outcome,
                    IngestResult::WaitForClock => {
                        // The oldest change is of an earlier boot that never learned the time:
                        // it can be placed once SNTP has answered.
                        select(station.clock_set(), Timer::after(Duration::from_secs(60))).await;
                        continue;
                    }
                }
            }
        };
        uplink.done(request, outcome, uptime_ms());
        station.link(uplink.link(), uplink.failures());
    }
}

async fn register<T: TcpConnect, D: Dns, M: RawMutex, F: Flash, S: Station>(
    session: &mut Session<'_, T, D>,
    store: &Shared<M, F>,
    station: &S,
    logger: &Logger,
) -> Outcome {
    let request = RegisterRequest {
        logger_id: String::from(session.logger_id),
        logger_name: None,
        firmware_version: logger.firmware_version.clone(),
        ip_address: station.ip_address(),
        assets: logger.assets.clone(),
    };
    let answer: RegisterAnswer = match session.post("/api/v1/device/register", &request).await {
        Ok(answer) => answer,
        Err(e) => return failed(station, "registration", e),
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
                station.error(format!("cannot save the device key: {e}"));
            }
            session.device_key = Some(key.clone());
            log::info!("registered; device key stored");
        }
        if let Err(e) = store.save_claim_code(claim_code.as_deref()).await {
            station.error(format!("cannot save the claim code: {e}"));
        }
    }
    station.claim_code(claim_code);
    learn_watermark(session, store, station).await;
    outcome
}

/// Asks how far the server holds this logger's seqs (an empty batch) and numbers new changes
/// after that: a logger whose flash was erased must not reuse seqs the server already has.
async fn learn_watermark<T: TcpConnect, D: Dns, M: RawMutex, F: Flash, S: Station>(
    session: &mut Session<'_, T, D>,
    store: &Shared<M, F>,
    station: &S,
) {
    let request = IngestRequest {
        logger_id: String::from(session.logger_id),
        events: Vec::new(),
    };
    if let Ok(ack) = session
        .post::<_, IngestAck>("/api/v1/ingest", &request)
        .await
        && let Err(e) = store.lock().await.number_after(ack.acked_seq).await
    {
        station.error(format!("cannot save the seq watermark: {e}"));
    }
}

async fn heartbeat<T: TcpConnect, D: Dns, M: RawMutex, F: Flash, S: Station>(
    session: &mut Session<'_, T, D>,
    store: &Shared<M, F>,
    station: &S,
    logger: &Logger,
) -> Outcome {
    let (queued, dropped) = {
        let store = store.lock().await;
        (store.depth(), store.dropped())
    };
    let request = HeartbeatRequest {
        logger_id: String::from(session.logger_id),
        uptime_s: uptime_ms() / 1000,
        rssi: station.rssi(),
        free_heap: station.free_heap(),
        queued_events: queued as u64,
        dropped_events: dropped,
        firmware_version: logger.firmware_version.clone(),
    };
    match session
        .post::<_, HeartbeatAnswer>("/api/v1/device/heartbeat", &request)
        .await
    {
        Ok(answer) => {
            let claimed = answer.is_claimed();
            if claimed && station.shows_claim_code() {
                station.claim_code(None);
                if let Err(e) = store.lock().await.save_claim_code(None).await {
                    station.error(format!("cannot clear the claim code: {e}"));
                }
                log::info!("claimed by a tenant");
            }
            Outcome::alive(&answer)
        }
        Err(e) => failed(station, "heartbeat", e),
    }
}

enum IngestResult {
    Done(Outcome),
    WaitForClock,
}

async fn ingest<T: TcpConnect, D: Dns, M: RawMutex, F: Flash, S: Station>(
    session: &mut Session<'_, T, D>,
    store: &Shared<M, F>,
    station: &S,
    earlier_boots: &mut EarlierBoots,
    max_events: usize,
) -> IngestResult {
    let changes = match store.lock().await.oldest(max_events).await {
        Ok(changes) => changes,
        Err(e) => {
            station.error(format!("cannot read the flash log: {e}"));
            return IngestResult::Done(Outcome::Failed);
        }
    };
    let time = station.time();
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
                    station.queued(queued);
                    IngestResult::Done(Outcome::Acked)
                }
                Err(e) => {
                    station.error(format!("cannot release acknowledged events: {e}"));
                    IngestResult::Done(Outcome::Failed)
                }
            }
        }
        Err(e) => IngestResult::Done(failed(station, "upload", e)),
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

fn failed(station: &impl Station, what: &str, e: CallError) -> Outcome {
    let outcome = e.outcome();
    let message = match outcome {
        Outcome::Unauthorized => format!(
            "{what}: the server refuses this logger's key (rotated or revoked); an admin can delete the logger so it registers anew"
        ),
        _ => format!("{what}: {e}"),
    };
    station.error(message);
    outcome
}

/// Whether the server has accepted this logger in this boot.
pub fn is_up(link: Link, failures: u32) -> bool {
    matches!(link, Link::Pending | Link::Claimed) && failures == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(https: bool, host: &str, port: u16, base_path: &str) -> Option<ServerUrl> {
        Some(ServerUrl {
            https,
            host: host.into(),
            port,
            base_path: base_path.into(),
        })
    }

    #[test]
    fn server_urls_are_read_as_the_setup_form_takes_them() {
        assert_eq!(
            ServerUrl::parse("http://10.0.0.5:8080"),
            url(false, "10.0.0.5", 8080, "")
        );
        assert_eq!(
            ServerUrl::parse("https://plant.example/"),
            url(true, "plant.example", 443, "")
        );
        assert_eq!(ServerUrl::parse("http://h"), url(false, "h", 80, ""));
        assert_eq!(
            ServerUrl::parse("https://[::1]:8443"),
            url(true, "::1", 8443, "")
        );
        // Behind a proxy under a path: the requests go below it.
        assert_eq!(
            ServerUrl::parse("https://plant.example/assetlog/"),
            url(true, "plant.example", 443, "/assetlog")
        );
        for bad in [
            "ftp://h",
            "http://",
            "http://:80",
            "http://h:0",
            "http://h:x",
            "http://u@h",
            "http://h/a?b",
            "https://[::1",
        ] {
            assert_eq!(ServerUrl::parse(bad), None, "{bad}");
        }
    }
}
