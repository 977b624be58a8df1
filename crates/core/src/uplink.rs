//! What a logger sends to the server next, without doing any I/O: register, heartbeat at the
//! period the server asks for, upload the queue in batches the server accepts, back off when the
//! server is away. The ESP32-C3 firmware drives it from its network task, the Linux agent and its
//! simulator from their link task; every decision is tested here on the host.
//!
//! ```
//! use assetlog_core::uplink::{Action, Link, Outcome, Request, Uplink};
//!
//! let mut link = Uplink::new(42);
//! assert_eq!(link.next(0, 3), Action::Send(Request::Register));
//! link.done(Request::Register, Outcome::Registered { claimed: false, heartbeat_interval_s: Some(30) }, 10);
//! assert_eq!(link.link(), Link::Pending);
//! // Events are uploaded while pending too: the server keeps them for whoever claims the logger.
//! assert_eq!(link.next(20, 3), Action::Send(Request::Ingest));
//! link.done(Request::Ingest, Outcome::Failed, 30);
//! let Action::Wait { until_ms } = link.next(31, 3) else { panic!() };
//! assert!(until_ms > 31);
//! ```

use crate::backoff::Backoff;
use crate::wire::{HeartbeatAnswer, MAX_BATCH_EVENTS, RegisterAnswer};
use core::time::Duration;

/// Shortest and longest heartbeat period the logger accepts from the server.
pub const HEARTBEAT_MS: core::ops::RangeInclusive<u64> = 5_000..=3_600_000;
/// Heartbeat period until the server has said one.
pub const DEFAULT_HEARTBEAT_MS: u64 = 30_000;
/// First and longest wait after a failed request.
pub const RETRY_MIN: Duration = Duration::from_secs(1);
pub const RETRY_MAX: Duration = Duration::from_secs(60);

/// How a logger tunes its uplink. [`Settings::default`] is the firmware's: the constants above
/// and batches of up to [`MAX_BATCH_EVENTS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// First wait after a failed request; each failure in a row doubles it.
    pub retry_min: Duration,
    /// Longest wait after failed requests.
    pub retry_max: Duration,
    /// Heartbeat period until the server has said one (kept within [`HEARTBEAT_MS`]). Every
    /// answer that names a period replaces it.
    pub heartbeat_ms: u64,
    /// Most events in one upload, until the server answers that a batch is too large.
    pub max_batch: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            retry_min: RETRY_MIN,
            retry_max: RETRY_MAX,
            heartbeat_ms: DEFAULT_HEARTBEAT_MS,
            max_batch: MAX_BATCH_EVENTS,
        }
    }
}

/// A request to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// `POST /api/device/register` (with the device key once the logger has one).
    Register,
    /// `POST /api/device/heartbeat` with the queue depth.
    Heartbeat,
    /// `POST /api/v1/ingest` with the oldest queued events.
    Ingest,
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Register answered 200 (store the key and claim code it carried first).
    Registered {
        claimed: bool,
        /// The heartbeat period the server asks for; `None` keeps the one in force.
        heartbeat_interval_s: Option<u64>,
    },
    /// Heartbeat answered 200.
    Alive {
        claimed: bool,
        /// As in [`Outcome::Registered`]: a server may change its period at any time.
        heartbeat_interval_s: Option<u64>,
    },
    /// Ingest answered 200: release the events that were sent.
    Acked,
    /// Ingest answered 413: the batch is more than the server takes in one request.
    TooLarge,
    /// 401: the key is not (or no longer) valid — the logger was deleted, or its key rotated.
    Unauthorized,
    /// Another 4xx: the server refuses this request as it is.
    Refused,
    /// No answer, a timeout, a 5xx or a 429.
    Failed,
}

impl Outcome {
    /// The outcome of a registration the server answered with `answer`.
    pub fn registered(answer: &RegisterAnswer) -> Self {
        Self::Registered {
            claimed: answer.is_claimed(),
            heartbeat_interval_s: answer.heartbeat_interval_s,
        }
    }

