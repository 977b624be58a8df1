//! The accept loop: HTTP/1.1 connections with a cap on how many are open, a timeout for a client
//! that sends nothing between requests and one for a client that sends a request head too
//! slowly, TCP_NODELAY, and a graceful drain at shutdown.
//!
//! `axum::serve` has none of these limits: idle sockets piled up until `accept` failed for lack
//! of file descriptors and the server stopped answering (issue 13).
//!
//! - Idle: hyper's header-read timer, which runs whenever a connection waits for a request head
//!   (a new connection, or a kept-alive one after its last answer), closes a connection that
//!   brings no complete head for [`ConnectionLimits::idle_timeout`].
//! - Slow head: once the first byte of a head has arrived, the rest must follow within
//!   [`ConnectionLimits::header_read_timeout`] (a watcher per connection, below).
//! - Cap: at most [`ConnectionLimits::max_connections`] connections are open, WebSocket clients
//!   included (the permit travels with the socket into the upgrade), so the server never runs out
//!   of file descriptors. At the cap the connection that has waited longest for a request (none
//!   in flight, not a WebSocket) is closed to make room, as nginx reuses kept-alive connections;
//!   when none waits, new clients wait in the kernel's backlog until a slot frees.
//! - Stalled send: a client that takes no byte of an answer for
//!   [`ConnectionLimits::send_timeout`] (its receive window stays full: it stopped reading) is
//!   closed, so a streamed answer cannot hold its query slot, or its buffers, for good. A slow
//!   client that keeps reading is not cut.
//! - TLS: with `--tls-cert`, each connection's handshake runs in its own task and must be done
//!   within [`ConnectionLimits::header_read_timeout`]; its connection holds a slot meanwhile.
//!   The timers above then watch the decrypted stream.
//! - Per address: one client address (IPv6 by /64) holds at most
//!   [`ConnectionLimits::max_per_address`] of them; one more from it is closed at once, so one
//!   host cannot take every slot.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tower::ServiceExt;

/// The limits of the accept loop (`--max-connections`, `--idle-timeout`, `--header-read-timeout`,
/// `--send-timeout`).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub idle_timeout: Duration,
    pub header_read_timeout: Duration,
    pub send_timeout: Duration,
    pub max_per_address: usize,
}

/// How long shutdown waits for in-flight requests before it closes their connections.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);
/// The log says at most this often that the cap is reached or `accept` fails.
const LOG_EVERY: Duration = Duration::from_secs(60);

/// Open connections, for `/metrics`.
pub type OpenGauge = prometheus_client::metrics::gauge::Gauge;

