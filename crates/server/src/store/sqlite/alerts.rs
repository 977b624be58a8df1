//! Alerting's rows: channels and rules (checked JSON documents), alerts, and the outbox of
//! their deliveries with every attempt (docs/ALERTS.md). An alert and the deliveries that tell
//! of it are written in one transaction, so none is told of without being stored, and none is
//! stored without being told of.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{Result, Sqlite, StoreError, now_ms};
use crate::domain::TenantId;
use crate::store::model::{
    AfterAttempt, Alert, AlertDoc, AlertQuery, Attempt, Delivery, DeliveryAttempt, NewAlert,
    NewDelivery, NewReportRun,
};

const ALERT_COLUMNS: &str = "id, tenant_id, rule_id, rule_name, kind, asset_id, logger_id, since, \
     opened_at, acknowledged_at, acknowledged_by, ack_comment, cleared_at, escalated_at, detail";

fn alert(r: &Row<'_>) -> rusqlite::Result<Alert> {
    let acknowledged_at: Option<i64> = r.get(9)?;
    let cleared_at: Option<i64> = r.get(12)?;
    let detail: String = r.get(14)?;
    Ok(Alert {
        id: r.get(0)?,
        tenant_id: r.get(1)?,
        rule_id: r.get(2)?,
        rule_name: r.get(3)?,
        kind: r.get(4)?,
        asset_id: r.get(5)?,
        logger_id: r.get(6)?,
        since: r.get(7)?,
        opened_at: r.get(8)?,
        acknowledged_at,
        acknowledged_by: r.get(10)?,
        ack_comment: r.get(11)?,
        cleared_at,
        escalated_at: r.get(13)?,
        state: Alert::state_of(acknowledged_at, cleared_at),
        detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
    })
}

fn alert_by_id(conn: &Connection, id: i64) -> Result<Alert> {
    Ok(conn.query_row(
        &format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = ?1"),
        [id],
        alert,
    )?)
}

fn enqueue(
    conn: &Connection,
    tenant_id: TenantId,
    alert_id: Option<i64>,
    report_run_id: Option<i64>,
    deliveries: &[NewDelivery],
) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO alert_deliveries
             (tenant_id, alert_id, report_run_id, channel_id, channel_name, event, message, state,
              due_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, ?9)",
    )?;
    let now = now_ms();
    for d in deliveries {
        stmt.execute(params![
            tenant_id,
            alert_id,
            report_run_id,
            d.channel_id,
            d.channel_name,
            d.event,
            d.message,
            d.due_at,
            now
        ])?;
    }
    Ok(())
}

fn log_attempt(
    conn: &Connection,
    tenant_id: TenantId,
    delivery_id: i64,
    a: &Attempt,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO alert_attempts (tenant_id, delivery_id, at, ok, status, error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        tenant_id,
        delivery_id,
        a.at,
        a.ok,
        a.status,
        a.error
    ])?;
    Ok(())
}

