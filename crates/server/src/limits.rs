//! Limits that keep a hostile client on the plant network from taking the server down: how many
//! password hashes run at once ([`HashGate`]), how often one address or one account may try
//! to sign in, sign up or claim a logger ([`Throttle`], [`AuthLimits`]), and how many analytics
//! questions are answered at once ([`QueryGate`]).
//!
//! Nothing here knows HTTP: the handlers ask before they do the expensive or guessable thing and
//! turn a refusal into `429`/`503` with `Retry-After`.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The first refusal of a key waits at least this long; every further one in a row doubles it.
const BACKOFF_START: Duration = Duration::from_secs(1);
/// The longest a key is ever refused for at once.
const BACKOFF_MAX: Duration = Duration::from_secs(15 * 60);
/// Keys one throttle keeps at most (about 100 bytes each); beyond, new keys are refused.
const MAX_KEYS: usize = 100_000;
/// A full table is swept for forgotten keys at most this often.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// A refused attempt: try again after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl RetryAfter {
    /// Whole seconds, rounded up, at least 1: what `Retry-After` carries.
    pub fn seconds(self) -> u64 {
        self.0.as_millis().div_ceil(1000).max(1) as u64
    }
}

/// A keyed rate limiter with growing backoff.
///
/// Each key has a bucket of `burst` attempts that refills at one attempt per `window / burst`
/// (a GCRA: the bucket is the key's "theoretical arrival time", one `Instant`). An attempt takes
/// one; [`Throttle::refund`] gives it back (a successful sign-in costs nothing, so only failures
/// add up, yet attempts in flight at once are all counted). With the bucket empty, the attempt
/// is refused until a token is back, and at least [`BACKOFF_START`], doubled for every refusal
/// in a row up to [`BACKOFF_MAX`]; a key that keeps trying while refused is not counted again,
/// but the next refusal after its wait is twice as long. The count of refusals starts over once
/// the bucket is full and the key was not refused for a whole `window`.
pub struct Throttle<K> {
    burst: u32,
    /// Time to regain one attempt.
    regain: Duration,
    table: Mutex<Table<K>>,
}

struct Table<K> {
    keys: HashMap<K, Bucket>,
    swept: Option<Instant>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// When the bucket is full again if nothing else is taken.
    full_at: Instant,
    /// Refusals in a row.
    refusals: u32,
    /// Refused until then.
    blocked_until: Instant,
}

impl<K: Hash + Eq + Clone> Throttle<K> {
    /// `burst` attempts at once (at least 1), all of them regained over `window`.
    pub fn new(burst: u32, window: Duration) -> Self {
        let burst = burst.max(1);
        Self {
            burst,
            regain: window / burst,
            table: Mutex::new(Table {
                keys: HashMap::new(),
                swept: None,
            }),
        }
    }

    /// Takes one attempt for `key`, or says how long to wait.
    pub fn attempt(&self, key: &K, now: Instant) -> Result<(), RetryAfter> {
        let mut table = self.table.lock().expect("throttle lock");
        if !table.keys.contains_key(key) {
            self.make_room(&mut table, now)?;
        }
        let bucket = table.keys.entry(key.clone()).or_insert(Bucket {
            full_at: now,
            refusals: 0,
            blocked_until: now,
        });
        if now < bucket.blocked_until {
            return Err(RetryAfter(bucket.blocked_until - now));
        }
        let capacity = self.regain * self.burst;
        let full_at = bucket.full_at.max(now);
        if full_at == now && now >= bucket.blocked_until + capacity {
            bucket.refusals = 0;
        }
        let taken = full_at + self.regain;
        if taken <= now + capacity {
            bucket.full_at = taken;
            return Ok(());
        }
        bucket.refusals = bucket.refusals.saturating_add(1);
        let backoff = BACKOFF_START
            .saturating_mul(1 << (bucket.refusals - 1).min(20))
            .min(BACKOFF_MAX);
        let wait = backoff.max(taken - (now + capacity));
        bucket.blocked_until = now + wait;
        Err(RetryAfter(wait))
    }

    /// Gives back the attempt a success took.
    pub fn refund(&self, key: &K, now: Instant) {
        let mut table = self.table.lock().expect("throttle lock");
        if let Some(bucket) = table.keys.get_mut(key) {
            bucket.full_at = bucket
                .full_at
                .checked_sub(self.regain)
                .unwrap_or(now)
                .max(now);
        }
    }