/// Serves `app` on `listener` until `shutdown` resolves; then stops accepting, lets each
/// connection finish its request in flight (at most [`DRAIN_LIMIT`]) and returns.
pub async fn serve(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    app: Router,
    limits: ConnectionLimits,
    open: OpenGauge,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    // Each connection task holds a receiver: when all are gone, the drain is over.
    let (close_tx, close_rx) = watch::channel(());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    let per_address = Arc::new(PerAddress::default());
    let served = Arc::new(Served::default());
    let mut full_logged: Option<Instant> = None;
    let mut error_logged: Option<Instant> = None;
    let mut address_logged: Option<Instant> = None;
    'accept: loop {
        let slot = loop {
            if let Ok(slot) = slots.clone().try_acquire_owned() {
                break slot;
            }
            let closing = served.close_longest_waiting();
            if full_logged.is_none_or(|at| at.elapsed() >= LOG_EVERY) {
                tracing::warn!(
                    max = limits.max_connections,
                    "connection limit reached: {}",
                    if closing {
                        "closing the connection that waited longest for a request"
                    } else {
                        "new clients wait until one closes"
                    }
                );
                full_logged = Some(Instant::now());
            }
            // Until a slot frees; again after a while if the one asked did not close (a
            // request came in meanwhile) or none was waiting.
            tokio::select! {
                slot = slots.clone().acquire_owned() => break slot.expect("never closed"),
                () = &mut shutdown => break 'accept,
                () = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        };
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    if error_logged.is_none_or(|at| at.elapsed() >= LOG_EVERY) {
                        tracing::warn!(error = %e, "cannot accept a connection");
                        error_logged = Some(Instant::now());
                    }
                    // Out of descriptors or memory: give the others a moment to close.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break 'accept,
        };
        let Some(address_slot) = per_address.take(remote.ip(), limits.max_per_address) else {
            if address_logged.is_none_or(|at| at.elapsed() >= LOG_EVERY) {
                tracing::warn!(
                    address = %remote.ip(),
                    max = limits.max_per_address,
                    "an address holds its most connections: closing its new ones"
                );
                address_logged = Some(Instant::now());
            }
            drop(tcp);
            continue;
        };
        // Live messages are small and latency matters more than packet count.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        open.inc();
        let slot = Slot {
            _permit: slot,
            _address: address_slot,
            open: open.clone(),
        };
        let task = Connection {
            served: served.clone(),
            app: app.clone(),
            limits,
            remote,
            stop: stop_rx.clone(),
            _close: close_rx.clone(),
        };
        match &tls {
            None => {
                tokio::spawn(task.run(Tracked::new(tcp, slot)));
            }
            Some(acceptor) => {
                tokio::spawn(task.run_tls(acceptor.clone(), tcp, slot));
            }
        }
    }
    drop(listener);
    drop(close_rx);
    let _ = stop_tx.send(true);
    if tokio::time::timeout(DRAIN_LIMIT, close_tx.closed())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after {DRAIN_LIMIT:?}: closing them");
    }
    Ok(())
}

struct Connection {
    served: Arc<Served>,
    app: Router,
    limits: ConnectionLimits,
    remote: SocketAddr,
    stop: watch::Receiver<bool>,
    _close: watch::Receiver<()>,
}

impl Connection {
    /// The TLS handshake, then [`Connection::run`] on the decrypted stream. A client that does
    /// not finish its handshake in time, or speaks something else, is closed.
    async fn run_tls(mut self, acceptor: tokio_rustls::TlsAcceptor, tcp: TcpStream, slot: Slot) {
        let limit = self.limits.header_read_timeout;
        let handshake = tokio::time::timeout(limit, acceptor.accept(tcp));
        let stream = tokio::select! {
            done = handshake => match done {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    tracing::debug!(remote = %self.remote, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(remote = %self.remote, "closing a connection whose TLS handshake is too slow");
                    return;
                }
            },
            () = crate::stopped(&mut self.stop) => return,
        };
        self.run(Tracked::new(stream, slot)).await;
    }

