//! What the logger knows about itself right now, shared by the tasks that change it and read by
//! the display and the local page. One blocking mutex around plain data: every access is a short
//! copy in or out, never held across an `await`.

use core::cell::RefCell;

use alloc::string::String;
use assetlog_core::timebase::TimeBase;
use assetlog_core::uplink::Link;
use embassy_sync::blocking_mutex::Mutex;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use heapless::Deque;

use alloc::vec::Vec;

use crate::config::InputSpec;

/// One input's debounced state.
#[derive(Debug, Clone, Copy, Default)]
pub struct InputState {
    /// `None` until the first level has held for the debounce time.
    pub running: Option<bool>,
    /// Uptime (ms) since which the state holds.
    pub since_ms: u64,
}

/// The Wi-Fi side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WifiState {
    /// Joining the configured network.
    #[default]
    Connecting,
    /// Joined, with an address.
    Connected { ip: [u8; 4] },
    /// No network configured: only the setup portal runs.
    PortalOnly,
}

/// A change as it was recorded, for the page's list of recent changes.
#[derive(Debug, Clone, Copy)]
pub struct RecentChange {
    pub seq: u64,
    pub gpio: u8,
    pub running: bool,
    pub uptime_ms: u64,
}

/// How many recorded changes the page lists.
pub const RECENT: usize = 16;

#[derive(Debug, Clone)]
pub struct Status {
    pub logger_id: String,
    /// Each input and its state, in the order they are set.
    pub inputs: Vec<(InputSpec, InputState)>,
    pub wifi: WifiState,
    /// The setup portal's access point is up (its name).
    pub portal: Option<String>,
    pub rssi: Option<i32>,
    pub link: Link,
    /// Failed server requests in a row.
    pub failures: u32,
    pub claim_code: Option<String>,
    /// Events in the flash log not yet acknowledged by the server.
    pub queued: usize,
    /// Events dropped because the flash log was full (oldest first), over the logger's life.
    pub dropped: u64,
    pub time: TimeBase,
    /// The newest changes, newest last.
    pub recent: Deque<RecentChange, RECENT>,
    /// The latest problem worth showing (flash, server, Wi-Fi).
    pub last_error: Option<String>,
}

impl Status {
    fn new() -> Self {
        Self {
            logger_id: String::new(),
            inputs: Vec::new(),
            wifi: WifiState::Connecting,
            portal: None,
            rssi: None,
            link: Link::Unregistered,
            failures: 0,
            claim_code: None,
            queued: 0,
            dropped: 0,
            time: TimeBase::new(0),
            recent: Deque::new(),
            last_error: None,
        }
    }

    /// Notes a change that is now in the flash log.
    pub fn recorded(&mut self, change: RecentChange) {
        if let Some((_, state)) = self.inputs.iter_mut().find(|(s, _)| s.gpio == change.gpio) {
            *state = InputState {
                running: Some(change.running),
                since_ms: change.uptime_ms,
            };
        }
        if self.recent.is_full() {
            self.recent.pop_front();
        }
        let _ = self.recent.push_back(change);
    }
}

static STATUS: Mutex<CriticalSectionRawMutex, RefCell<Option<Status>>> =
    Mutex::new(RefCell::new(None));

/// Reads or changes the status.
pub fn with<R>(f: impl FnOnce(&mut Status) -> R) -> R {
    STATUS.lock(|cell| {
        let mut status = cell.borrow_mut();
        f(status.get_or_insert_with(Status::new))
    })
}

/// A copy to read at leisure (formatting a page inside [`with`] would hold off interrupts).
pub fn snapshot() -> Status {
    with(|s| s.clone())
}

/// Remembers a problem for the display and the page, and logs it.
pub fn error(message: String) {
    log::warn!("{message}");
    with(|s| s.last_error = Some(message));
}
