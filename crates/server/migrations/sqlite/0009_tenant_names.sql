-- 0009: a tenant's name is a label, no longer unique (issue 13, docs/SECURITY.md): a sign-up
-- refused for a name already taken told anyone on the network which companies use the server.
-- Tenants are known by their id; login is keyed by the email, which stays unique.
--
-- SQLite drops a UNIQUE column constraint only by rebuilding the table. Other tables refer to
-- tenants(id): the rebuild runs with foreign keys off (the migration runner turns them off for
-- a migration that says "rebuilds tables" and checks them before it commits).
-- rebuilds tables
CREATE TABLE tenants_new (
    id                     INTEGER PRIMARY KEY,
    name                   TEXT NOT NULL,
    timezone               TEXT NOT NULL DEFAULT 'UTC',
    short_stop_threshold_s INTEGER NOT NULL DEFAULT 300,
    created_at             INTEGER NOT NULL,
    shifts                 TEXT NOT NULL DEFAULT '[]'
);
INSERT INTO tenants_new (id, name, timezone, short_stop_threshold_s, created_at, shifts)
    SELECT id, name, timezone, short_stop_threshold_s, created_at, shifts FROM tenants;
DROP TABLE tenants;
ALTER TABLE tenants_new RENAME TO tenants;
