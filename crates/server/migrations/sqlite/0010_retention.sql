-- 0010: how long a tenant keeps its history (issue: retention). NULL keeps it forever; N keeps
-- the last N days: every hour the leader deletes what is older (Store::housekeeping, see
-- docs/OPERATIONS.md), except what the figures of the days kept still need.
ALTER TABLE tenants ADD COLUMN retention_days INTEGER;
