//! A logger's stored seqs, kept as runs (`seq_runs`: logger, first, last) rather than an index
//! entry per event: they tell a new event from a retransmit, and give the acknowledgement
//! watermark. The run arithmetic is `assetlog_core::seq::SeqRuns`, property-tested in core.

use crate::domain::LoggerRow;
use assetlog_core::seq::SeqRuns;
use rusqlite::{Connection, OptionalExtension, params};

use super::Result;

/// One logger's stored seqs around a request's: the runs of `seq_runs` that hold or touch any
/// seq of the request, read once, updated in memory per event, and written back once.
pub(super) struct LoggerSeqs {
    logger_row: LoggerRow,
    read: Vec<(u64, u64)>,
    runs: SeqRuns,
}

impl LoggerSeqs {
    /// The runs around the numbered events of a request, or None when none is numbered.
    pub(super) fn around(
        conn: &Connection,
        logger_row: LoggerRow,
        seqs: impl Iterator<Item = i64> + Clone,
    ) -> Result<Option<Self>> {
        match (seqs.clone().min(), seqs.max()) {
            (Some(lo), Some(hi)) => Self::read(conn, logger_row, lo, hi).map(Some),
            _ => Ok(None),
        }
    }

    fn read(conn: &Connection, logger_row: LoggerRow, lo: i64, hi: i64) -> Result<Self> {
        let mut stmt = conn.prepare_cached(
            "SELECT first, last FROM seq_runs WHERE logger_row = ?1 AND first <= ?2
             ORDER BY first DESC",
        )?;
        let mut rows = stmt.query(params![logger_row, hi.saturating_add(1)])?;
        let mut read = Vec::new();
        // Runs are disjoint, so going down by `first` also goes down by `last`.
        while let Some(row) = rows.next()? {
            let (first, last): (i64, i64) = (row.get(0)?, row.get(1)?);
            if last.saturating_add(1) < lo {
                break;
            }
            read.push((first as u64, last as u64));
        }
        read.reverse();
        let runs = SeqRuns::from_runs(read.iter().copied());
        Ok(Self {
            logger_row,
            read,
            runs,
        })
    }

    /// Records `seq` as stored; false when it was stored already (a retransmit).
    pub(super) fn insert(&mut self, seq: i64) -> bool {
        self.runs.insert(seq as u64)
    }

    /// Writes back the runs that changed: a run that grew at its end (the usual case: the next
    /// seq) is updated in place; runs that no longer start where they did are deleted.
    pub(super) fn save(&self, conn: &Connection) -> Result<()> {
        let (gone, changed) = run_changes(&self.read, self.runs.runs());
        for first in gone {
            conn.prepare_cached("DELETE FROM seq_runs WHERE logger_row = ?1 AND first = ?2")?
                .execute(params![self.logger_row, first as i64])?;
        }
        for (first, last) in changed {
            conn.prepare_cached(
                "INSERT INTO seq_runs (logger_row, first, last) VALUES (?1, ?2, ?3)
                 ON CONFLICT (logger_row, first) DO UPDATE SET last = excluded.last",
            )?
            .execute(params![self.logger_row, first as i64, last as i64])?;
        }
        Ok(())
    }
}

/// What writing back `now` over the runs `read` takes (both sorted by `first`): the starts of
/// the read runs that no longer start a run (to delete), and the runs that are new or grew (to
/// insert or update). The usual case, a run that grew at its end, is one update and no delete.
pub(crate) fn run_changes(read: &[(u64, u64)], now: &[(u64, u64)]) -> (Vec<u64>, Vec<(u64, u64)>) {
    let starts_now = |first: u64| now.binary_search_by_key(&first, |r| r.0).is_ok();
    let gone = read
        .iter()
        .filter(|r| !starts_now(r.0))
        .map(|r| r.0)
        .collect();
    let changed = now
        .iter()
        .filter(|r| read.binary_search(r).is_err())
        .copied()
        .collect();
    (gone, changed)
}

/// Moves the logger's acknowledgement watermark from its stored value `saved` over the run of
/// stored seqs that starts right after it, and saves it if it moved.
pub(super) fn advance_stored_ack(
    conn: &Connection,
    logger_row: LoggerRow,
    saved: i64,
) -> Result<i64> {
    let run: Option<(i64, i64)> = conn
        .prepare_cached(
            "SELECT first, last FROM seq_runs WHERE logger_row = ?1 AND first <= ?2
             ORDER BY first DESC LIMIT 1",
        )?
        .query_row(params![logger_row, saved.saturating_add(1)], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    let runs = SeqRuns::from_runs(run.map(|(f, l)| (f as u64, l as u64)));
    let acked = runs.advance(saved.max(0) as u64) as i64;
    if acked != saved {
        conn.prepare_cached("UPDATE loggers SET acked_seq = ?1 WHERE id = ?2")?
            .execute(params![acked, logger_row])?;
    }
    Ok(acked)
}