    async fn run<S>(mut self, io: Tracked<S>)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let activity = io.activity.clone();
        let _served = self.served.add(activity.clone());
        let service = {
            let activity = activity.clone();
            let (app, remote) = (self.app.clone(), self.remote);
            hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                let in_flight = activity.head_done();
                request.extensions_mut().insert(ConnectInfo(remote));
                let answer = app.clone().oneshot(request.map(Body::new));
                async move {
                    let answer = answer.await.unwrap_or_else(|e| match e {});
                    if answer.status() == axum::http::StatusCode::SWITCHING_PROTOCOLS {
                        // A WebSocket from now on: never closed to make room.
                        in_flight.0.upgraded.store(true, Ordering::Release);
                    }
                    drop(in_flight);
                    Ok::<_, Infallible>(answer)
                }
            })
        };
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(self.limits.idle_timeout)
            .keep_alive(true);
        let mut conn = pin!(
            http.serve_connection(TokioIo::new(io), service)
                .with_upgrades()
        );
        let mut slow_head = pin!(activity.slow_head(self.limits.header_read_timeout));
        let mut stalled = pin!(activity.stalled_send(self.limits.send_timeout));
        let mut draining = false;
        loop {
            tokio::select! {
                served = conn.as_mut() => {
                    if let Err(e) = served {
                        tracing::debug!(error = %e, "connection ended");
                    }
                    break;
                }
                () = &mut slow_head => {
                    tracing::debug!(remote = %self.remote, "closing a connection whose request head is too slow");
                    break;
                }
                () = &mut stalled => {
                    tracing::debug!(remote = %self.remote, "closing a connection whose client takes no answer");
                    break;
                }
                () = activity.close.notified() => {
                    if activity.in_flight.load(Ordering::Acquire) == 0 {
                        tracing::debug!(remote = %self.remote, "closing a waiting connection to make room");
                        break;
                    }
                    // A request came in meanwhile: it may be asked again once answered.
                    activity.closing.store(false, Ordering::Release);
                }
                _ = crate::stopped(&mut self.stop), if !draining => {
                    draining = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// A connection's slot under the cap; given back when the socket closes, after an upgrade too.
struct Slot {
    _permit: OwnedSemaphorePermit,
    _address: AddressSlot,
    open: OpenGauge,
}

/// Open connections by client address (IPv6 by /64, as the sign-in limits key them).
#[derive(Default)]
struct PerAddress(std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>);

impl PerAddress {
    /// One more connection of `ip`, unless it holds `max` already.
    fn take(self: &Arc<Self>, ip: std::net::IpAddr, max: usize) -> Option<AddressSlot> {
        let key = crate::limits::client_key(ip);
        let mut open = self.0.lock().expect("per-address lock");
        let count = open.entry(key).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(AddressSlot(self.clone(), key))
    }
}

/// A connection counted for its address; uncounted when the socket closes.
struct AddressSlot(Arc<PerAddress>, std::net::IpAddr);

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self.0.0.lock().expect("per-address lock");
        if let Some(count) = open.get_mut(&self.1) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.1);
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.open.dec();
    }
}

/// The HTTP connections being served (upgraded ones have left), for the cap to close one that
/// waits for a request.
#[derive(Default)]
struct Served {
    next: AtomicU64,
    conns: std::sync::Mutex<std::collections::HashMap<u64, Arc<Activity>>>,
}

impl Served {
    fn add(self: &Arc<Self>, activity: Arc<Activity>) -> ServedEntry {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.conns.lock().expect("served lock").insert(id, activity);
        ServedEntry(self.clone(), id)
    }

    /// Asks the connection that has waited longest for a request to close; false if none waits.
    fn close_longest_waiting(&self) -> bool {
        let conns = self.conns.lock().expect("served lock");
        let longest = conns
            .values()
            .filter(|a| {
                a.in_flight.load(Ordering::Acquire) == 0
                    && !a.closing.load(Ordering::Acquire)
                    && !a.upgraded.load(Ordering::Acquire)
            })
            .min_by_key(|a| a.waiting_since.load(Ordering::Acquire));
        match longest {
            Some(activity) => {
                activity.closing.store(true, Ordering::Release);
                activity.close.notify_one();
                true
            }
            None => false,
        }
    }
}

struct ServedEntry(Arc<Served>, u64);

impl Drop for ServedEntry {
    fn drop(&mut self) {
        self.0.conns.lock().expect("served lock").remove(&self.1);
    }
}

/// Milliseconds since the first connection: when connections began to wait, comparable.
fn clock_ms() -> u64 {
    static START: std::sync::LazyLock<Instant> = std::sync::LazyLock::new(Instant::now);
    START.elapsed().as_millis() as u64
}

/// What the watcher of a connection needs to know about its requests.
struct Activity {
    /// Bytes of a request head arrived that hyper has not turned into a request yet.
    head_started: AtomicBool,
    /// Heads completed so far.
    heads: AtomicU64,
    /// Requests handed to the app and not answered yet: bytes arriving meanwhile are their
    /// bodies, not a new head.
    in_flight: AtomicUsize,
    began: Notify,
    /// Since when no request is in flight ([`clock_ms`]).
    waiting_since: AtomicU64,
    /// Asked to close to make room at the cap.
    closing: AtomicBool,
    /// Answered 101: the socket is a WebSocket's now.
    upgraded: AtomicBool,
    close: Notify,
    /// Since when a write has waited for the client to take bytes ([`clock_ms`] + 1; 0 while
    /// writes go through).
    send_blocked_since: AtomicU64,
    send_blocked: Notify,
}

