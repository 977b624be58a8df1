//! What loggers do besides reporting: register, send heartbeats, and prove who they are (the
//! rules are those of store/sqlite/devices.rs).
//!
//! Credentials are remembered per server, as on SQLite, to spare a device request the four
//! round trips of reading them. Another server may change them meanwhile (rotate the key, claim
//! or delete the logger, allow or forbid keyless posts), so what is remembered is only a guess
//! that must be confirmed where it matters: a report's group compares it with the logger's row it
//! locks, a heartbeat's `UPDATE` matches it; both answer `CredentialsChanged` when it is stale,
//! and `ingest` reads the credentials again and decides anew. A request the remembered ones
//! refuse reads them again too (`ingest::authenticate`), so a new key works at once.
//! This server's own changes forget what they change after their commit.

use std::collections::HashMap;
use std::sync::Arc;

use deadpool_postgres::Transaction;
use tokio_postgres::Row;

use super::super::{
    DeviceAuth, Heartbeat, PendingLimit, PendingLimits, Registration, RegistrationOutcome, Result,
    StoreError, now_ms,
};
use super::{Pg, Scope};
use crate::domain::{AssetId, LoggerRow, TenantId};
use crate::secrets::hash_secret;

/// Advisory lock held by a registration that makes a new logger: it re-reads the hardware id and
/// counts the pending loggers under it, so two racing first registrations of one id make one
/// logger (the second is then a known one, as on SQLite), and racing new loggers cannot pass the
/// cap on pending loggers together.
const NEW_LOGGER_LOCK: i64 = 0x6173_7365_746e_6577; // "assetnew"

const DEVICE_SELECT: &str = "SELECT id, logger_id, name, tenant_id, allow_keyless, key_hash
     FROM loggers WHERE logger_id = $1 AND deleted_at IS NULL";

/// Credentials remembered by hardware id; `epoch` counts the forgettings, so a read that raced
/// one is not remembered.
#[derive(Default)]
pub(super) struct Remembered {
    map: HashMap<String, Arc<DeviceAuth>>,
    epoch: u64,
}

/// Whether a logger's row still has the credentials a request was authenticated with.
pub(super) fn still_holds(
    device: &DeviceAuth,
    tenant_id: Option<TenantId>,
    allow_keyless: bool,
    key_hash: &str,
) -> bool {
    device.tenant_id == tenant_id
        && device.allow_keyless == allow_keyless
        && device.key_hash == key_hash
}

fn device_from_row(r: &Row) -> Result<DeviceAuth> {
    Ok(DeviceAuth {
        row: r.try_get("id")?,
        logger_id: r.try_get("logger_id")?,
        name: r.try_get("name")?,
        tenant_id: r.try_get("tenant_id")?,
        allow_keyless: r.try_get("allow_keyless")?,
        key_hash: r.try_get("key_hash")?,
    })
}

/// The credentials of the live logger with this hardware id. With `lock`, its row stays locked
/// (`FOR NO KEY UPDATE`) until the transaction ends, so a claim, key rotation or deletion waits
/// for this transaction, and what it read of the logger (its tenant, key) stays true meanwhile;
/// reports, which only reference the row, do not wait.
pub(super) async fn load_device(
    tx: &Transaction<'_>,
    logger_id: &str,
    lock: bool,
) -> Result<Option<DeviceAuth>> {
    let stmt = if lock {
        tx.prepare_cached(&format!("{DEVICE_SELECT} FOR NO KEY UPDATE"))
            .await?
    } else {
        tx.prepare_cached(DEVICE_SELECT).await?
    };
    tx.query_opt(&stmt, &[&logger_id])
        .await?
        .as_ref()
        .map(device_from_row)
        .transpose()
}

/// Pending loggers registered now (the cap of new registrations).
pub(super) async fn count_pending(tx: &Transaction<'_>) -> Result<i64> {
    let stmt = tx
        .prepare_cached(
            "SELECT COUNT(*) FROM loggers WHERE tenant_id IS NULL AND deleted_at IS NULL",
        )
        .await?;
    Ok(tx.query_one(&stmt, &[]).await?.try_get(0)?)
}

