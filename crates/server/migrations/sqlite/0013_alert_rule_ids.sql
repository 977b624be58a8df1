-- 0013: alert rule ids are never given again. With a plain INTEGER PRIMARY KEY, SQLite reused
-- the id of the highest rule once it was deleted; the new rule then met the old one's alerts in
-- `alerts_open` and `alerts_once` (rule, machine, stop) and stayed silent about a stop the old
-- one had alerted on. AUTOINCREMENT, as the reports have, and a counter above every id a rule
-- or an alert has carried. No table refers to alert_rules by a foreign key (alerts keep their
-- rule's id and name as history), so the rebuild needs no pass with foreign keys off.
CREATE TABLE alert_rules_numbered (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  INTEGER NOT NULL REFERENCES tenants(id),
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
INSERT INTO alert_rules_numbered (id, tenant_id, body, created_at)
    SELECT id, tenant_id, body, created_at FROM alert_rules;
DROP TABLE alert_rules;
ALTER TABLE alert_rules_numbered RENAME TO alert_rules;
CREATE INDEX alert_rules_tenant ON alert_rules(tenant_id);
DELETE FROM sqlite_sequence WHERE name = 'alert_rules';
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'alert_rules', COALESCE(MAX(id), 0)
    FROM (SELECT MAX(id) AS id FROM alert_rules UNION ALL SELECT MAX(rule_id) FROM alerts);
