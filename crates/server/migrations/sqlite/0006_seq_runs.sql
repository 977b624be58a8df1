-- 0006: which seqs of a logger are stored, as runs `first..=last`, instead of one index entry
-- per event. A logger numbers its events one after the other, so a few rows per logger replace
-- an index that every numbered event wrote into (at a spot of its own logger, a page of its own
-- per logger and commit). Deduplication and the acknowledgement watermark read these runs; the
-- writer keeps them up to date in the same transaction as the events (store/devices.rs).
CREATE TABLE seq_runs (
    logger_row INTEGER NOT NULL REFERENCES loggers(id),
    first      INTEGER NOT NULL,
    last       INTEGER NOT NULL,
    PRIMARY KEY (logger_row, first)
) WITHOUT ROWID;

-- Consecutive seqs share `seq - row_number()`: that is their run.
INSERT INTO seq_runs (logger_row, first, last)
SELECT logger_row, MIN(seq), MAX(seq)
FROM (
    SELECT logger_row, seq,
           seq - ROW_NUMBER() OVER (PARTITION BY logger_row ORDER BY seq) AS run
    FROM events
    WHERE seq IS NOT NULL
)
GROUP BY logger_row, run;

DROP INDEX events_logger_seq;
