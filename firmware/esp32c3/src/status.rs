//! What the logger knows about itself right now, shared by the tasks that change it and read by
//! the display and the local page. One blocking mutex around plain data: every access is a short
//! copy in or out, never held across an `await`.

use core::cell::RefCell;

use alloc::string::String;
use embassy_sync::blocking_mutex::Mutex;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;

pub use assetlog_logger::view::{InputState, RecentChange, Status, WifiState};

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
