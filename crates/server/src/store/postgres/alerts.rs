//! Alerting's rows, as in SQLite's backend (store/sqlite/alerts.rs): an alert and the
//! deliveries that tell of it are written in one transaction.

use deadpool_postgres::Transaction;
use tokio_postgres::Row;

use super::super::{Result, StoreError, now_ms};
use super::{Pg, Scope};
use crate::domain::TenantId;
use crate::store::model::{
    AfterAttempt, Alert, AlertDoc, AlertQuery, Attempt, Delivery, DeliveryAttempt, NewAlert,
    NewDelivery, NewReportRun,
};

const ALERT_COLUMNS: &str = "id, tenant_id, rule_id, rule_name, kind, asset_id, logger_id, since, \
     opened_at, acknowledged_at, acknowledged_by, ack_comment, cleared_at, escalated_at, detail";

fn alert(r: &Row) -> Alert {
    let acknowledged_at: Option<i64> = r.get(9);
    let cleared_at: Option<i64> = r.get(12);
    let detail: String = r.get(14);
    Alert {
        id: r.get(0),
        tenant_id: r.get(1),
        rule_id: r.get(2),
        rule_name: r.get(3),
        kind: r.get(4),
        asset_id: r.get(5),
        logger_id: r.get(6),
        since: r.get(7),
        opened_at: r.get(8),
        acknowledged_at,
        acknowledged_by: r.get(10),
        ack_comment: r.get(11),
        cleared_at,
        escalated_at: r.get(13),
        state: Alert::state_of(acknowledged_at, cleared_at),
        detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
    }
}

async fn alert_by_id(tx: &Transaction<'_>, id: i64) -> Result<Alert> {
    let stmt = tx
        .prepare_cached(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1"))
        .await?;
    Ok(alert(&tx.query_one(&stmt, &[&id]).await?))
}

async fn enqueue(
    tx: &Transaction<'_>,
    tenant_id: TenantId,
    alert_id: Option<i64>,
    report_run_id: Option<i64>,
    deliveries: &[NewDelivery],
) -> Result<Vec<i64>> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO alert_deliveries
                 (tenant_id, alert_id, report_run_id, channel_id, channel_name, event, message,
                  state, due_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9) RETURNING id",
        )
        .await?;
    let now = now_ms();
    let mut ids = Vec::with_capacity(deliveries.len());
    for d in deliveries {
        let event = d.event.to_string();
        let row = tx
            .query_one(
                &stmt,
                &[
                    &tenant_id,
                    &alert_id,
                    &report_run_id,
                    &d.channel_id,
                    &d.channel_name,
                    &event,
                    &d.message,
                    &d.due_at,
                    &now,
                ],
            )
            .await?;
        ids.push(row.get(0));
    }
    Ok(ids)
}

async fn log_attempt(
    tx: &Transaction<'_>,
    tenant_id: TenantId,
    delivery_id: i64,
    a: &Attempt,
) -> Result<()> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO alert_attempts (tenant_id, delivery_id, at, ok, status, error)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .await?;
    tx.execute(
        &stmt,
        &[&tenant_id, &delivery_id, &a.at, &a.ok, &a.status, &a.error],
    )
    .await?;
    Ok(())
}

