-- 0011: alerting (docs/ALERTS.md). Channels and rules are kept as the JSON the API checked
-- (alerts/config.rs); alerts and their deliveries are rows.
CREATE TABLE alert_channels (
    id         INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants(id),
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX alert_channels_tenant ON alert_channels(tenant_id);

CREATE TABLE alert_rules (
    id         INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants(id),
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX alert_rules_tenant ON alert_rules(tenant_id);

-- One row per alert: about one stop of one machine, or one offline spell of one logger
-- (`since`). The rule may be deleted since; the alert stays in the history.
CREATE TABLE alerts (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenants(id),
    rule_id         INTEGER NOT NULL,
    rule_name       TEXT NOT NULL,
    kind            TEXT NOT NULL,
    asset_id        INTEGER,
    logger_id       TEXT,
    since           INTEGER NOT NULL,
    opened_at       INTEGER NOT NULL,
    acknowledged_at INTEGER,
    acknowledged_by TEXT,
    ack_comment     TEXT,
    cleared_at      INTEGER,
    escalated_at    INTEGER,
    detail          TEXT NOT NULL
);
-- Exactly one open alert per rule and machine (or logger), and one alert per stop (or spell).
CREATE UNIQUE INDEX alerts_open ON alerts(rule_id, COALESCE(asset_id, 0), COALESCE(logger_id, ''))
    WHERE cleared_at IS NULL;
CREATE UNIQUE INDEX alerts_once ON alerts(rule_id, COALESCE(asset_id, 0), COALESCE(logger_id, ''), since);
CREATE INDEX alerts_tenant ON alerts(tenant_id, opened_at);

-- The outbox: a message for one channel, sent (and retried) by the leader until it is
-- delivered or given up; every attempt is logged in alert_attempts.
CREATE TABLE alert_deliveries (
    id           INTEGER PRIMARY KEY,
    tenant_id    INTEGER NOT NULL REFERENCES tenants(id),
    alert_id     INTEGER REFERENCES alerts(id),
    channel_id   INTEGER NOT NULL,
    channel_name TEXT NOT NULL,
    event        TEXT NOT NULL,
    message      TEXT NOT NULL,
    state        TEXT NOT NULL,
    due_at       INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL
);
CREATE INDEX alert_deliveries_due ON alert_deliveries(due_at) WHERE state = 'pending';
CREATE INDEX alert_deliveries_alert ON alert_deliveries(alert_id);

CREATE TABLE alert_attempts (
    id          INTEGER PRIMARY KEY,
    tenant_id   INTEGER NOT NULL REFERENCES tenants(id),
    delivery_id INTEGER NOT NULL REFERENCES alert_deliveries(id),
    at          INTEGER NOT NULL,
    ok          INTEGER NOT NULL,
    status      INTEGER,
    error       TEXT
);
CREATE INDEX alert_attempts_delivery ON alert_attempts(delivery_id);