    /// Keys tracked now (for tests and metrics).
    pub fn len(&self) -> usize {
        self.table.lock().expect("throttle lock").keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets keys with a full bucket and no wait; refuses a new key if the table stays full
    /// (a flood from more addresses or accounts than it holds: better slow than out of memory).
    fn make_room(&self, table: &mut Table<K>, now: Instant) -> Result<(), RetryAfter> {
        if table.keys.len() < MAX_KEYS {
            return Ok(());
        }
        if table.swept.is_none_or(|at| now >= at + SWEEP_EVERY) {
            table
                .keys
                .retain(|_, b| b.full_at > now || b.blocked_until > now);
            table.swept = Some(now);
        }
        if table.keys.len() < MAX_KEYS {
            Ok(())
        } else {
            tracing::warn!("the sign-in throttle is full: refusing new clients for now");
            Err(RetryAfter(Duration::from_secs(60)))
        }
    }
}

/// How many password hashes (argon2, 19 MiB each) may run at once; the rest wait a little, then
/// are refused. Without it, a flood of sign-ins runs hundreds at once on the blocking pool.
pub struct HashGate {
    permits: Arc<Semaphore>,
    wait: Duration,
}

/// Every hashing slot stayed busy for the whole wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the server is busy checking passwords: try again in a moment")]
pub struct Busy;

impl HashGate {
    pub fn new(concurrency: usize, wait: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            wait,
        }
    }

    /// Runs `f` (a hash or a check) on the blocking pool once a slot is free.
    pub async fn run<T, F>(&self, f: F) -> Result<T, Busy>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let permit = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| Busy)?
            .expect("the gate's semaphore is never closed");
        tokio::task::spawn_blocking(move || {
            let _slot = permit;
            f()
        })
        .await
        .map_err(|e| std::panic::resume_unwind(e.into_panic()))
    }

    /// Slots free now.
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }
}

/// How many analytics and stops questions are answered at once: each may hold tens of MB and
/// both cores for seconds, so a few asked together must not take the memory or starve ingest.
/// The rest wait a bounded time, then are refused.
pub struct QueryGate {
    permits: Arc<Semaphore>,
    wait: Duration,
}

/// Every query slot stayed busy for the whole wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the server is answering other analytics questions: try again in a moment")]
pub struct QueriesBusy {
    /// How long the question waited: also about how long to wait before asking again.
    pub waited: Duration,
}

impl QueryGate {
    pub fn new(concurrency: usize, wait: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            wait,
        }
    }

    /// A slot, held until the permit drops (when the answer is written or the client left).
    pub async fn enter(&self) -> Result<OwnedSemaphorePermit, QueriesBusy> {
        tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| QueriesBusy { waited: self.wait })
            .map(|p| p.expect("the gate's semaphore is never closed"))
    }

    /// Slots free now.
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }
}

/// The settings of [`AuthLimits`].
#[derive(Debug, Clone, Copy)]
pub struct AuthSettings {
    /// Password hashes at once.
    pub hash_concurrency: usize,
    /// Failed attempts (sign-in, claim) one address may make at once, and, apart, the sign-ups
    /// it may make; each regained over [`ADDRESS_WINDOW`].
    pub per_address: u32,
    /// Failed attempts against one account at once, from any address; regained over
    /// [`ACCOUNT_WINDOW`].
    pub per_account: u32,
}

/// An address regains all its attempts over this long.
pub const ADDRESS_WINDOW: Duration = Duration::from_secs(10 * 60);
/// An account regains all its attempts over this long.
pub const ACCOUNT_WINDOW: Duration = Duration::from_secs(60 * 60);
/// How long a password check waits for a hashing slot before it is refused.
pub const HASH_WAIT: Duration = Duration::from_secs(2);

/// The guards of sign-in, sign-up and claim.
pub struct AuthLimits {
    pub hashing: HashGate,
    /// By client address (IPv6 by /64: one host can pick any address of its network).
    pub addresses: Throttle<IpAddr>,
    /// Sign-ups by client address, apart from `addresses`: sign-ups (which make tenants) from a
    /// plant's shared address must not lock its people out of signing in.
    pub signups: Throttle<IpAddr>,
    /// By account: `email:<email>` for sign-in, `user:<id>` for the admin claiming,
    /// `add-user:<id>` for the admin adding people.
    pub accounts: Throttle<String>,
}

impl AuthLimits {
    pub fn new(settings: AuthSettings) -> Self {
        Self {
            hashing: HashGate::new(settings.hash_concurrency, HASH_WAIT),
            addresses: Throttle::new(settings.per_address, ADDRESS_WINDOW),
            signups: Throttle::new(settings.per_address, ADDRESS_WINDOW),
            accounts: Throttle::new(settings.per_account, ACCOUNT_WINDOW),
        }
    }

    /// Takes an attempt for the address and then for the account; a refused account leaves the
    /// address's attempt taken.
    pub fn attempt(&self, address: IpAddr, account: &str) -> Result<(), RetryAfter> {
        let now = Instant::now();
        self.addresses.attempt(&client_key(address), now)?;
        self.accounts.attempt(&account.to_owned(), now)
    }

