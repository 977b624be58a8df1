-- 0002: what shapes the availability figures: shift calendars, planned downtime, downtime
-- reasons and the operators' notes on stops, and the history of loggers being offline.
-- Times are UTC epoch milliseconds.

-- A tenant's weekly shift calendar, as the JSON the API takes (validated on the way in).
-- Empty: no calendar, all time is planned.
ALTER TABLE tenants ADD COLUMN shifts TEXT NOT NULL DEFAULT '[]';

-- One-off planned stops (maintenance, holidays), for one asset or (asset_id NULL) all.
CREATE TABLE planned_downtime (
    id         INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants(id),
    asset_id   INTEGER REFERENCES assets(id),
    start_ms   INTEGER NOT NULL,
    end_ms     INTEGER NOT NULL CHECK (end_ms > start_ms),
    note       TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);
CREATE INDEX planned_downtime_tenant ON planned_downtime(tenant_id, start_ms);

-- A tenant's downtime reasons, two levels: a category and a reason in it.
CREATE TABLE reasons (
    id        INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    category  TEXT NOT NULL,
    name      TEXT NOT NULL,
    UNIQUE (tenant_id, category, name)
);

-- Operators' notes on stops. A stop is derived from the events (never stored), so a note names
-- its stop by asset and start time. A stop split at a time has one row per part after the
-- first, keyed by the part's start; the first part's key is the stop's start.
CREATE TABLE stop_parts (
    tenant_id  INTEGER NOT NULL REFERENCES tenants(id),
    asset_id   INTEGER NOT NULL REFERENCES assets(id),
    stop_start INTEGER NOT NULL,
    part_start INTEGER NOT NULL,
    reason_id  INTEGER REFERENCES reasons(id) ON DELETE SET NULL,
    comment    TEXT NOT NULL DEFAULT '',
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (asset_id, stop_start, part_start)
);

-- When loggers were offline (missed three heartbeats): from the last contact until the next.
-- `end_ms` is NULL while the logger is still offline.
CREATE TABLE logger_offline (
    id         INTEGER PRIMARY KEY,
    logger_row INTEGER NOT NULL REFERENCES loggers(id),
    start_ms   INTEGER NOT NULL,
    end_ms     INTEGER
);
CREATE INDEX logger_offline_logger ON logger_offline(logger_row, start_ms);