impl Pg {
    pub async fn alert_docs(
        &self,
        tenant_id: TenantId,
        doc: AlertDoc,
    ) -> Result<Vec<(i64, String)>> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let stmt = tx
            .prepare_cached(&format!(
                "SELECT id, body FROM {} WHERE tenant_id = $1 ORDER BY id",
                doc.table()
            ))
            .await?;
        let rows = tx.query(&stmt, &[&tenant_id]).await?;
        tx.commit().await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    pub async fn every_alert_doc(&self, doc: AlertDoc) -> Result<Vec<(TenantId, i64, String)>> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::System).await?;
        let stmt = tx
            .prepare_cached(&format!(
                "SELECT tenant_id, id, body FROM {} ORDER BY id",
                doc.table()
            ))
            .await?;
        let rows = tx.query(&stmt, &[]).await?;
        tx.commit().await?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }

    pub async fn add_alert_doc(
        &self,
        tenant_id: TenantId,
        doc: AlertDoc,
        body: String,
    ) -> Result<i64> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let stmt = tx
            .prepare_cached(&format!(
                "INSERT INTO {} (tenant_id, body, created_at) VALUES ($1, $2, $3) RETURNING id",
                doc.table()
            ))
            .await?;
        let id = tx
            .query_one(&stmt, &[&tenant_id, &body, &now_ms()])
            .await?
            .get(0);
        tx.commit().await?;
        Ok(id)
    }

    pub async fn update_alert_doc(
        &self,
        tenant_id: TenantId,
        doc: AlertDoc,
        id: i64,
        body: String,
    ) -> Result<()> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let stmt = tx
            .prepare_cached(&format!(
                "UPDATE {} SET body = $1 WHERE id = $2 AND tenant_id = $3",
                doc.table()
            ))
            .await?;
        let changed = tx.execute(&stmt, &[&body, &id, &tenant_id]).await?;
        tx.commit().await?;
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub async fn delete_alert_doc(
        &self,
        tenant_id: TenantId,
        doc: AlertDoc,
        id: i64,
    ) -> Result<()> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let stmt = tx
            .prepare_cached(&format!(
                "DELETE FROM {} WHERE id = $1 AND tenant_id = $2",
                doc.table()
            ))
            .await?;
        let changed = tx.execute(&stmt, &[&id, &tenant_id]).await?;
        tx.commit().await?;
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub async fn open_alert(
        &self,
        new: NewAlert,
        deliveries: Vec<NewDelivery>,
    ) -> Result<Option<Alert>> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(new.tenant_id)).await?;
        let stmt = tx
            .prepare_cached(
                "INSERT INTO alerts (tenant_id, rule_id, rule_name, kind, asset_id, logger_id,
                     since, opened_at, cleared_at, detail)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                 ON CONFLICT DO NOTHING RETURNING id",
            )
            .await?;
        let detail = new.detail.to_string();
        let Some(row) = tx
            .query_opt(
                &stmt,
                &[
                    &new.tenant_id,
                    &new.rule_id,
                    &new.rule_name,
                    &new.kind,
                    &new.asset_id,
                    &new.logger_id,
                    &new.since,
                    &new.opened_at,
                    &new.cleared_at,
                    &detail,
                ],
            )
            .await?
        else {
            tx.commit().await?;
            return Ok(None);
        };
        let id: i64 = row.get(0);
        enqueue(&tx, new.tenant_id, Some(id), None, &deliveries).await?;
        let opened = alert_by_id(&tx, id).await?;
        tx.commit().await?;
        Ok(Some(opened))
    }

    /// Sets one of the alert's times where `condition` holds, and enqueues the deliveries that
    /// tell of it; None when the condition did not hold (nothing changed).
    async fn mark_alert(
        &self,
        tenant_id: TenantId,
        id: i64,
        set: &str,
        condition: &str,
        at: i64,
        deliveries: &[NewDelivery],
    ) -> Result<Option<Alert>> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let stmt = tx
            .prepare_cached(&format!(
                "UPDATE alerts SET {set} = $1 WHERE id = $2 AND tenant_id = $3 AND {condition}"
            ))
            .await?;
        if tx.execute(&stmt, &[&at, &id, &tenant_id]).await? == 0 {
            tx.commit().await?;
            return Ok(None);
        }
        enqueue(&tx, tenant_id, Some(id), None, deliveries).await?;
        let marked = alert_by_id(&tx, id).await?;
        tx.commit().await?;
        Ok(Some(marked))
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
            &deliveries,
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
            &deliveries,
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
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let stmt = tx
            .prepare_cached(
                "SELECT acknowledged_at FROM alerts WHERE id = $1 AND tenant_id = $2 FOR UPDATE",
            )
            .await?;
        let acknowledged: Option<i64> = match tx.query_opt(&stmt, &[&id, &tenant_id]).await? {
            None => return Err(StoreError::NotFound),
            Some(row) => row.get(0),
        };
        if acknowledged.is_some() {
            return Err(StoreError::Conflict(
                "the alert is acknowledged already".into(),
            ));
        }
        let stmt = tx
            .prepare_cached(
                "UPDATE alerts SET acknowledged_at = $1, acknowledged_by = $2, ack_comment = $3
                 WHERE id = $4 AND tenant_id = $5",
            )
            .await?;
        tx.execute(&stmt, &[&at, &by, &comment, &id, &tenant_id])
            .await?;
        let acked = alert_by_id(&tx, id).await?;
        tx.commit().await?;
        Ok(acked)
    }

    pub async fn alerts(&self, tenant_id: TenantId, q: AlertQuery) -> Result<Vec<Alert>> {
        let state = match q.state {
            Some("active") => "AND cleared_at IS NULL AND acknowledged_at IS NULL",
            Some("acknowledged") => "AND cleared_at IS NULL AND acknowledged_at IS NOT NULL",
            Some("cleared") => "AND cleared_at IS NOT NULL",
            _ => "",
        };
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let stmt = tx
            .prepare_cached(&format!(
                "SELECT {ALERT_COLUMNS} FROM alerts
                 WHERE tenant_id = $1 AND opened_at >= $2 AND opened_at < $3 {state}
                 ORDER BY opened_at DESC, id DESC LIMIT $4"
            ))
            .await?;
        let rows = tx
            .query(
                &stmt,
                &[
                    &tenant_id,
                    &q.from.unwrap_or(i64::MIN),
                    &q.to.unwrap_or(i64::MAX),
                    &q.limit,
                ],
            )
            .await?;
        tx.commit().await?;
        Ok(rows.iter().map(alert).collect())
    }

    pub async fn open_alerts(&self) -> Result<Vec<Alert>> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::System).await?;
        let stmt = tx
            .prepare_cached(&format!(
                "SELECT {ALERT_COLUMNS} FROM alerts WHERE cleared_at IS NULL ORDER BY id"
            ))
            .await?;
        let rows = tx.query(&stmt, &[]).await?;
        tx.commit().await?;
        Ok(rows.iter().map(alert).collect())
    }

    pub async fn due_deliveries(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<Delivery>> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::System).await?;
        // SKIP LOCKED: a second sender (a leader that has not yet noticed it lost the lead)
        // takes other rows, never the same ones.
        let stmt = tx
            .prepare_cached(
                "UPDATE alert_deliveries SET due_at = $1
                 WHERE id IN (SELECT id FROM alert_deliveries
                              WHERE state = 'pending' AND due_at <= $2
                              ORDER BY due_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
                 RETURNING id, tenant_id, alert_id, channel_id, event, message, attempts, created_at,
                           report_run_id",
            )
            .await?;
        let rows = tx.query(&stmt, &[&lease_until, &now, &limit]).await?;
        tx.commit().await?;
        let mut due: Vec<Delivery> = rows
            .iter()
            .map(|r| Delivery {
                id: r.get(0),
                tenant_id: r.get(1),
                alert_id: r.get(2),
                channel_id: r.get(3),
                event: r.get(4),
                message: r.get(5),
                attempts: r.get(6),
                created_at: r.get(7),
                report_run_id: r.get(8),
            })
            .collect();
        due.sort_by_key(|d| d.id);
        Ok(due)
    }

    pub async fn finish_attempt(
        &self,
        tenant_id: TenantId,
        delivery_id: i64,
        attempt: Attempt,
        after: AfterAttempt,
    ) -> Result<()> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        log_attempt(&tx, tenant_id, delivery_id, &attempt).await?;
        let (state, due) = match after {
            AfterAttempt::Sent => ("sent", None),
            AfterAttempt::Retry(at) => ("pending", Some(at)),
            AfterAttempt::GiveUp => ("failed", None),
        };
        let stmt = tx
            .prepare_cached(
                "UPDATE alert_deliveries SET state = $1, due_at = COALESCE($2, due_at),
                     attempts = attempts + 1
                 WHERE id = $3 AND tenant_id = $4",
            )
            .await?;
        tx.execute(&stmt, &[&state, &due, &delivery_id, &tenant_id])
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn record_test_delivery(
        &self,
        tenant_id: TenantId,
        delivery: NewDelivery,
        attempt: Attempt,
    ) -> Result<()> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let id = enqueue(&tx, tenant_id, None, None, std::slice::from_ref(&delivery)).await?[0];
        log_attempt(&tx, tenant_id, id, &attempt).await?;
        let state = if attempt.ok { "sent" } else { "failed" };
        let stmt = tx
            .prepare_cached("UPDATE alert_deliveries SET state = $1, attempts = 1 WHERE id = $2")
            .await?;
        tx.execute(&stmt, &[&state, &id]).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn delivery_attempts(
        &self,
        tenant_id: TenantId,
        alert_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<DeliveryAttempt>> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(tenant_id)).await?;
        let stmt = tx
            .prepare_cached(
                "SELECT d.id, d.alert_id, d.channel_id, d.channel_name, d.event, a.at, a.ok, a.status, a.error,
                        r.report_id
                 FROM alert_attempts a JOIN alert_deliveries d ON d.id = a.delivery_id
                 LEFT JOIN report_runs r ON r.id = d.report_run_id AND r.tenant_id = $1
                 WHERE a.tenant_id = $1 AND d.tenant_id = $1
                   AND ($2::BIGINT IS NULL OR d.alert_id = $2)
                 ORDER BY a.at DESC, a.id DESC LIMIT $3",
            )
            .await?;
        let rows = tx.query(&stmt, &[&tenant_id, &alert_id, &limit]).await?;
        tx.commit().await?;
        Ok(rows
            .iter()
            .map(|r| DeliveryAttempt {
                delivery_id: r.get(0),
                alert_id: r.get(1),
                channel_id: r.get(2),
                channel_name: r.get(3),
                event: r.get(4),
                at: r.get(5),
                ok: r.get(6),
                status: r.get(7),
                error: r.get(8),
                report_id: r.get(9),
            })
            .collect())
    }
}

