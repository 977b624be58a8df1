-- 0004: per asset and local day, the analytics figures of days whose history is settled, so
-- that long windows read one row per asset and day instead of every event. A cache: rows are
-- deleted when anything they were computed from changes (a late event, an offline span, a note
-- on a stop, the tenant's settings, calendar, planned downtime or reasons, the asset's
-- threshold) and computed again from the events when next asked for.
CREATE TABLE day_rollups (
    asset_id     INTEGER NOT NULL REFERENCES assets(id),
    day_start    INTEGER NOT NULL,
    tenant_id    INTEGER NOT NULL REFERENCES tenants(id),
    day_end      INTEGER NOT NULL,
    run_ms       INTEGER NOT NULL,
    down_ms      INTEGER NOT NULL,
    unknown_ms   INTEGER NOT NULL,
    unplanned_ms INTEGER NOT NULL,
    short_stops  INTEGER NOT NULL,
    long_stops   INTEGER NOT NULL,
    -- Down time by reason: 24 bytes per reason, little-endian i64s: reason id (0 for
    -- unassigned), stops, down_ms.
    reasons      BLOB NOT NULL,
    PRIMARY KEY (asset_id, day_start)
) WITHOUT ROWID;
CREATE INDEX day_rollups_tenant ON day_rollups(tenant_id);

-- Bumped whenever an asset's rollups are invalidated, so a rollup computed from what was read
-- before the change is never stored after it.
ALTER TABLE assets ADD COLUMN rollup_gen INTEGER NOT NULL DEFAULT 0;
