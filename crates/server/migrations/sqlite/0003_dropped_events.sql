-- 0003: loggers report in heartbeats how many events their full queue had to drop.
ALTER TABLE loggers ADD COLUMN dropped_events INTEGER;
