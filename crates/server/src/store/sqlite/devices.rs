//! What loggers do besides reporting (store/reports.rs): register, send heartbeats, and prove
//! who they are.

use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, params};

use super::pending::{PendingLimit, PendingLimits, count_pending};
use super::reports::ensure_asset;
use super::{Result, Sqlite, StoreError, now_ms};
use crate::domain::{LoggerRow, TenantId};
use crate::secrets::hash_secret;

/// A logger's credentials, as every device request checks them.
#[derive(Debug, Clone)]
pub struct DeviceAuth {
    /// The logger's row id (the `id` of the API).
    pub row: LoggerRow,
    pub logger_id: String,
    pub name: String,
    /// None while the logger is pending.
    pub tenant_id: Option<TenantId>,
    pub allow_keyless: bool,
    pub(in crate::store) key_hash: String,
}

impl DeviceAuth {
    /// Credentials with a throwaway key, for unit tests of code that only routes by logger.
    #[cfg(test)]
    pub fn for_tests(row: LoggerRow, logger_id: &str, tenant_id: Option<TenantId>) -> Self {
        Self {
            row,
            logger_id: logger_id.into(),
            name: logger_id.into(),
            tenant_id,
            allow_keyless: false,
            key_hash: String::new(),
        }
    }

    /// A request is the logger's when it carries the logger's key, or carries none and an admin
    /// allowed keyless posts for this claimed logger.
    pub fn accepts(&self, key: Option<&str>) -> bool {
        match key {
            Some(key) => hash_secret(key) == self.key_hash,
            None => self.allow_keyless && self.tenant_id.is_some(),
        }
    }
}

fn device_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeviceAuth> {
    Ok(DeviceAuth {
        row: r.get("id")?,
        logger_id: r.get("logger_id")?,
        name: r.get("name")?,
        tenant_id: r.get("tenant_id")?,
        allow_keyless: r.get("allow_keyless")?,
        key_hash: r.get("key_hash")?,
    })
}

pub(super) fn load_device(
    conn: &Connection,
    logger_id: &str,
) -> rusqlite::Result<Option<DeviceAuth>> {
    conn.prepare_cached(
        "SELECT id, logger_id, name, tenant_id, allow_keyless, key_hash FROM loggers
         WHERE logger_id = ?1 AND deleted_at IS NULL",
    )?
    .query_row([logger_id], device_from_row)
    .optional()
}

/// A `POST /api/device/register`, parsed.
#[derive(Debug, Clone)]
pub struct Registration {
    pub logger_id: String,
    pub logger_name: Option<String>,
    pub firmware_version: Option<String>,
    pub ip_address: Option<String>,
    pub assets: Vec<(u8, String)>,
    /// The key the request carried, if any.
    pub key: Option<String>,
    /// Used only when the logger is new: its key (shown once) and claim code.
    pub new_key: String,
    pub new_claim_code: String,
    /// Claim a new logger at once into the first tenant (`--enrollment auto`).
    pub auto_claim: bool,
    /// The address the request came from.
    pub remote_address: Option<String>,
}

#[derive(Debug, Clone)]
pub enum RegistrationOutcome {
    /// First registration of this hardware id: the key is in `Registration::new_key`.
    Created {
        device: DeviceAuth,
        claim_code: String,
    },
    Known {
        device: DeviceAuth,
        claim_code: String,
    },
    /// A known logger without its key.
    Rejected,
}

/// A heartbeat's telemetry.
#[derive(Debug, Clone, Default)]
pub struct Heartbeat {
    pub uptime_s: Option<i64>,
    pub rssi: Option<i64>,
    pub free_heap: Option<i64>,
    pub queued_events: Option<i64>,
    /// Events the logger's full queue dropped, since it was first set up.
    pub dropped_events: Option<i64>,
    pub firmware_version: Option<String>,
}

impl Sqlite {
    /// The credentials of a live logger, from memory when known.
    pub async fn device(&self, logger_id: &str) -> Result<Option<Arc<DeviceAuth>>> {
        let epoch = {
            let cache = self.inner.devices.read().expect("device cache");
            if let Some(d) = cache.map.get(logger_id) {
                return Ok(Some(d.clone()));
            }
            cache.epoch
        };
        let id = logger_id.to_owned();
        let loaded = self.read(move |conn| Ok(load_device(conn, &id)?)).await?;
        let Some(device) = loaded.map(Arc::new) else {
            return Ok(None);
        };
        let mut cache = self.inner.devices.write().expect("device cache");
        // Cache only if no credential changed while we read: else our copy may be stale.
        if cache.epoch == epoch {
            cache.map.insert(logger_id.to_owned(), device.clone());
        }
        Ok(Some(device))
    }