impl Sqlite {
    pub async fn alert_docs(
        &self,
        tenant_id: TenantId,
        doc: AlertDoc,
    ) -> Result<Vec<(i64, String)>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT id, body FROM {} WHERE tenant_id = ?1 ORDER BY id",
                doc.table()
            ))?;
            let rows = stmt
                .query_map([tenant_id], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
        .await
    }

    pub async fn every_alert_doc(&self, doc: AlertDoc) -> Result<Vec<(TenantId, i64, String)>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT tenant_id, id, body FROM {} ORDER BY id",
                doc.table()
            ))?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
        .await
    }

    pub async fn add_alert_doc(
        &self,
        tenant_id: TenantId,
        doc: AlertDoc,
        body: String,
    ) -> Result<i64> {
        self.write(move |conn| {
            conn.execute(
                &format!(
                    "INSERT INTO {} (tenant_id, body, created_at) VALUES (?1, ?2, ?3)",
                    doc.table()
                ),
                params![tenant_id, body, now_ms()],
            )?;
            Ok(conn.last_insert_rowid())
        })
        .await
    }

    pub async fn update_alert_doc(
        &self,
        tenant_id: TenantId,
        doc: AlertDoc,
        id: i64,
        body: String,
    ) -> Result<()> {
        self.write(move |conn| {
            match conn.execute(
                &format!(
                    "UPDATE {} SET body = ?1 WHERE id = ?2 AND tenant_id = ?3",
                    doc.table()
                ),
                params![body, id, tenant_id],
            )? {
                0 => Err(StoreError::NotFound),
                _ => Ok(()),
            }
        })
        .await
    }

    pub async fn delete_alert_doc(
        &self,
        tenant_id: TenantId,
        doc: AlertDoc,
        id: i64,
    ) -> Result<()> {
        self.write(move |conn| {
            match conn.execute(
                &format!(
                    "DELETE FROM {} WHERE id = ?1 AND tenant_id = ?2",
                    doc.table()
                ),
                params![id, tenant_id],
            )? {
                0 => Err(StoreError::NotFound),
                _ => Ok(()),
            }
        })
        .await
    }

    pub async fn open_alert(
        &self,
        new: NewAlert,
        deliveries: Vec<NewDelivery>,
    ) -> Result<Option<Alert>> {
        self.write(move |conn| {
            let inserted = conn
                .prepare_cached(
                    "INSERT INTO alerts (tenant_id, rule_id, rule_name, kind, asset_id, logger_id,
                         since, opened_at, cleared_at, detail)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                     ON CONFLICT DO NOTHING",
                )?
                .execute(params![
                    new.tenant_id,
                    new.rule_id,
                    new.rule_name,
                    new.kind,
                    new.asset_id,
                    new.logger_id,
                    new.since,
                    new.opened_at,
                    new.cleared_at,
                    new.detail.to_string()
                ])?;
            if inserted == 0 {
                return Ok(None);
            }
            let id = conn.last_insert_rowid();
            enqueue(conn, new.tenant_id, Some(id), None, &deliveries)?;
            alert_by_id(conn, id).map(Some)
        })
        .await
    }

    /// Sets one of the alert's times where `condition` holds, and enqueues the deliveries that
    /// tell of it; None when the condition did not hold (nothing changed). As PostgreSQL's.
    async fn mark_alert(
        &self,
        tenant_id: TenantId,
        id: i64,
        set: &'static str,
        condition: &'static str,
        at: i64,
        deliveries: Vec<NewDelivery>,
    ) -> Result<Option<Alert>> {
        self.write(move |conn| {
            let changed = conn.execute(
                &format!(
                    "UPDATE alerts SET {set} = ?1 WHERE id = ?2 AND tenant_id = ?3 AND {condition}"
                ),
                params![at, id, tenant_id],
            )?;
            if changed == 0 {
                return Ok(None);
            }
            enqueue(conn, tenant_id, Some(id), None, &deliveries)?;
            alert_by_id(conn, id).map(Some)
        })
        .await
    }

    pub async fn clear_alert(
        &self,
        tenant_id: TenantId,
        id: i64,
        at: i64,
        deliveries: Vec<NewDelivery>,
    ) -> Result<Option<Alert>> {
        self.mark_alert(
            tenant_id,
            id,
            "cleared_at",
            "cleared_at IS NULL",
            at,
            deliveries,
        )
        .await
    }

    pub async fn escalate_alert(
        &self,
        tenant_id: TenantId,
        id: i64,
        at: i64,
        deliveries: Vec<NewDelivery>,
    ) -> Result<Option<Alert>> {
        self.mark_alert(
            tenant_id,
            id,
            "escalated_at",
            "cleared_at IS NULL AND acknowledged_at IS NULL AND escalated_at IS NULL",
            at,
            deliveries,
        )
        .await
    }

    pub async fn acknowledge_alert(
        &self,
        tenant_id: TenantId,
        id: i64,
        at: i64,
        by: String,
        comment: Option<String>,
    ) -> Result<Alert> {
        self.write(move |conn| {
            let acknowledged: Option<Option<i64>> = conn
                .query_row(
                    "SELECT acknowledged_at FROM alerts WHERE id = ?1 AND tenant_id = ?2",
                    params![id, tenant_id],
                    |r| r.get(0),
                )
                .optional()?;
            match acknowledged {
                None => return Err(StoreError::NotFound),
                Some(Some(_)) => {
                    return Err(StoreError::Conflict(
                        "the alert is acknowledged already".into(),
                    ));
                }
                Some(None) => {}
            }
            conn.execute(
                "UPDATE alerts SET acknowledged_at = ?1, acknowledged_by = ?2, ack_comment = ?3
                 WHERE id = ?4 AND tenant_id = ?5",
                params![at, by, comment, id, tenant_id],
            )?;
            alert_by_id(conn, id)
        })
        .await
    }

    pub async fn alerts(&self, tenant_id: TenantId, q: AlertQuery) -> Result<Vec<Alert>> {
        self.read(move |conn| {
            let state = match q.state {
                Some("active") => "AND cleared_at IS NULL AND acknowledged_at IS NULL",
                Some("acknowledged") => "AND cleared_at IS NULL AND acknowledged_at IS NOT NULL",
                Some("cleared") => "AND cleared_at IS NOT NULL",
                _ => "",
            };
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {ALERT_COLUMNS} FROM alerts
                 WHERE tenant_id = ?1 AND opened_at >= ?2 AND opened_at < ?3 {state}
                 ORDER BY opened_at DESC, id DESC LIMIT ?4"
            ))?;
            let rows = stmt
                .query_map(
                    params![
                        tenant_id,
                        q.from.unwrap_or(i64::MIN),
                        q.to.unwrap_or(i64::MAX),
                        q.limit
                    ],
                    alert,
                )?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
        .await
    }

    pub async fn open_alerts(&self) -> Result<Vec<Alert>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {ALERT_COLUMNS} FROM alerts WHERE cleared_at IS NULL ORDER BY id"
            ))?;
            let rows = stmt
                .query_map([], alert)?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
        .await
    }

    pub async fn due_deliveries(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<Delivery>> {
        self.write(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, tenant_id, alert_id, channel_id, event, message, attempts, created_at,
                        report_run_id
                 FROM alert_deliveries WHERE state = 'pending' AND due_at <= ?1
                 ORDER BY due_at, id LIMIT ?2",
            )?;
            let due: Vec<Delivery> = stmt
                .query_map(params![now, limit], |r| {
                    Ok(Delivery {
                        id: r.get(0)?,
                        tenant_id: r.get(1)?,
                        alert_id: r.get(2)?,
                        channel_id: r.get(3)?,
                        event: r.get(4)?,
                        message: r.get(5)?,
                        attempts: r.get(6)?,
                        created_at: r.get(7)?,
                        report_run_id: r.get(8)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            let mut lease =
                conn.prepare_cached("UPDATE alert_deliveries SET due_at = ?1 WHERE id = ?2")?;
            for d in &due {
                lease.execute(params![lease_until, d.id])?;
            }
            Ok(due)
        })
        .await
    }

    pub async fn finish_attempt(
        &self,
        tenant_id: TenantId,
        delivery_id: i64,
        attempt: Attempt,
        after: AfterAttempt,
    ) -> Result<()> {
        self.write(move |conn| {
            log_attempt(conn, tenant_id, delivery_id, &attempt)?;
            let (state, due) = match after {
                AfterAttempt::Sent => ("sent", None),
                AfterAttempt::Retry(at) => ("pending", Some(at)),
                AfterAttempt::GiveUp => ("failed", None),
            };
            conn.execute(
                "UPDATE alert_deliveries SET state = ?1, due_at = COALESCE(?2, due_at),
                     attempts = attempts + 1
                 WHERE id = ?3 AND tenant_id = ?4",
                params![state, due, delivery_id, tenant_id],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn record_test_delivery(
        &self,
        tenant_id: TenantId,
        delivery: NewDelivery,
        attempt: Attempt,
    ) -> Result<()> {
        self.write(move |conn| {
            enqueue(conn, tenant_id, None, None, std::slice::from_ref(&delivery))?;
            let id = conn.last_insert_rowid();
            log_attempt(conn, tenant_id, id, &attempt)?;
            conn.execute(
                "UPDATE alert_deliveries SET state = ?1, attempts = 1 WHERE id = ?2",
                params![if attempt.ok { "sent" } else { "failed" }, id],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn delivery_attempts(
        &self,
        tenant_id: TenantId,
        alert_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<DeliveryAttempt>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT d.id, d.alert_id, d.channel_id, d.channel_name, d.event, a.at, a.ok, a.status, a.error,
                        r.report_id
                 FROM alert_attempts a JOIN alert_deliveries d ON d.id = a.delivery_id
                 LEFT JOIN report_runs r ON r.id = d.report_run_id AND r.tenant_id = ?1
                 WHERE a.tenant_id = ?1 AND d.tenant_id = ?1 AND (?2 IS NULL OR d.alert_id = ?2)
                 ORDER BY a.at DESC, a.id DESC LIMIT ?3",
            )?;
            let rows = stmt
                .query_map(params![tenant_id, alert_id, limit], |r| {
                    Ok(DeliveryAttempt {
                        delivery_id: r.get(0)?,
                        alert_id: r.get(1)?,
                        channel_id: r.get(2)?,
                        channel_name: r.get(3)?,
                        event: r.get(4)?,
                        at: r.get(5)?,
                        ok: r.get(6)?,
                        status: r.get(7)?,
                        error: r.get(8)?,
                        report_id: r.get(9)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
        .await
    }
}

impl Sqlite {
    pub async fn add_report_run(&self, run: NewReportRun, delivery: NewDelivery) -> Result<bool> {
        self.write(move |conn| {
            let inserted = conn
                .prepare_cached(
                    "INSERT INTO report_runs (tenant_id, report_id, period_start, period_end, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                )?
                .execute(params![
                    run.tenant_id,
                    run.report_id,
                    run.period_start,
                    run.period_end,
                    now_ms()
                ])?;
            if inserted == 0 {
                return Ok(false);
            }
            let id = conn.last_insert_rowid();
            enqueue(
                conn,
                run.tenant_id,
                None,
                Some(id),
                std::slice::from_ref(&delivery),
            )?;
            Ok(true)
        })
        .await
    }

    pub async fn report_progress(
        &self,
        tenant_id: Option<TenantId>,
    ) -> Result<Vec<(TenantId, i64, i64)>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT tenant_id, report_id, MAX(period_end) FROM report_runs
                 WHERE ?1 IS NULL OR tenant_id = ?1
                 GROUP BY tenant_id, report_id",
            )?;
            let rows = stmt
                .query_map([tenant_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
        .await
    }
}
