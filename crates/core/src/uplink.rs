//! What a logger sends to the server next, without doing any I/O: register, heartbeat, upload
//! the queue, back off when the server is away. The ESP32-C3 firmware drives it from its network
//! task; every decision is tested here on the host.
//!
//! ```
//! use assetlog_core::uplink::{Action, Link, Outcome, Request, Uplink};
//!
//! let mut link = Uplink::new(42);
//! assert_eq!(link.next(0, 3), Action::Send(Request::Register));
//! link.done(Request::Register, Outcome::Registered { claimed: false, heartbeat_interval_s: 30 }, 10);
//! assert_eq!(link.link(), Link::Pending);
//! // Events are uploaded while pending too: the server keeps them for whoever claims the logger.
//! assert_eq!(link.next(20, 3), Action::Send(Request::Ingest));
//! link.done(Request::Ingest, Outcome::Failed, 30);
//! let Action::Wait { until_ms } = link.next(31, 3) else { panic!() };
//! assert!(until_ms > 31);
//! ```

use crate::backoff::Backoff;
use core::time::Duration;

/// Shortest and longest heartbeat period the logger accepts from the server.
pub const HEARTBEAT_MS: core::ops::RangeInclusive<u64> = 5_000..=3_600_000;
/// Heartbeat period until the server has said one.
pub const DEFAULT_HEARTBEAT_MS: u64 = 30_000;
/// First and longest wait after a failed request.
pub const RETRY_MIN: Duration = Duration::from_secs(1);
pub const RETRY_MAX: Duration = Duration::from_secs(60);

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
        heartbeat_interval_s: u32,
    },
    /// Heartbeat answered 200.
    Alive { claimed: bool },
    /// Ingest answered 200: release the events that were sent.
    Acked,
    /// 401: the key is not (or no longer) valid — the logger was deleted, or its key rotated.
    Unauthorized,
    /// Another 4xx: the server refuses this request as it is.
    Refused,
    /// No answer, a timeout, a 5xx or a 429.
    Failed,
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
}

impl Uplink {
    /// A logger that has not spoken to the server in this boot; `seed` feeds the backoff jitter
    /// (use something that differs between loggers, such as the MAC address).
    pub fn new(seed: u64) -> Self {
        Self {
            link: Link::Unregistered,
            heartbeat_ms: DEFAULT_HEARTBEAT_MS,
            next_heartbeat_ms: 0,
            retry_at_ms: None,
            backoff: Backoff::new(RETRY_MIN, RETRY_MAX, seed),
            failures: 0,
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
            } => {
                self.heartbeat_ms = (u64::from(heartbeat_interval_s) * 1000)
                    .clamp(*HEARTBEAT_MS.start(), *HEARTBEAT_MS.end());
                self.heard_from(claimed, now_ms);
            }
            Outcome::Alive { claimed } => self.heard_from(claimed, now_ms),
            Outcome::Acked => self.succeeded(),
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
            Outcome::Refused => {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn registered(claimed: bool) -> Uplink {
        registered_with(claimed, 30)
    }

    fn registered_with(claimed: bool, heartbeat_interval_s: u32) -> Uplink {
        let mut u = Uplink::new(1);
        u.done(
            Request::Register,
            Outcome::Registered {
                claimed,
                heartbeat_interval_s,
            },
            0,
        );
        u
    }

    #[test]
    fn an_idle_claimed_logger_only_heartbeats() {
        let mut u = registered(true);
        assert_eq!(u.link(), Link::Claimed);
        assert_eq!(u.next(1_000, 0), Action::Wait { until_ms: 30_000 });
        assert_eq!(u.next(30_000, 0), Action::Send(Request::Heartbeat));
        u.done(Request::Heartbeat, Outcome::Alive { claimed: true }, 30_050);
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
        u.done(Request::Heartbeat, Outcome::Alive { claimed: true }, now);
        assert_eq!(u.failures(), 0);
        assert_eq!(u.next(now, 1), Action::Send(Request::Ingest));
    }

    #[test]
    fn a_claim_is_noticed_at_the_next_heartbeat() {
        let mut u = registered(false);
        assert_eq!(u.link(), Link::Pending);
        u.done(Request::Heartbeat, Outcome::Alive { claimed: true }, 30_000);
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
                heartbeat_interval_s: 0,
            },
            0,
        );
        assert_eq!(u.heartbeat_ms(), 5_000);
        u.done(
            Request::Register,
            Outcome::Registered {
                claimed: true,
                heartbeat_interval_s: u32::MAX,
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
}