    /// The outcome of a heartbeat the server answered with `answer`.
    pub fn alive(answer: &HeartbeatAnswer) -> Self {
        Self::Alive {
            claimed: answer.is_claimed(),
            heartbeat_interval_s: answer.heartbeat_interval_s,
        }
    }
}

/// What to do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Send(Request),
    /// Nothing to send before this time (the caller may wake earlier when an event is queued and
    /// ask again).
    Wait {
        until_ms: u64,
    },
}

/// The logger's standing with the server, for its display and status page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Not registered in this boot yet (or the server forgot the logger).
    Unregistered,
    /// Registered, waiting for an admin to claim it with its code.
    Pending,
    /// Claimed into a tenant.
    Claimed,
    /// The server refuses the logger's key (rotated by an admin): it keeps trying, slowly, and
    /// shows this until an admin deletes the logger so it can register anew.
    KeyRefused,
}

/// The uploader's state machine. Times are the caller's monotonic milliseconds (uptime).
#[derive(Debug, Clone)]
pub struct Uplink {
    link: Link,
    heartbeat_ms: u64,
    next_heartbeat_ms: u64,
    retry_at_ms: Option<u64>,
    backoff: Backoff,
    failures: u32,
    batch_limit: usize,
}

impl Uplink {
    /// A logger that has not spoken to the server in this boot, with the default [`Settings`];
    /// `seed` feeds the backoff jitter (use something that differs between loggers, such as the
    /// MAC address).
    pub fn new(seed: u64) -> Self {
        Self::with_settings(Settings::default(), seed)
    }

    /// As [`Uplink::new`], tuned by `settings`.
    pub fn with_settings(settings: Settings, seed: u64) -> Self {
        Self {
            link: Link::Unregistered,
            heartbeat_ms: clamp_heartbeat(settings.heartbeat_ms),
            next_heartbeat_ms: 0,
            retry_at_ms: None,
            backoff: Backoff::new(settings.retry_min, settings.retry_max, seed),
            failures: 0,
            batch_limit: settings.max_batch.max(1),
        }
    }

    pub fn link(&self) -> Link {
        self.link
    }

    /// Failed requests in a row since the last success: 0 means the server is reachable.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The heartbeat period in force.
    pub fn heartbeat_ms(&self) -> u64 {
        self.heartbeat_ms
    }

    /// Most events to send in the next upload: the settings' `max_batch`, halved by every batch
    /// the server found too large.
    pub fn batch_limit(&self) -> usize {
        self.batch_limit
    }

    /// The next step, given the time and how many events wait in the queue. Register first; then
    /// a due heartbeat goes before an upload (so the dashboard sees the logger alive even while a
    /// long backlog drains); then the queue; after a failure, nothing until the backoff has run.
    pub fn next(&self, now_ms: u64, queued: usize) -> Action {
        if let Some(until_ms) = self.retry_at_ms.filter(|t| now_ms < *t) {
            return Action::Wait { until_ms };
        }
        match self.link {
            Link::Unregistered | Link::KeyRefused => Action::Send(Request::Register),
            Link::Pending | Link::Claimed if now_ms >= self.next_heartbeat_ms => {
                Action::Send(Request::Heartbeat)
            }
            Link::Pending | Link::Claimed if queued > 0 => Action::Send(Request::Ingest),
            Link::Pending | Link::Claimed => Action::Wait {
                until_ms: self.next_heartbeat_ms,
            },
        }
    }