/// The asset on `pin` of the logger, made if it has none yet (named `name`, else
/// `"{logger_name} pin {pin}"`), as SQLite's `reports::ensure_asset`. With `max_assets` (a
/// pending logger), refuses to make one past that many.
///
/// The caller holds the logger's row lock (`load_device(.., true)`), so the count of assets
/// cannot be passed by a racing transaction; a racing insert of the same pin is met by the
/// unique key and answered with the asset it made.
pub(super) async fn ensure_asset(
    tx: &Transaction<'_>,
    logger_row: LoggerRow,
    tenant_id: Option<TenantId>,
    logger_name: &str,
    pin: u8,
    name: Option<&str>,
    max_assets: Option<i64>,
) -> Result<AssetId> {
    let find = tx
        .prepare_cached("SELECT id FROM assets WHERE logger_row = $1 AND pin = $2")
        .await?;
    let pin_sql = i16::from(pin);
    if let Some(found) = tx.query_opt(&find, &[&logger_row, &pin_sql]).await? {
        return Ok(found.try_get(0)?);
    }
    if let Some(max) = max_assets {
        let count = tx
            .prepare_cached("SELECT COUNT(*) FROM assets WHERE logger_row = $1")
            .await?;
        if tx
            .query_one(&count, &[&logger_row])
            .await?
            .try_get::<_, i64>(0)?
            >= max
        {
            return Err(StoreError::PendingFull {
                what: PendingLimit::Assets,
                limit: max,
            });
        }
    }
    let name = name
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{logger_name} pin {pin}"));
    let insert = tx
        .prepare_cached(
            "INSERT INTO assets (logger_row, tenant_id, pin, name) VALUES ($1, $2, $3, $4)
             ON CONFLICT (logger_row, pin) DO NOTHING RETURNING id",
        )
        .await?;
    match tx
        .query_opt(&insert, &[&logger_row, &tenant_id, &pin_sql, &name])
        .await?
    {
        Some(made) => Ok(made.try_get(0)?),
        // Made meanwhile by a transaction that committed since (the insert waited for it).
        None => Ok(tx
            .query_one(&find, &[&logger_row, &pin_sql])
            .await?
            .try_get(0)?),
    }
}

impl Pg {
    /// The credentials of a live logger, remembered when known (see the module docs).
    pub async fn device(&self, logger_id: &str) -> Result<Option<Arc<DeviceAuth>>> {
        let epoch = {
            let remembered = self.inner.devices.read().expect("devices");
            if let Some(device) = remembered.map.get(logger_id) {
                return Ok(Some(device.clone()));
            }
            remembered.epoch
        };
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::System).await?;
        let device = load_device(&tx, logger_id, false).await?.map(Arc::new);
        tx.commit().await?;
        if let Some(device) = &device {
            let mut remembered = self.inner.devices.write().expect("devices");
            if remembered.epoch == epoch {
                remembered.map.insert(logger_id.to_owned(), device.clone());
            }
        }
        Ok(device)
    }

    /// The credentials read from the database, whatever was remembered.
    pub async fn reread_device(&self, logger_id: &str) -> Result<Option<Arc<DeviceAuth>>> {
        self.forget_device(logger_id);
        self.device(logger_id).await
    }

    /// Forgets one logger's remembered credentials.
    pub(super) fn forget_device(&self, logger_id: &str) {
        let mut remembered = self.inner.devices.write().expect("devices");
        remembered.epoch += 1;
        remembered.map.remove(logger_id);
    }

    /// Forgets all remembered credentials (after a change made by row id: rare, admin work).
    pub(super) fn forget_devices(&self) {
        let mut remembered = self.inner.devices.write().expect("devices");
        remembered.epoch += 1;
        remembered.map.clear();
    }

    pub async fn register(&self, reg: Registration) -> Result<RegistrationOutcome> {
        let caps = self.pending_limits();
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::System).await?;
        let logger_id = reg.logger_id.clone();
        let outcome = register(&tx, reg, caps).await?;
        tx.commit().await?;
        self.forget_device(&logger_id);
        Ok(outcome)
    }

    /// Records a heartbeat, if the logger's row still has `device`'s credentials.
    pub async fn heartbeat(&self, device: &DeviceAuth, hb: Heartbeat) -> Result<()> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::System).await?;
        let stmt = tx
            .prepare_cached(
                "UPDATE loggers SET uptime_s = COALESCE($1, uptime_s), rssi = COALESCE($2, rssi),
                 free_heap = COALESCE($3, free_heap), queued_events = COALESCE($4, queued_events),
                 firmware_version = COALESCE($5, firmware_version),
                 dropped_events = COALESCE($6, dropped_events)
                 WHERE id = $7 AND deleted_at IS NULL AND tenant_id IS NOT DISTINCT FROM $8
                 AND allow_keyless = $9 AND key_hash = $10",
            )
            .await?;
        let updated = tx
            .execute(
                &stmt,
                &[
                    &hb.uptime_s,
                    &hb.rssi,
                    &hb.free_heap,
                    &hb.queued_events,
                    &hb.firmware_version,
                    &hb.dropped_events,
                    &device.row,
                    &device.tenant_id,
                    &device.allow_keyless,
                    &device.key_hash,
                ],
            )
            .await?;
        tx.commit().await?;
        if updated == 0 {
            self.forget_device(&device.logger_id);
            return Err(StoreError::CredentialsChanged);
        }
        Ok(())
    }
}

