//! Which loggers are online: the last contact of each, kept in memory and saved in the background.
//!
//! Every device request touches its logger; a logger that misses three heartbeats is offline.
//! Keeping this in memory means a device request costs no extra database write; the monitor
//! task saves the contacts every tick, so a restart loses at most one tick of them.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::domain::{LoggerRow, TenantId};
use crate::store::DeviceAuth;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    /// The logger's row id.
    pub row: LoggerRow,
    pub tenant_id: Option<TenantId>,
    pub logger_id: String,
    pub online: bool,
    pub last_seen: i64,
}

#[derive(Debug)]
struct Contact {
    logger_id: String,
    tenant_id: Option<TenantId>,
    last_seen: i64,
    online: bool,
    unsaved: bool,
}

pub struct Presence {
    contacts: Mutex<HashMap<LoggerRow, Contact>>,
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
    /// Returns the others (row, last contact): they have been offline since.
    pub fn load(
        &self,
        rows: Vec<(LoggerRow, String, Option<TenantId>, Option<i64>)>,
        now: i64,
    ) -> Vec<(LoggerRow, i64)> {
        let mut contacts = self.contacts.lock().expect("presence lock");
        let mut offline = Vec::new();
        for (row, logger_id, tenant_id, last_seen) in rows {
            let Some(last_seen) = last_seen else { continue };
            let online = now - last_seen <= self.timeout_ms;
            if !online {
                offline.push((row, last_seen));
            }
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
        offline
    }

    /// Records a contact; returns the change when the logger was offline (or never seen) and
    /// this server `decides` (leads: replicas.rs). A server that does not only records the
    /// contact, for the leader to learn at its next [`Presence::merge`].
    pub fn touch(
        &self,
        device: &DeviceAuth,
        tenant_id: Option<TenantId>,
        now: i64,
        decides: bool,
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
        if contact.online || !decides {
            return None;
        }
        contact.online = true;
        Some(StatusChange {
            row: device.row,
            tenant_id,
            logger_id: contact.logger_id.clone(),
            online: true,
            last_seen: contact.last_seen,
        })
    }

    /// Marks silent loggers offline. Returns those that just went offline, and the contacts to save.
    pub fn sweep(&self, now: i64) -> (Vec<StatusChange>, Vec<(LoggerRow, i64, bool)>) {
        let mut contacts = self.contacts.lock().expect("presence lock");
        let mut went_offline = Vec::new();
        let mut to_save = Vec::new();
        for (row, c) in contacts.iter_mut() {
            if c.online && now - c.last_seen > self.timeout_ms {
                c.online = false;
                c.unsaved = true;
                went_offline.push(StatusChange {
                    row: *row,
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

    /// The contacts heard since the last call, to share with the other servers (a server that
    /// does not lead: the leader saves its own with [`Presence::sweep`]).
    pub fn heard(&self) -> Vec<(LoggerRow, i64)> {
        let mut contacts = self.contacts.lock().expect("presence lock");
        contacts
            .iter_mut()
            .filter(|(_, c)| c.unsaved)
            .map(|(row, c)| {
                c.unsaved = false;
                (*row, c.last_seen)
            })
            .collect()
    }

    /// Takes in what all servers on the database heard (`rows`: logger, hardware id, tenant,
    /// last contact, online as the leader last decided). The leader (`decides`) keeps its own
    /// view of who is online and returns the loggers that came online through another server;
    /// another server takes the leader's view and returns nothing.
    pub fn merge(
        &self,
        rows: Vec<(LoggerRow, String, Option<TenantId>, i64, bool)>,
        decides: bool,
        now: i64,
    ) -> Vec<StatusChange> {
        let mut contacts = self.contacts.lock().expect("presence lock");
        let mut came_online = Vec::new();
        for (row, logger_id, tenant_id, last_seen, online) in rows {
            let contact = contacts.entry(row).or_insert_with(|| Contact {
                logger_id,
                tenant_id,
                last_seen,
                online,
                unsaved: false,
            });
            contact.tenant_id = tenant_id;
            contact.last_seen = contact.last_seen.max(last_seen);
            if !decides {
                contact.online = online;
            } else if !contact.online && now - contact.last_seen <= self.timeout_ms {
                contact.online = true;
                contact.unsaved = true;
                came_online.push(StatusChange {
                    row,
                    tenant_id,
                    logger_id: contact.logger_id.clone(),
                    online: true,
                    last_seen: contact.last_seen,
                });
            }
        }
        came_online
    }

    /// Moves a logger to its tenant (when claimed); returns its status for the new tenant if online.
    pub fn set_tenant(&self, row: LoggerRow, tenant_id: TenantId) -> Option<StatusChange> {
        let mut contacts = self.contacts.lock().expect("presence lock");
        let c = contacts.get_mut(&row)?;
        c.tenant_id = Some(tenant_id);
        c.online.then(|| StatusChange {
            row,
            tenant_id: Some(tenant_id),
            logger_id: c.logger_id.clone(),
            online: true,
            last_seen: c.last_seen,
        })
    }

    /// The last contact and online flag of a logger, if it ever made contact.
    pub fn get(&self, row: LoggerRow) -> Option<(i64, bool)> {
        let contacts = self.contacts.lock().expect("presence lock");
        contacts.get(&row).map(|c| (c.last_seen, c.online))
    }

    /// The tenant's loggers marked offline: hardware id and last contact.
    pub fn offline(&self, tenant_id: TenantId) -> Vec<(String, i64)> {
        let contacts = self.contacts.lock().expect("presence lock");
        contacts
            .values()
            .filter(|c| !c.online && c.tenant_id == Some(tenant_id))
            .map(|c| (c.logger_id.clone(), c.last_seen))
            .collect()
    }

    pub fn forget(&self, row: LoggerRow) {
        self.contacts.lock().expect("presence lock").remove(&row);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(row: LoggerRow) -> DeviceAuth {
        DeviceAuth::for_tests(row, &format!("esp-{row}"), Some(TenantId(1)))
    }

    #[test]
    fn a_logger_is_offline_after_three_silent_intervals_and_online_at_its_next_contact() {
        let presence = Presence::new(1000);
        let d = device(LoggerRow(7));
        let came = presence
            .touch(&d, Some(TenantId(1)), 10_000, true)
            .expect("first contact brings it online");
        assert!(came.online);
        assert_eq!(
            presence.touch(&d, Some(TenantId(1)), 11_000, true),
            None,
            "already online"
        );
        let (gone, saved) = presence.sweep(14_000);
        assert!(gone.is_empty(), "exactly 3 intervals is not yet too long");
        assert_eq!(saved, [(LoggerRow(7), 11_000, true)]);
        let (gone, saved) = presence.sweep(14_001);
        assert_eq!(
            gone[0],
            StatusChange {
                row: LoggerRow(7),
                tenant_id: Some(TenantId(1)),
                logger_id: "esp-7".into(),
                online: false,
                last_seen: 11_000
            }
        );
        assert_eq!(saved, [(LoggerRow(7), 11_000, false)]);
        assert_eq!(
            presence.sweep(20_000),
            (vec![], vec![]),
            "reported once, saved once"
        );
        assert!(
            presence
                .touch(&d, Some(TenantId(1)), 20_001, true)
                .unwrap()
                .online
        );
        assert_eq!(presence.get(LoggerRow(7)), Some((20_001, true)));
    }

    #[test]
    fn loaded_contacts_are_online_only_if_recent() {
        let presence = Presence::new(1000);
        let offline = presence.load(
            vec![
                (LoggerRow(1), "a".into(), Some(TenantId(1)), Some(9_000)),
                (LoggerRow(2), "b".into(), None, Some(1_000)),
                (LoggerRow(3), "c".into(), None, None),
            ],
            10_000,
        );
        assert_eq!(presence.get(LoggerRow(1)), Some((9_000, true)));
        assert_eq!(presence.get(LoggerRow(2)), Some((1_000, false)));
        assert_eq!(presence.get(LoggerRow(3)), None);
        assert_eq!(offline, [(LoggerRow(2), 1_000)]);
    }

    #[test]
    fn with_replicas_only_the_leader_decides_and_learns_what_the_others_heard() {
        let (leader, other) = (Presence::new(1000), Presence::new(1000));
        let d = device(LoggerRow(7));
        // The other server hears the logger: it records, it does not announce.
        assert_eq!(other.touch(&d, Some(TenantId(1)), 10_000, false), None);
        assert_eq!(other.heard(), [(LoggerRow(7), 10_000)]);
        assert!(other.heard().is_empty(), "handed over once");
        // The leader learns it from the database: the logger came online, once.
        let row = (
            LoggerRow(7),
            "esp-7".to_string(),
            Some(TenantId(1)),
            10_000,
            false,
        );
        let came = leader.merge(vec![row.clone()], true, 10_500);
        assert_eq!(came.len(), 1);
        assert!(came[0].online);
        assert!(leader.merge(vec![row], true, 10_600).is_empty());
        // The other server takes the leader's view, whatever it had.
        other.merge(
            vec![(
                LoggerRow(7),
                "esp-7".into(),
                Some(TenantId(1)),
                10_000,
                true,
            )],
            false,
            10_700,
        );
        assert_eq!(other.get(LoggerRow(7)), Some((10_000, true)));
        // A contact too old is not a return.
        let stale = Presence::new(1000);
        let old = (LoggerRow(8), "esp-8".to_string(), None, 1_000, false);
        assert!(stale.merge(vec![old], true, 10_000).is_empty());
    }
}