impl Pg {
    pub async fn add_report_run(&self, run: NewReportRun, delivery: NewDelivery) -> Result<bool> {
        let mut client = self.client().await?;
        let tx = super::begin(&mut client, Scope::Tenant(run.tenant_id)).await?;
        let stmt = tx
            .prepare_cached(
                "INSERT INTO report_runs (tenant_id, report_id, period_start, period_end, created_at)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING id",
            )
            .await?;
        let inserted = tx
            .query_opt(
                &stmt,
                &[
                    &run.tenant_id,
                    &run.report_id,
                    &run.period_start,
                    &run.period_end,
                    &now_ms(),
                ],
            )
            .await?;
        let Some(row) = inserted else {
            return Ok(false);
        };
        let id: i64 = row.get(0);
        enqueue(
            &tx,
            run.tenant_id,
            None,
            Some(id),
            std::slice::from_ref(&delivery),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn report_progress(
        &self,
        tenant_id: Option<TenantId>,
    ) -> Result<Vec<(TenantId, i64, i64)>> {
        let mut client = self.client().await?;
        let scope = tenant_id.map_or(Scope::System, Scope::Tenant);
        let tx = super::begin(&mut client, scope).await?;
        let stmt = tx
            .prepare_cached(
                "SELECT tenant_id, report_id, MAX(period_end) FROM report_runs
                 WHERE $1::BIGINT IS NULL OR tenant_id = $1
                 GROUP BY tenant_id, report_id",
            )
            .await?;
        let rows = tx.query(&stmt, &[&tenant_id]).await?;
        tx.commit().await?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }
}