async fn register(
    tx: &Transaction<'_>,
    reg: Registration,
    caps: PendingLimits,
) -> Result<RegistrationOutcome> {
    if let Some(device) = load_device(tx, &reg.logger_id, true).await? {
        return known(tx, device, &reg, caps).await;
    }
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&NEW_LOGGER_LOCK])
        .await?;
    // Registered meanwhile (READ COMMITTED: this statement sees what committed before the lock).
    if let Some(device) = load_device(tx, &reg.logger_id, true).await? {
        return known(tx, device, &reg, caps).await;
    }
    let tenant_id: Option<TenantId> = if reg.auto_claim {
        let first = tx.prepare_cached("SELECT MIN(id) FROM tenants").await?;
        tx.query_one(&first, &[]).await?.try_get(0)?
    } else {
        None
    };
    if tenant_id.is_none() && count_pending(tx).await? >= caps.loggers {
        return Err(StoreError::PendingFull {
            what: PendingLimit::Loggers,
            limit: caps.loggers,
        });
    }
    let name = reg
        .logger_name
        .clone()
        .unwrap_or_else(|| reg.logger_id.clone());
    let key_hash = hash_secret(&reg.new_key);
    let insert = tx
        .prepare_cached(
            "INSERT INTO loggers (logger_id, tenant_id, name, key_hash, claim_code,
                 firmware_version, ip_address, created_at, remote_address)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .await?;
    let row: LoggerRow = tx
        .query_one(
            &insert,
            &[
                &reg.logger_id,
                &tenant_id,
                &name,
                &key_hash,
                &reg.new_claim_code,
                &reg.firmware_version,
                &reg.ip_address,
                &now_ms(),
                &reg.remote_address,
            ],
        )
        .await?
        .try_get(0)?;
    let device = DeviceAuth {
        row,
        logger_id: reg.logger_id.clone(),
        name: name.clone(),
        tenant_id,
        allow_keyless: false,
        key_hash,
    };
    let max_assets = tenant_id.is_none().then_some(caps.assets);
    for (pin, asset_name) in &reg.assets {
        ensure_asset(
            tx,
            device.row,
            tenant_id,
            &name,
            *pin,
            Some(asset_name),
            max_assets,
        )
        .await?;
    }
    Ok(RegistrationOutcome::Created {
        device,
        claim_code: reg.new_claim_code,
    })
}

/// A registration of a logger that exists (its row locked by the caller).
async fn known(
    tx: &Transaction<'_>,
    device: DeviceAuth,
    reg: &Registration,
    caps: PendingLimits,
) -> Result<RegistrationOutcome> {
    if !device.accepts(reg.key.as_deref()) {
        return Ok(RegistrationOutcome::Rejected);
    }
    let update = tx
        .prepare_cached(
            "UPDATE loggers SET firmware_version = COALESCE($1, firmware_version),
             ip_address = COALESCE($2, ip_address),
             remote_address = COALESCE($3, remote_address) WHERE id = $4
             RETURNING claim_code",
        )
        .await?;
    let claim_code: String = tx
        .query_one(
            &update,
            &[
                &reg.firmware_version,
                &reg.ip_address,
                &reg.remote_address,
                &device.row,
            ],
        )
        .await?
        .try_get(0)?;
    let max_assets = device.tenant_id.is_none().then_some(caps.assets);
    for (pin, name) in &reg.assets {
        ensure_asset(
            tx,
            device.row,
            device.tenant_id,
            &device.name,
            *pin,
            Some(name),
            max_assets,
        )
        .await?;
    }
    Ok(RegistrationOutcome::Known { device, claim_code })
}
