-- 0015: the plant's structure and its targets, and the wall screens. An asset may name the line and the area it
-- stands in (the board groups by them, the analytics table too: the plant is not the wiring),
-- and a target availability, as the tenant may (in basis points, 8500 = 85 %: an integer, as
-- every other figure is stored).
ALTER TABLE assets ADD COLUMN line TEXT;
ALTER TABLE assets ADD COLUMN area TEXT;
ALTER TABLE assets ADD COLUMN target_bp INTEGER;
ALTER TABLE tenants ADD COLUMN target_bp INTEGER;

-- Displays: a wall screen's read-only token (kiosk), made and revoked by an admin. Only the
-- token's hash is kept; AUTOINCREMENT, so a revoked display's id never names a new one.
CREATE TABLE displays (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  INTEGER NOT NULL REFERENCES tenants(id),
    name       TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
CREATE INDEX displays_tenant ON displays(tenant_id);

-- Recurring planned downtime: a weekly rule (JSON, checked when added: days, start, end in
-- the tenant's zone) repeats inside start_ms..end_ms; end_ms is the largest integer for good.
ALTER TABLE planned_downtime ADD COLUMN weekly TEXT;