    /// Records how `request` ended at `now_ms`.
    pub fn done(&mut self, request: Request, outcome: Outcome, now_ms: u64) {
        match outcome {
            Outcome::Registered {
                claimed,
                heartbeat_interval_s,
            }
            | Outcome::Alive {
                claimed,
                heartbeat_interval_s,
            } => {
                if let Some(s) = heartbeat_interval_s {
                    self.heartbeat_ms = clamp_heartbeat(s.saturating_mul(1000));
                }
                self.heard_from(claimed, now_ms);
            }
            Outcome::Acked => self.succeeded(),
            // The server is there and says how to go on: the same events, fewer at a time, at
            // once. A single event that is still too large is refused like any other request.
            Outcome::TooLarge if request == Request::Ingest && self.batch_limit > 1 => {
                self.batch_limit /= 2;
            }
            Outcome::Unauthorized => {
                // A refused registration means the key was rotated; a refused heartbeat or upload
                // may be a deleted logger, which a fresh registration brings back (pending).
                self.link = if request == Request::Register {
                    Link::KeyRefused
                } else {
                    Link::Unregistered
                };
                self.failed(now_ms);
            }
            Outcome::Refused | Outcome::TooLarge => {
                if request == Request::Heartbeat {
                    self.next_heartbeat_ms = now_ms.saturating_add(self.heartbeat_ms);
                }
                self.failed(now_ms);
            }
            Outcome::Failed => self.failed(now_ms),
        }
    }

    /// The server answered a registration or heartbeat: the next heartbeat is a period away.
    fn heard_from(&mut self, claimed: bool, now_ms: u64) {
        self.link = if claimed {
            Link::Claimed
        } else {
            Link::Pending
        };
        self.next_heartbeat_ms = now_ms.saturating_add(self.heartbeat_ms);
        self.succeeded();
    }

    fn succeeded(&mut self) {
        self.backoff.reset();
        self.retry_at_ms = None;
        self.failures = 0;
    }

    fn failed(&mut self, now_ms: u64) {
        let wait = u64::try_from(self.backoff.next_delay().as_millis()).unwrap_or(u64::MAX);
        self.retry_at_ms = Some(now_ms.saturating_add(wait));
        self.failures = self.failures.saturating_add(1);
    }
}