    /// As `device`: the cache is forgotten at every commit that changes credentials, on the one
    /// writer, and no other server writes this file.
    pub async fn reread_device(&self, logger_id: &str) -> Result<Option<Arc<DeviceAuth>>> {
        self.device(logger_id).await
    }

    /// Forgets cached credentials after a change (called on the writer thread after commit).
    pub(super) fn forget_device(&self, logger_id: &str) {
        let mut cache = self.inner.devices.write().expect("device cache");
        cache.epoch += 1;
        cache.map.remove(logger_id);
    }

    pub async fn register(&self, reg: Registration) -> Result<RegistrationOutcome> {
        let store = self.clone();
        let logger_id = reg.logger_id.clone();
        let caps = self.pending_limits();
        self.write_then(
            move |conn| register(conn, reg, caps),
            move |_| store.forget_device(&logger_id),
        )
        .await
    }

    pub async fn heartbeat(&self, device: &DeviceAuth, hb: Heartbeat) -> Result<()> {
        let logger_row = device.row;
        self.write(move |conn| {
            conn.prepare_cached(
                "UPDATE loggers SET uptime_s = COALESCE(?1, uptime_s), rssi = COALESCE(?2, rssi),
                 free_heap = COALESCE(?3, free_heap), queued_events = COALESCE(?4, queued_events),
                 firmware_version = COALESCE(?5, firmware_version),
                 dropped_events = COALESCE(?6, dropped_events) WHERE id = ?7",
            )?
            .execute(params![
                hb.uptime_s,
                hb.rssi,
                hb.free_heap,
                hb.queued_events,
                hb.firmware_version,
                hb.dropped_events,
                logger_row
            ])?;
            Ok(())
        })
        .await
    }
}

fn register(
    conn: &Connection,
    reg: Registration,
    caps: PendingLimits,
) -> Result<RegistrationOutcome> {
    let now = now_ms();
    if let Some(device) = load_device(conn, &reg.logger_id)? {
        if !device.accepts(reg.key.as_deref()) {
            return Ok(RegistrationOutcome::Rejected);
        }
        conn.execute(
            "UPDATE loggers SET firmware_version = COALESCE(?1, firmware_version),
             ip_address = COALESCE(?2, ip_address),
             remote_address = COALESCE(?3, remote_address) WHERE id = ?4",
            params![
                reg.firmware_version,
                reg.ip_address,
                reg.remote_address,
                device.row
            ],
        )?;
        let max_assets = device.tenant_id.is_none().then_some(caps.assets);
        for (pin, name) in &reg.assets {
            ensure_asset(
                conn,
                device.row,
                device.tenant_id,
                &device.name,
                *pin,
                Some(name),
                max_assets,
            )?;
        }
        let claim_code: String = conn.query_row(
            "SELECT claim_code FROM loggers WHERE id = ?1",
            [device.row],
            |r| r.get(0),
        )?;
        return Ok(RegistrationOutcome::Known { device, claim_code });
    }
    let tenant_id: Option<TenantId> = if reg.auto_claim {
        conn.query_row("SELECT MIN(id) FROM tenants", [], |r| r.get(0))?
    } else {
        None
    };
    if tenant_id.is_none() && count_pending(conn)? >= caps.loggers {
        return Err(StoreError::PendingFull {
            what: PendingLimit::Loggers,
            limit: caps.loggers,
        });
    }
    let name = reg
        .logger_name
        .clone()
        .unwrap_or_else(|| reg.logger_id.clone());
    conn.execute(
        "INSERT INTO loggers (logger_id, tenant_id, name, key_hash, claim_code, firmware_version, ip_address, created_at, remote_address)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            reg.logger_id,
            tenant_id,
            name,
            hash_secret(&reg.new_key),
            reg.new_claim_code,
            reg.firmware_version,
            reg.ip_address,
            now,
            reg.remote_address
        ],
    )?;
    let device = load_device(conn, &reg.logger_id)?.ok_or(StoreError::NotFound)?;
    let max_assets = tenant_id.is_none().then_some(caps.assets);
    for (pin, asset_name) in &reg.assets {
        ensure_asset(
            conn,
            device.row,
            tenant_id,
            &name,
            *pin,
            Some(asset_name),
            max_assets,
        )?;
    }
    Ok(RegistrationOutcome::Created {
        device,
        claim_code: reg.new_claim_code,
    })
}