impl Activity {
    fn new() -> Self {
        Self {
            head_started: AtomicBool::new(false),
            heads: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            began: Notify::new(),
            waiting_since: AtomicU64::new(clock_ms()),
            closing: AtomicBool::new(false),
            upgraded: AtomicBool::new(false),
            close: Notify::new(),
            send_blocked_since: AtomicU64::new(0),
            send_blocked: Notify::new(),
        }
    }

    /// Bytes arrived: a head begins, unless a request is being answered.
    fn bytes_arrived(&self) {
        if self.in_flight.load(Ordering::Acquire) == 0
            && !self.head_started.swap(true, Ordering::AcqRel)
        {
            self.began.notify_one();
        }
    }

    /// hyper has parsed a head into a request; the request is in flight until the guard drops.
    fn head_done(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.heads.fetch_add(1, Ordering::AcqRel);
        self.head_started.store(false, Ordering::Release);
        InFlight(self.clone())
    }

    /// A write found the client's window full.
    fn send_waits(&self) {
        let since = clock_ms() + 1;
        if self
            .send_blocked_since
            .compare_exchange(0, since, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.send_blocked.notify_one();
        }
    }

    /// A write went through.
    fn sent(&self) {
        self.send_blocked_since.store(0, Ordering::Release);
    }

    /// Resolves once a write has waited `limit` for the client to take a byte.
    async fn stalled_send(&self, limit: Duration) {
        let limit_ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX);
        loop {
            self.send_blocked.notified().await;
            loop {
                let since = self.send_blocked_since.load(Ordering::Acquire);
                if since == 0 {
                    break;
                }
                let waited = (clock_ms() + 1).saturating_sub(since);
                if waited >= limit_ms {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(limit_ms - waited)).await;
            }
        }
    }

    /// Resolves when a head began and was not complete `limit` later.
    async fn slow_head(&self, limit: Duration) {
        loop {
            self.began.notified().await;
            let heads = self.heads.load(Ordering::Acquire);
            tokio::time::sleep(limit).await;
            if self.head_started.load(Ordering::Acquire)
                && self.heads.load(Ordering::Acquire) == heads
            {
                return;
            }
        }
    }
}

/// A request being answered (see [`Activity::head_done`]).
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.waiting_since.store(clock_ms(), Ordering::Release);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A stream (TCP, or TLS over it) that tells its [`Activity`] when bytes arrive, and holds its
/// [`Slot`].
struct Tracked<S> {
    tcp: S,
    activity: Arc<Activity>,
    _slot: Slot,
}

impl<S> Tracked<S> {
    fn new(tcp: S, slot: Slot) -> Self {
        Self {
            tcp,
            activity: Arc::new(Activity::new()),
            _slot: slot,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.tcp).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.bytes_arrived();
        }
        polled
    }
}

impl<S> Tracked<S> {
    /// Tells the activity whether a write went through or waits for the client.
    fn watched<T>(&self, polled: Poll<T>) -> Poll<T> {
        match polled {
            Poll::Pending => self.activity.send_waits(),
            Poll::Ready(_) => self.activity.sent(),
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.tcp).poll_write(cx, buf);
        self.watched(polled)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.tcp).poll_flush(cx);
        self.watched(polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs);
        self.watched(polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }
}

/// Raises the soft limit of open files to the hard one (Linux defaults to 1,024 soft, far more
/// hard), and returns the limit in force.
pub fn raise_open_files_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => Some(limit),
        Err(e) => {
            tracing::warn!(error = %e, "cannot raise the open files limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE)
                .ok()
                .map(|(soft, _)| soft)
        }
    }
}