fn clamp_heartbeat(ms: u64) -> u64 {
    ms.clamp(*HEARTBEAT_MS.start(), *HEARTBEAT_MS.end())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registered(claimed: bool) -> Uplink {
        registered_with(claimed, 30)
    }

    fn registered_with(claimed: bool, heartbeat_interval_s: u64) -> Uplink {
        let mut u = Uplink::new(1);
        u.done(
            Request::Register,
            Outcome::Registered {
                claimed,
                heartbeat_interval_s: Some(heartbeat_interval_s),
            },
            0,
        );
        u
    }

    fn alive(claimed: bool) -> Outcome {
        Outcome::Alive {
            claimed,
            heartbeat_interval_s: None,
        }
    }

    #[test]
    fn an_idle_claimed_logger_only_heartbeats() {
        let mut u = registered(true);
        assert_eq!(u.link(), Link::Claimed);
        assert_eq!(u.next(1_000, 0), Action::Wait { until_ms: 30_000 });
        assert_eq!(u.next(30_000, 0), Action::Send(Request::Heartbeat));
        u.done(Request::Heartbeat, alive(true), 30_050);
        assert_eq!(u.next(30_100, 0), Action::Wait { until_ms: 60_050 });
    }

    #[test]
    fn queued_events_go_up_at_once_but_a_due_heartbeat_goes_first() {
        let mut u = registered(true);
        assert_eq!(u.next(1_000, 5), Action::Send(Request::Ingest));
        u.done(Request::Ingest, Outcome::Acked, 1_010);
        assert_eq!(u.next(30_000, 5), Action::Send(Request::Heartbeat));
    }

    #[test]
    fn failures_back_off_more_and_more_until_a_success() {
        let mut u = registered_with(true, 150);
        let mut now = 1_000;
        let mut waits = alloc::vec::Vec::new();
        for _ in 0..8 {
            assert_eq!(u.next(now, 1), Action::Send(Request::Ingest));
            u.done(Request::Ingest, Outcome::Failed, now);
            let Action::Wait { until_ms } = u.next(now, 1) else {
                panic!("sent again at once after a failure")
            };
            waits.push(until_ms - now);
            now = until_ms;
        }
        assert_eq!(u.failures(), 8);
        assert!(waits[0] <= 1_000 && waits[0] >= 500, "{waits:?}");
        assert!(waits[7] >= 30_000 && waits[7] <= 60_000, "{waits:?}");
        // A heartbeat that falls due goes as soon as the backoff allows, before the backlog.
        let now = now.max(150_000);
        assert_eq!(u.next(now, 1), Action::Send(Request::Heartbeat));
        u.done(Request::Heartbeat, alive(true), now);
        assert_eq!(u.failures(), 0);
        assert_eq!(u.next(now, 1), Action::Send(Request::Ingest));
    }

    #[test]
    fn a_claim_is_noticed_at_the_next_heartbeat() {
        let mut u = registered(false);
        assert_eq!(u.link(), Link::Pending);
        u.done(Request::Heartbeat, alive(true), 30_000);
        assert_eq!(u.link(), Link::Claimed);
    }

    #[test]
    fn a_deleted_logger_registers_again_and_a_rotated_key_is_shown() {
        let mut u = registered(true);
        u.done(Request::Ingest, Outcome::Unauthorized, 5_000);
        assert_eq!(u.link(), Link::Unregistered);
        let Action::Wait { until_ms } = u.next(5_000, 1) else {
            panic!()
        };
        assert_eq!(u.next(until_ms, 1), Action::Send(Request::Register));
        u.done(Request::Register, Outcome::Unauthorized, until_ms);
        assert_eq!(u.link(), Link::KeyRefused);
        let Action::Wait { until_ms: later } = u.next(until_ms, 1) else {
            panic!()
        };
        assert_eq!(u.next(later, 1), Action::Send(Request::Register));
    }

    #[test]
    fn the_servers_heartbeat_period_is_kept_within_bounds() {
        let mut u = Uplink::new(1);
        u.done(
            Request::Register,
            Outcome::Registered {
                claimed: true,
                heartbeat_interval_s: Some(0),
            },
            0,
        );
        assert_eq!(u.heartbeat_ms(), 5_000);
        u.done(
            Request::Register,
            Outcome::Registered {
                claimed: true,
                heartbeat_interval_s: Some(u64::MAX),
            },
            0,
        );
        assert_eq!(u.heartbeat_ms(), 3_600_000);
    }

    #[test]
    fn a_refused_heartbeat_does_not_repeat_at_once() {
        let mut u = registered(true);
        u.done(Request::Heartbeat, Outcome::Refused, 30_000);
        let Action::Wait { until_ms } = u.next(30_000, 0) else {
            panic!()
        };
        assert_eq!(u.next(until_ms, 0), Action::Wait { until_ms: 60_000 });
    }

    #[test]
    fn heartbeats_follow_the_period_the_server_answers() {
        let settings = Settings {
            heartbeat_ms: 3_600_000,
            ..Settings::default()
        };
        let mut u = Uplink::with_settings(settings, 1);
        assert_eq!(u.heartbeat_ms(), 3_600_000, "ours until the server says");
        u.done(
            Request::Register,
            Outcome::Registered {
                claimed: true,
                heartbeat_interval_s: Some(5),
            },
            1_000,
        );
        assert_eq!(u.heartbeat_ms(), 5_000);
        assert_eq!(u.next(1_001, 0), Action::Wait { until_ms: 6_000 });
        assert_eq!(u.next(6_000, 0), Action::Send(Request::Heartbeat));
        // A heartbeat answer may name another period: it counts from this contact on.
        u.done(
            Request::Heartbeat,
            Outcome::Alive {
                claimed: true,
                heartbeat_interval_s: Some(7),
            },
            6_010,
        );
        assert_eq!(u.next(6_020, 0), Action::Wait { until_ms: 13_010 });
        // An answer that names none keeps the period in force.
        u.done(Request::Heartbeat, alive(true), 13_010);
        assert_eq!(u.heartbeat_ms(), 7_000);
        assert_eq!(u.next(13_020, 0), Action::Wait { until_ms: 20_010 });
        let mut older = Uplink::with_settings(settings, 1);
        older.done(
            Request::Register,
            Outcome::Registered {
                claimed: true,
                heartbeat_interval_s: None,
            },
            0,
        );
        assert_eq!(older.heartbeat_ms(), 3_600_000);
    }

    #[test]
    fn the_settings_period_is_kept_within_bounds_too() {
        let settings = |heartbeat_ms| Settings {
            heartbeat_ms,
            ..Settings::default()
        };
        assert_eq!(Uplink::with_settings(settings(1), 1).heartbeat_ms(), 5_000);
        assert_eq!(
            Uplink::with_settings(settings(u64::MAX), 1).heartbeat_ms(),
            3_600_000
        );
        assert_eq!(Uplink::new(1).heartbeat_ms(), DEFAULT_HEARTBEAT_MS);
    }

    #[test]
    fn the_settings_tune_the_backoff() {
        let settings = Settings {
            retry_min: Duration::from_millis(50),
            retry_max: Duration::from_millis(300),
            ..Settings::default()
        };
        let mut u = Uplink::with_settings(settings, 3);
        let mut now = 0;
        let mut waits = alloc::vec::Vec::new();
        for _ in 0..6 {
            assert_eq!(u.next(now, 0), Action::Send(Request::Register));
            u.done(Request::Register, Outcome::Failed, now);
            let Action::Wait { until_ms } = u.next(now, 0) else {
                panic!("sent again at once after a failure")
            };
            waits.push(until_ms - now);
            now = until_ms;
        }
        assert!((25..=50).contains(&waits[0]), "{waits:?}");
        assert!(waits.iter().all(|w| *w <= 300), "{waits:?}");
        assert!(waits[5] >= 150, "{waits:?}");
    }

    #[test]
    fn a_batch_too_large_is_halved_and_sent_again_at_once() {
        let mut u = Uplink::with_settings(
            Settings {
                max_batch: 500,
                ..Settings::default()
            },
            1,
        );
        u.done(
            Request::Register,
            Outcome::Registered {
                claimed: true,
                heartbeat_interval_s: Some(30),
            },
            0,
        );
        assert_eq!(u.batch_limit(), 500);
        let mut limits = alloc::vec::Vec::new();
        while u.batch_limit() > 1 {
            assert_eq!(u.next(10, 9), Action::Send(Request::Ingest));
            u.done(Request::Ingest, Outcome::TooLarge, 10);
            limits.push(u.batch_limit());
        }
        assert_eq!(limits, [250, 125, 62, 31, 15, 7, 3, 1]);
        assert_eq!(u.failures(), 0, "the server answered every time");
        // The smaller batches stay: the server's limit does not change between requests.
        u.done(Request::Ingest, Outcome::Acked, 20);
        assert_eq!(u.batch_limit(), 1);
        // One event that is still too large is refused like any request: not again at once.
        u.done(Request::Ingest, Outcome::TooLarge, 30);
        assert_eq!(u.failures(), 1);
        assert!(matches!(u.next(30, 9), Action::Wait { .. }));
    }

    #[test]
    fn outcomes_are_read_off_the_answers() {
        let register = RegisterAnswer {
            status: "pending".into(),
            heartbeat_interval_s: Some(5),
            device_key: Some("ald_x".into()),
            claim_code: Some("ABCD2345".into()),
        };
        assert_eq!(
            Outcome::registered(&register),
            Outcome::Registered {
                claimed: false,
                heartbeat_interval_s: Some(5)
            }
        );
        let beat = HeartbeatAnswer {
            status: "claimed".into(),
            heartbeat_interval_s: None,
        };
        assert_eq!(Outcome::alive(&beat), alive(true));
    }
}
