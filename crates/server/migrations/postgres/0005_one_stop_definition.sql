-- PostgreSQL's migration 0005, as SQLite's 0014: the day rollups hold down time by reason with
-- the stops counted the old way (each part of a split stop, and stops outside planned time);
-- they are a cache, forgotten here and computed again on the next question. The row wall lets
-- the migration see every tenant's rows for this transaction only.
SET LOCAL assetlog.system = 'on';
DELETE FROM day_rollups;