    /// Takes a sign-up for the address; a successful one is not given back (it made a tenant).
    pub fn signup(&self, address: IpAddr) -> Result<(), RetryAfter> {
        self.signups.attempt(&client_key(address), Instant::now())
    }

    /// Gives back the attempts of a success.
    pub fn succeeded(&self, address: IpAddr, account: &str) {
        let now = Instant::now();
        self.addresses.refund(&client_key(address), now);
        self.accounts.refund(&account.to_owned(), now);
    }
}

/// The key of a client address: IPv4 as it is (IPv4-mapped IPv6 too), IPv6 by its /64.
pub fn client_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(prefix.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn a_burst_is_allowed_then_refused_until_an_attempt_is_regained() {
        let t = Throttle::new(3, 30 * S);
        let now = Instant::now();
        for _ in 0..3 {
            assert_eq!(t.attempt(&1, now), Ok(()));
        }
        // One attempt comes back every 10 s.
        assert_eq!(t.attempt(&1, now), Err(RetryAfter(10 * S)));
        assert_eq!(t.attempt(&2, now), Ok(()), "other keys are not affected");
        assert_eq!(t.attempt(&1, now + 10 * S), Ok(()));
        assert!(t.attempt(&1, now + 10 * S).is_err());
    }

    #[test]
    fn refusals_in_a_row_wait_longer_each_time_and_start_over_once_quiet() {
        // Regains quickly (1 attempt per 100 ms), so the backoff is what is seen.
        let t = Throttle::new(1, S / 10);
        let mut now = Instant::now();
        assert!(t.attempt(&"k", now).is_ok());
        let mut waits = Vec::new();
        for _ in 0..6 {
            let RetryAfter(wait) = t.attempt(&"k", now).unwrap_err();
            // Trying again while refused changes nothing.
            assert_eq!(
                t.attempt(&"k", now + wait / 2),
                Err(RetryAfter(wait - wait / 2))
            );
            waits.push(wait);
            now += wait;
            assert!(
                t.attempt(&"k", now).is_ok(),
                "allowed once the wait is over"
            );
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 32].map(|s| s * S));
        // Quiet for a window (100 ms) after the last wait: the next refusal waits the least again.
        now += S;
        assert!(t.attempt(&"k", now).is_ok());
        assert_eq!(t.attempt(&"k", now), Err(RetryAfter(S)));
    }

    #[test]
    fn the_backoff_stops_growing_at_its_maximum() {
        let t = Throttle::new(1, S / 10);
        let mut now = Instant::now();
        let mut last = Duration::ZERO;
        for _ in 0..40 {
            if let Err(RetryAfter(wait)) = t.attempt(&0, now) {
                last = wait;
                now += wait;
            }
        }
        assert_eq!(last, BACKOFF_MAX);
    }

    #[test]
    fn a_refunded_attempt_is_not_counted() {
        let t = Throttle::new(2, 60 * S);
        let now = Instant::now();
        for _ in 0..10 {
            assert!(t.attempt(&0, now).is_ok());
            t.refund(&0, now);
        }
        assert!(t.attempt(&0, now).is_ok());
        assert!(t.attempt(&0, now).is_ok());
        assert!(t.attempt(&0, now).is_err());
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(RetryAfter(Duration::from_millis(1)).seconds(), 1);
        assert_eq!(RetryAfter(Duration::from_millis(1001)).seconds(), 2);
        assert_eq!(RetryAfter(Duration::ZERO).seconds(), 1);
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_network() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(c));
        let mapped: IpAddr = "::ffff:10.0.0.7".parse().unwrap();
        assert_eq!(client_key(mapped), "10.0.0.7".parse::<IpAddr>().unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_hashes_run_at_once_than_the_gate_has_slots() {
        let gate = Arc::new(HashGate::new(2, Duration::from_secs(30)));
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..12)
            .map(|_| {
                let (gate, running, most) = (gate.clone(), running.clone(), most.clone());
                tokio::spawn(async move {
                    gate.run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        // Stands for a hash: long enough for the others to pile up.
                        std::thread::sleep(Duration::from_millis(20));
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
        assert_eq!(gate.available(), 2);
    }

    #[tokio::test]
    async fn a_check_that_finds_every_slot_busy_for_the_whole_wait_is_refused() {
        let gate = Arc::new(HashGate::new(1, Duration::from_millis(50)));
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let (started_tx, started) = tokio::sync::oneshot::channel();
        let busy = tokio::spawn({
            let gate = gate.clone();
            async move {
                gate.run(move || {
                    let _ = started_tx.send(());
                    let _ = hold.recv();
                })
                .await
            }
        });
        started.await.unwrap();
        assert_eq!(gate.run(|| ()).await, Err(Busy));
        release.send(()).unwrap();
        busy.await.unwrap().unwrap();
        assert_eq!(gate.run(|| 7).await, Ok(7));
    }
}
