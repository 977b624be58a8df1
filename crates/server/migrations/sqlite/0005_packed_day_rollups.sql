-- 0005: a day rollup's figures and reasons in one packed column, so that reading a year of 500
-- assets (182,500 rows) decodes one value per row instead of nine. The rollups are a cache of
-- what analytics computes from the events (docs/ANALYTICS.md), so the old rows are dropped, not
-- converted: the next analytics request computes and stores them again.
DROP TABLE day_rollups;
CREATE TABLE day_rollups (
    asset_id  INTEGER NOT NULL REFERENCES assets(id),
    day_start INTEGER NOT NULL,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    day_end   INTEGER NOT NULL,
    -- Little-endian i64s: run_ms, down_ms, unknown_ms, unplanned_ms, short_stops, long_stops;
    -- then per reason: reason id (0 for unassigned), stops, down_ms.
    figures   BLOB NOT NULL,
    PRIMARY KEY (asset_id, day_start)
) WITHOUT ROWID;
CREATE INDEX day_rollups_tenant ON day_rollups(tenant_id);
