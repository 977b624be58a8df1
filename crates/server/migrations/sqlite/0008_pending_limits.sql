-- 0008: what a logger nobody has claimed may keep (issue 13, docs/SECURITY.md). Anyone on the
-- plant network can register loggers and report for them; until an admin claims one it belongs
-- to no tenant, so the server caps it (store/pending.rs).

-- Events a logger stored while pending: each of its reports is checked against
-- --pending-max-events with this count, read in the same statement that reads its standing, so
-- the check costs no count of its events (and a claimed logger's report nothing at all). Only
-- kept up to date while `tenant_id` is NULL.
ALTER TABLE loggers ADD COLUMN pending_events INTEGER NOT NULL DEFAULT 0;

-- The address the logger's last registration came from, as the server saw it (`ip_address` is
-- what the logger says about itself). Shown to admins among the pending loggers, to tell a
-- device that squats a hardware id from the real one.
ALTER TABLE loggers ADD COLUMN remote_address TEXT;

-- The loggers pending now start with what they have stored so far.
UPDATE loggers SET pending_events =
    (SELECT COUNT(*) FROM events e JOIN assets a ON a.id = e.asset_id WHERE a.logger_row = loggers.id)
    + (SELECT COUNT(*) FROM events_inbox i WHERE i.logger_row = loggers.id)
WHERE tenant_id IS NULL AND deleted_at IS NULL;
