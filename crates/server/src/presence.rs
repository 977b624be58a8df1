//! Which loggers are online: the last contact of each, kept in memory and saved in the background.
//!
//! Every device request touches its logger; a logger that misses three heartbeats is offline.
//! Keeping this in memory means a device request costs no extra database write; the monitor
//! task saves the contacts every tick, so a restart loses at most one tick of them.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::store::DeviceAuth;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub tenant_id: Option<i64>,
    pub logger_id: String,
    pub online: bool,
    pub last_seen: i64,
}

#[derive(Debug)]
struct Contact {
    logger_id: String,
    tenant_id: Option<i64>,
    last_seen: i64,
    online: bool,
    unsaved: bool,
}

pub struct Presence {
    contacts: Mutex<HashMap<i64, Contact>>,
    /// Silence longer than this makes a logger offline (3 heartbeat intervals).
    timeout_ms: i64,
}

impl Presence {
    pub fn new(heartbeat_interval_ms: i64) -> Self {
        Self {
            contacts: Mutex::default(),
            timeout_ms: 3 * heartbeat_interval_ms,
        }
    }

    /// Seeds the table from the database at start: recently seen loggers count as online.
    pub fn load(&self, rows: Vec<(i64, String, Option<i64>, Option<i64>)>, now: i64) {
        let mut contacts = self.contacts.lock().expect("presence lock");
        for (row, logger_id, tenant_id, last_seen) in rows {
            let Some(last_seen) = last_seen else { continue };
            let online = now - last_seen <= self.timeout_ms;
            contacts.insert(
                row,
                Contact {
                    logger_id,
                    tenant_id,
                    last_seen,
                    online,
                    unsaved: false,
                },
            );
        }
    }

    /// Records a contact; returns the change when the logger was offline (or never seen).
    pub fn touch(
        &self,
        device: &DeviceAuth,
        tenant_id: Option<i64>,
        now: i64,
    ) -> Option<StatusChange> {
        let mut contacts = self.contacts.lock().expect("presence lock");
        let contact = contacts.entry(device.row).or_insert_with(|| Contact {
            logger_id: device.logger_id.clone(),
            tenant_id,
            last_seen: now,
            online: false,
            unsaved: true,
        });
        contact.tenant_id = tenant_id;
        contact.last_seen = contact.last_seen.max(now);
        contact.unsaved = true;
        if contact.online {
            return None;
        }
        contact.online = true;
        Some(StatusChange {
            tenant_id,
            logger_id: contact.logger_id.clone(),
            online: true,
            last_seen: contact.last_seen,
        })
    }

    /// Marks silent loggers offline. Returns those that just went offline, and the contacts to save.
    pub fn sweep(&self, now: i64) -> (Vec<StatusChange>, Vec<(i64, i64, bool)>) {
        let mut contacts = self.contacts.lock().expect("presence lock");
        let mut went_offline = Vec::new();
        let mut to_save = Vec::new();
        for (row, c) in contacts.iter_mut() {
            if c.online && now - c.last_seen > self.timeout_ms {
                c.online = false;
                c.unsaved = true;
                went_offline.push(StatusChange {
                    tenant_id: c.tenant_id,
                    logger_id: c.logger_id.clone(),
                    online: false,
                    last_seen: c.last_seen,
                });
            }
            if c.unsaved {
                c.unsaved = false;
                to_save.push((*row, c.last_seen, c.online));
            }
        }
        (went_offline, to_save)
    }

    /// The last contact and online flag of a logger, if it ever made contact.
    pub fn get(&self, row: i64) -> Option<(i64, bool)> {
        let contacts = self.contacts.lock().expect("presence lock");
        contacts.get(&row).map(|c| (c.last_seen, c.online))
    }

    pub fn forget(&self, row: i64) {
        self.contacts.lock().expect("presence lock").remove(&row);
    }
}
