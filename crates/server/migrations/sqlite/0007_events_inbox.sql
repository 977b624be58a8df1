-- 0007: new events land in a small inbox first and move into `events` in bulk (store/inbox.rs).
--
-- An event inserted straight into `events` writes a leaf page of the `(asset_id, ts)` index of
-- its own: under load every commit dirties one index page per event. In the inbox an event is
-- one row appended at the end; moving a second's worth of events at once writes each index leaf
-- once for all the events of its asset. Readers of the history never see the inbox: every read
-- of `events` first has the writer move it (Store::settle), so a read sees every event
-- acknowledged before it began.
CREATE TABLE events_inbox (
    id          INTEGER PRIMARY KEY,
    tenant_id   INTEGER REFERENCES tenants(id),
    logger_row  INTEGER NOT NULL REFERENCES loggers(id),
    asset_id    INTEGER NOT NULL REFERENCES assets(id),
    pin         INTEGER NOT NULL,
    running     INTEGER NOT NULL,
    ts          INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    seq         INTEGER,
    -- 1 when the event was older than its asset's newest event when it arrived: moving it
    -- forgets the asset's cached days from there on.
    late        INTEGER NOT NULL DEFAULT 0
);
-- The same unnumbered report twice while both are in the inbox (the check against `events`
-- is made before inserting).
CREATE UNIQUE INDEX events_inbox_unnumbered ON events_inbox(logger_row, pin, ts, running) WHERE seq IS NULL;
