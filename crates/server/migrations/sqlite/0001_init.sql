-- 0001: tenants, people, loggers, assets and the event history.
-- Times are UTC epoch milliseconds throughout.

-- A tenant is one customer's world; everything below belongs to exactly one (or, for a logger
-- nobody has claimed yet, to none).
CREATE TABLE tenants (
    id                     INTEGER PRIMARY KEY,
    name                   TEXT NOT NULL UNIQUE,
    timezone               TEXT NOT NULL DEFAULT 'UTC',
    short_stop_threshold_s INTEGER NOT NULL DEFAULT 300,
    created_at             INTEGER NOT NULL
);

-- The people who sign in. Email is unique across tenants: it is what login is keyed by.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    tenant_id     INTEGER NOT NULL REFERENCES tenants(id),
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    created_at    INTEGER NOT NULL
);
CREATE INDEX users_tenant ON users(tenant_id);

-- Bearer tokens of signed-in users, stored as SHA-256 of the token. A row is deleted on logout.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

-- Loggers (ESP32 boards, Linux agents). `logger_id` is the hardware id the device reports;
-- `tenant_id` is NULL while the logger is pending. `key_hash` is SHA-256 of the device key.
-- A deleted logger keeps its row (its assets and events keep pointing at it) with `deleted_at`
-- set; the same hardware may then register afresh.
CREATE TABLE loggers (
    id               INTEGER PRIMARY KEY,
    logger_id        TEXT NOT NULL,
    tenant_id        INTEGER REFERENCES tenants(id),
    name             TEXT NOT NULL,
    key_hash         TEXT NOT NULL,
    claim_code       TEXT NOT NULL,
    allow_keyless    INTEGER NOT NULL DEFAULT 0,
    firmware_version TEXT,
    ip_address       TEXT,
    rssi             INTEGER,
    free_heap        INTEGER,
    uptime_s         INTEGER,
    queued_events    INTEGER,
    last_seen        INTEGER,
    online           INTEGER NOT NULL DEFAULT 0,
    acked_seq        INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    deleted_at       INTEGER
);
CREATE UNIQUE INDEX loggers_live_id ON loggers(logger_id) WHERE deleted_at IS NULL;
CREATE INDEX loggers_tenant ON loggers(tenant_id);

-- An asset is one machine: one input pin of one logger. `state`/`since`/`last_ts` cache the
-- latest event (by time) so the live board needs no scan of the history.
CREATE TABLE assets (
    id                     INTEGER PRIMARY KEY,
    logger_row             INTEGER NOT NULL REFERENCES loggers(id),
    tenant_id              INTEGER REFERENCES tenants(id),
    pin                    INTEGER NOT NULL,
    name                   TEXT NOT NULL,
    short_stop_threshold_s INTEGER,
    running                INTEGER,
    since                  INTEGER,
    last_ts                INTEGER,
    UNIQUE (logger_row, pin)
);
CREATE INDEX assets_tenant ON assets(tenant_id);

-- Every RUNNING/STOPPED report, as received; never changed. A report is stored once: per logger
-- by `seq` when the logger numbers its events, else by (pin, ts, running).
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    tenant_id   INTEGER REFERENCES tenants(id),
    logger_row  INTEGER NOT NULL REFERENCES loggers(id),
    asset_id    INTEGER NOT NULL REFERENCES assets(id),
    pin         INTEGER NOT NULL,
    running     INTEGER NOT NULL,
    ts          INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    seq         INTEGER
);
-- Not partial: NULL seqs never collide in a unique index, and a plain index keeps the
-- acknowledgement query's plan fixed (a partial one made SQLite re-prepare it on every run).
CREATE UNIQUE INDEX events_logger_seq ON events(logger_row, seq);
CREATE UNIQUE INDEX events_logger_unnumbered ON events(logger_row, pin, ts, running) WHERE seq IS NULL;
CREATE INDEX events_tenant_ts ON events(tenant_id, ts);
CREATE INDEX events_asset_ts ON events(asset_id, ts);
