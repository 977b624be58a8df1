-- 0012: shift reports (docs/ALERTS.md, "Shift reports"). A report is kept as the JSON the API
-- checked (reports/config.rs); each period sent is a run, written with its email's delivery in
-- the outbox in one transaction. AUTOINCREMENT: a deleted report's id is never given again, so
-- a new report never finds the runs of an old one.
CREATE TABLE reports (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  INTEGER NOT NULL REFERENCES tenants(id),
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX reports_tenant ON reports(tenant_id);

-- Exactly one run per report and period (start and end: a daily and a weekly period may
-- start at the same midnight when a report's schedule changed), also across restarts and servers.
CREATE TABLE report_runs (
    id           INTEGER PRIMARY KEY,
    tenant_id    INTEGER NOT NULL REFERENCES tenants(id),
    report_id    INTEGER NOT NULL,
    period_start INTEGER NOT NULL,
    period_end   INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX report_runs_once ON report_runs(report_id, period_start, period_end);

-- A delivery tells of an alert, of a test, or (this column) of a report's run.
ALTER TABLE alert_deliveries ADD COLUMN report_run_id INTEGER REFERENCES report_runs(id);
