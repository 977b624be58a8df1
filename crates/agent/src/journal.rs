//! The durable event queue: every change is numbered, stamped and fsynced to disk before anyone
//! hears of it, and stays there until the server has acknowledged it.
//!
//! Two files in the state directory:
//! - `events.log`: append-only, fixed-size records (seq, ts, pin, running, CRC-32). A power loss
//!   can leave a torn or half-written last record; recovery keeps the longest prefix of intact,
//!   increasing records and cuts the rest off.
//! - `queue.json`: `floor` (every seq at or below it is released: acknowledged, or dropped
//!   because the queue was full), the dropped count, and the last seq and ts handed out, which
//!   the log alone cannot tell once it is compacted. Replaced atomically (write, fsync, rename,
//!   fsync the directory), so it is always one whole version.
//!
//! The numbering, clamping of timestamps, bounds and release rules are `assetlog_core::queue`'s;
//! this module only makes them survive `kill -9` and power loss. Seqs stay contiguous on disk
//! because a seq is only handed out inside a write that is then fsynced or rolled back.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use assetlog_core::StateChange;
use assetlog_core::queue::{EventQueue, MonotonicTs, SeqAllocator};
use serde::{Deserialize, Serialize};

const LOG: &str = "events.log";
const META: &str = "queue.json";
/// seq (8) + ts (8) + pin (1) + running (1) + reserved (2) + CRC-32 of the first 20 bytes (4).
pub const RECORD_LEN: usize = 24;

/// A change as an input saw it, before it has a seq.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observed {
    pub pin: u8,
    pub running: bool,
    /// The agent's wall clock when the change happened, epoch ms.
    pub wall_ms: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Meta {
    floor: u64,
    dropped: u64,
    last_seq: u64,
    last_ts: Option<i64>,
}

/// The queue's figures, for the status page and heartbeats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct QueueFigures {
    pub depth: usize,
    pub capacity: usize,
    pub dropped: u64,
    pub last_seq: u64,
}

pub struct Journal {
    dir: PathBuf,
    log: File,
    /// Records in `events.log`, released or not.
    log_records: u64,
    queue: EventQueue,
    seqs: SeqAllocator,
    clock: MonotonicTs,
    meta: Meta,
    /// Drops counted before this process opened the queue (the queue counts its own).
    dropped_base: u64,
    /// The newest seq dropped because the queue was full (0 for none).
    last_drop: u64,
}

impl Journal {
    /// Opens (or creates) the queue in `dir`, recovering whatever a crash left.
    pub fn open(dir: &Path, capacity: usize) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let meta = read_meta(&dir.join(META))?;
        let path = dir.join(LOG);
        let fresh = !path.exists();
        let mut log = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)?;
        if fresh {
            sync_dir(dir)?;
        }
        let mut bytes = Vec::new();
        log.read_to_end(&mut bytes)?;
        let records = decode_records(&bytes);
        let intact = (records.len() * RECORD_LEN) as u64;
        if intact < bytes.len() as u64 {
            tracing::warn!(
                cut = bytes.len() as u64 - intact,
                "the event log ends in a torn record (a crash while writing): cutting it off"
            );
            log.set_len(intact)?;
            log.sync_all()?;
        }

        let mut queue = EventQueue::new(capacity);
        let mut last_drop = 0;
        let (mut last_seq, mut last_ts) = (meta.last_seq, meta.last_ts);
        for e in &records {
            last_seq = last_seq.max(e.seq);
            last_ts = Some(last_ts.map_or(e.ts, |t| t.max(e.ts)));
            if e.seq > meta.floor
                && let Some(gone) = queue.push(*e)
            {
                last_drop = gone.seq;
            }
        }
        Ok(Self {
            dir: dir.to_owned(),
            log,
            log_records: records.len() as u64,
            queue,
            seqs: SeqAllocator::resume(last_seq),
            clock: last_ts.map_or(MonotonicTs::new(), MonotonicTs::resume),
            meta,
            dropped_base: meta.dropped,
            last_drop,
        })
    }

    /// Numbers, stamps and durably appends changes, in order, with one fsync for all of them.
    /// On an I/O error nothing is recorded (the file is cut back, no seq is used up), so the
    /// caller may retry the same changes.
    pub fn record(&mut self, changes: &[Observed]) -> io::Result<Vec<StateChange>> {
        let (seqs, clock) = (self.seqs, self.clock);
        let events: Vec<StateChange> = changes
            .iter()
            .map(|c| StateChange {
                seq: self.seqs.allocate(),
                pin: c.pin,
                running: c.running,
                ts: self.clock.stamp(c.wall_ms),
            })
            .collect();
        let mut buf = Vec::with_capacity(events.len() * RECORD_LEN);
        for e in &events {
            buf.extend_from_slice(&encode(e));
        }
        let written = self.log.write_all(&buf).and_then(|()| self.log.sync_data());
        if let Err(e) = written {
            (self.seqs, self.clock) = (seqs, clock);
            let _ = self.log.set_len(self.log_records * RECORD_LEN as u64);
            return Err(e);
        }
        self.log_records += events.len() as u64;
        for e in &events {
            if let Some(gone) = self.queue.push(*e) {
                self.last_drop = gone.seq;
            }
        }
        if self.dead_records() > (self.queue.capacity() as u64 * 2).max(4096) {
            // Offline for long with a full queue: the log would grow without bound.
            self.compact()?;
        }
        Ok(events)
    }

    /// The oldest events to upload (they stay queued until [`ack`](Self::ack)).
    pub fn batch(&mut self, max: usize) -> Vec<StateChange> {
        self.queue.batch(max).to_vec()
    }

    /// Releases every event up to `acked_seq`, durably, and compacts the log when it is mostly
    /// released.
    pub fn ack(&mut self, acked_seq: u64) -> io::Result<usize> {
        let acked_seq = acked_seq.min(self.seqs.last());
        let floor = acked_seq.max(self.last_drop).max(self.meta.floor);
        if floor == self.meta.floor {
            return Ok(0);
        }
        // Durable first: were the release only in memory, a crash would resend (harmless), but
        // the dropped count would be recounted against the wrong floor.
        self.write_meta(floor)?;
        let released = self.queue.ack(acked_seq);
        let dead = self.dead_records();
        if self.queue.depth() == 0 && dead > 0 {
            // Everything is acknowledged: the floor is durable, so the log can simply be emptied
            // (a crash before this leaves only records at or below the floor).
            self.log.set_len(0)?;
            self.log.sync_all()?;
            self.log_records = 0;
        } else if dead >= (self.queue.depth() as u64).max(4096) {
            self.compact()?;
        }
        Ok(released)
    }

    /// The server already holds seqs up to `server_seq`, beyond anything this queue handed out:
    /// the state directory was lost or restored from an old copy while the key survived. Queued
    /// events would be taken for duplicates and silently skipped, so they get fresh seqs above
    /// the server's. Returns how many were renumbered.
    pub fn renumber_after(&mut self, server_seq: u64) -> io::Result<usize> {
        if server_seq <= self.seqs.last() {
            return Ok(0);
        }
        let pending = self.queued_on_disk()?;
        let (seqs, queue) = (self.seqs, self.queue.clone());
        let dropped_base = self.dropped_base;
        self.dropped_base += self.queue.dropped();
        self.queue = EventQueue::new(queue.capacity());
        self.seqs = SeqAllocator::resume(server_seq);
        for e in &pending {
            let seq = self.seqs.allocate();
            self.queue.push(StateChange { seq, ..*e });
        }
        self.last_drop = 0;
        let result = self
            .write_meta(server_seq)
            .and_then(|()| self.rewrite_log());
        if result.is_err() {
            (self.seqs, self.queue, self.dropped_base) = (seqs, queue, dropped_base);
        }
        result.map(|()| pending.len())
    }

    pub fn figures(&self) -> QueueFigures {
        QueueFigures {
            depth: self.queue.depth(),
            capacity: self.queue.capacity(),
            dropped: self.dropped(),
            last_seq: self.seqs.last(),
        }
    }

    /// Events dropped unsent since the queue was created, across restarts.
    pub fn dropped(&self) -> u64 {
        self.dropped_base + self.queue.dropped()
    }

    fn dead_records(&self) -> u64 {
        self.log_records - self.queue.depth() as u64
    }

    /// Every seq at or below `floor` is released. The dropped count written is only ever for
    /// drops at or below the floor (the floor covers the newest drop), so recovery, which
    /// replays the log above the floor into a bounded queue, counts each later drop once again.
    fn write_meta(&mut self, floor: u64) -> io::Result<()> {
        let meta = Meta {
            floor,
            dropped: self.dropped(),
            last_seq: self.seqs.last(),
            last_ts: self.clock.last(),
        };
        let body = serde_json::to_vec(&meta).map_err(io::Error::other)?;
        replace_file(&self.dir, META, &body, None)?;
        self.meta = meta;
        Ok(())
    }

    /// Rewrites the log with only the queued events, after making the floor durable.
    fn compact(&mut self) -> io::Result<()> {
        let floor = self.meta.floor.max(self.last_drop);
        if floor != self.meta.floor || self.meta.last_seq != self.seqs.last() {
            self.write_meta(floor)?;
        }
        self.rewrite_log()
    }

    /// Replaces the log with the queue's events (atomically, like the meta file).
    fn rewrite_log(&mut self) -> io::Result<()> {
        let live = if self.queue.depth() == 0 {
            Vec::new()
        } else if self.queue.depth() <= assetlog_core::wire::MAX_BATCH_EVENTS {
            self.queue.batch(usize::MAX).to_vec()
        } else {
            // `EventQueue::batch` hands out one request's worth at most; the log has them all.
            self.queued_on_disk()?
        };
        debug_assert_eq!(live.len(), self.queue.depth());
        let mut buf = Vec::with_capacity(live.len() * RECORD_LEN);
        for e in &live {
            buf.extend_from_slice(&encode(e));
        }
        replace_file(&self.dir, LOG, &buf, None)?;
        self.log = OpenOptions::new()
            .read(true)
            .append(true)
            .open(self.dir.join(LOG))?;
        self.log_records = live.len() as u64;
        Ok(())
    }

    /// The queued events, read back from the log: those above the floor and the newest drop.
    fn queued_on_disk(&self) -> io::Result<Vec<StateChange>> {
        let bytes = std::fs::read(self.dir.join(LOG))?;
        let released = self.meta.floor.max(self.last_drop);
        Ok(decode_records(&bytes)
            .into_iter()
            .filter(|e| e.seq > released)
            .collect())
    }
}

/// Reads a state directory's queued (unreleased) events without opening it for writing: for
/// tests and for looking at an agent's disk from outside.
pub fn read_queued(dir: &Path) -> io::Result<(u64, Vec<StateChange>)> {
    let meta = read_meta(&dir.join(META))?;
    let bytes = match std::fs::read(dir.join(LOG)) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    let events = decode_records(&bytes)
        .into_iter()
        .filter(|e| e.seq > meta.floor)
        .collect();
    Ok((meta.floor, events))
}

fn read_meta(path: &Path) -> io::Result<Meta> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is damaged: {e}", path.display()),
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Meta::default()),
        Err(e) => Err(e),
    }
}

fn encode(e: &StateChange) -> [u8; RECORD_LEN] {
    let mut r = [0u8; RECORD_LEN];
    r[0..8].copy_from_slice(&e.seq.to_le_bytes());
    r[8..16].copy_from_slice(&e.ts.to_le_bytes());
    r[16] = e.pin;
    r[17] = u8::from(e.running);
    let crc = crc32fast::hash(&r[..20]);
    r[20..24].copy_from_slice(&crc.to_le_bytes());
    r
}

/// The longest prefix of intact records with strictly increasing seqs.
fn decode_records(bytes: &[u8]) -> Vec<StateChange> {
    let mut out: Vec<StateChange> = Vec::with_capacity(bytes.len() / RECORD_LEN);
    for r in bytes.chunks_exact(RECORD_LEN) {
        let crc = u32::from_le_bytes(r[20..24].try_into().expect("4 bytes"));
        if crc != crc32fast::hash(&r[..20]) || r[17] > 1 {
            break;
        }
        let e = StateChange {
            seq: u64::from_le_bytes(r[0..8].try_into().expect("8 bytes")),
            ts: i64::from_le_bytes(r[8..16].try_into().expect("8 bytes")),
            pin: r[16],
            running: r[17] == 1,
        };
        if out.last().is_some_and(|p| p.seq >= e.seq) {
            break;
        }
        out.push(e);
    }
    out
}

/// Replaces `dir/name` with `body` so that a crash leaves either the old or the new file:
/// write a temporary file, fsync it, rename it over, fsync the directory.
pub fn replace_file(dir: &Path, name: &str, body: &[u8], mode: Option<u32>) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    if let Some(mode) = mode {
        options.mode(mode);
    }
    let mut f = options.open(&tmp)?;
    if let Some(mode) = mode {
        // A leftover temporary file keeps its old mode through `open`.
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    f.write_all(body)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, dir.join(name))?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T0: i64 = 1_764_000_000_000;

    fn observed(n: usize, from_ms: i64) -> Vec<Observed> {
        (0..n)
            .map(|i| Observed {
                pin: (i % 3) as u8,
                running: i % 2 == 0,
                wall_ms: from_ms + i as i64,
            })
            .collect()
    }

    fn seqs(j: &mut Journal) -> Vec<u64> {
        j.batch(usize::MAX).iter().map(|e| e.seq).collect()
    }

    fn log_len(dir: &Path) -> u64 {
        std::fs::metadata(dir.join(LOG)).unwrap().len()
    }

    #[test]
    fn recorded_events_survive_a_restart_and_numbering_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path(), 100).unwrap();
        let first = j.record(&observed(3, T0)).unwrap();
        assert_eq!(first.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
        drop(j);
        let mut j = Journal::open(dir.path(), 100).unwrap();
        assert_eq!(j.batch(10), first);
        // The clock stepped back: the new event keeps to the last ts on disk.
        let next = j.record(&observed(1, T0 - 60_000)).unwrap();
        assert_eq!((next[0].seq, next[0].ts), (4, T0 + 2));
    }

    #[test]
    fn acknowledged_events_are_gone_for_good_and_the_log_is_emptied() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path(), 100).unwrap();
        j.record(&observed(3, T0)).unwrap();
        assert_eq!(j.ack(2).unwrap(), 2);
        assert_eq!(seqs(&mut Journal::open(dir.path(), 100).unwrap()), [3]);
        assert_eq!(j.ack(3).unwrap(), 1);
        assert_eq!(log_len(dir.path()), 0, "everything acknowledged: compacted");
        drop(j);
        let mut j = Journal::open(dir.path(), 100).unwrap();
        assert_eq!(j.figures().depth, 0);
        let next = j.record(&observed(1, T0 - 5)).unwrap();
        assert_eq!(
            (next[0].seq, next[0].ts),
            (4, T0 + 2),
            "seq and ts resume from the meta file"
        );
        assert_eq!(
            j.ack(99).unwrap(),
            1,
            "an ack beyond the last seq releases what is there"
        );
        assert_eq!(j.record(&observed(1, T0)).unwrap()[0].seq, 5);
    }

    #[test]
    fn a_torn_tail_is_cut_off_at_recovery() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path(), 100).unwrap();
        let events = j.record(&observed(3, T0)).unwrap();
        drop(j);
        // Half a record, as a power loss in the middle of a write leaves it.
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.path().join(LOG))
            .unwrap();
        f.write_all(
            &encode(&StateChange {
                seq: 4,
                ..events[0]
            })[..10],
        )
        .unwrap();
        drop(f);
        let mut j = Journal::open(dir.path(), 100).unwrap();
        assert_eq!(j.batch(10), events);
        assert_eq!(log_len(dir.path()), 3 * RECORD_LEN as u64);
        drop(j);
        // A whole record whose bytes did not all reach the disk fails its checksum.
        let mut bytes = std::fs::read(dir.path().join(LOG)).unwrap();
        bytes[2 * RECORD_LEN + 9] ^= 0xff;
        std::fs::write(dir.path().join(LOG), bytes).unwrap();
        let mut j = Journal::open(dir.path(), 100).unwrap();
        assert_eq!(seqs(&mut j), [1, 2]);
        // Seq 3 never got past the disk, so nobody heard of it: it may be handed out again.
        assert_eq!(j.record(&observed(1, T0)).unwrap()[0].seq, 3);
    }

    #[test]
    fn a_full_queue_drops_its_oldest_and_remembers_how_many() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path(), 3).unwrap();
        j.record(&observed(5, T0)).unwrap();
        assert_eq!((seqs(&mut j), j.dropped()), (vec![3, 4, 5], 2));
        let mut again = Journal::open(dir.path(), 3).unwrap();
        assert_eq!((seqs(&mut again), again.dropped()), (vec![3, 4, 5], 2));
        j.ack(4).unwrap();
        let mut again = Journal::open(dir.path(), 3).unwrap();
        assert_eq!((seqs(&mut again), again.dropped()), (vec![5], 2));
    }

    #[test]
    fn a_long_outage_does_not_grow_the_log_without_bound() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path(), 10).unwrap();
        for k in 0..100 {
            j.record(&observed(100, T0 + k * 100)).unwrap();
        }
        let f = j.figures();
        assert_eq!((f.depth, f.dropped, f.last_seq), (10, 9_990, 10_000));
        assert!(log_len(dir.path()) <= (4096 + 200) * RECORD_LEN as u64);
        let mut again = Journal::open(dir.path(), 10).unwrap();
        assert_eq!(again.figures(), f);
        assert_eq!(seqs(&mut again), (9_991..=10_000).collect::<Vec<_>>());
    }

    #[test]
    fn a_queue_behind_the_server_is_renumbered_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path(), 100).unwrap();
        let old = j.record(&observed(3, T0)).unwrap();
        assert_eq!(
            j.renumber_after(2).unwrap(),
            0,
            "the server is behind: nothing to do"
        );
        assert_eq!(j.renumber_after(10).unwrap(), 3);
        let renumbered = j.batch(10);
        assert_eq!(
            renumbered.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [11, 12, 13]
        );
        assert!(
            renumbered
                .iter()
                .zip(&old)
                .all(|(n, o)| (n.pin, n.running, n.ts) == (o.pin, o.running, o.ts))
        );
        drop(j);
        let mut j = Journal::open(dir.path(), 100).unwrap();
        assert_eq!(j.batch(10), renumbered);
        assert_eq!(j.record(&observed(1, T0)).unwrap()[0].seq, 14);
    }

    #[test]
    fn read_queued_sees_what_recovery_would() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_queued(dir.path()).unwrap(), (0, vec![]));
        let mut j = Journal::open(dir.path(), 100).unwrap();
        let events = j.record(&observed(4, T0)).unwrap();
        j.ack(1).unwrap();
        assert_eq!(read_queued(dir.path()).unwrap(), (1, events[1..].to_vec()));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Record(usize),
        /// Acknowledge up to this many seqs before the newest.
        Ack(u64),
        Reopen,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (1usize..6).prop_map(Op::Record),
            2 => (0u64..8).prop_map(Op::Ack),
            1 => Just(Op::Reopen),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// The journal keeps exactly the books of an in-memory `EventQueue`, across restarts.
        #[test]
        fn the_disk_queue_keeps_the_same_books_as_the_memory_queue(
            capacity in 1usize..8,
            ops in proptest::collection::vec(op(), 0..40),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let mut j = Journal::open(dir.path(), capacity).unwrap();
            let mut model = EventQueue::new(capacity);
            let mut last = 0;
            for (k, op) in ops.into_iter().enumerate() {
                match op {
                    Op::Record(n) => {
                        for e in j.record(&observed(n, T0 + k as i64 * 10)).unwrap() {
                            prop_assert_eq!(e.seq, last + 1);
                            last = e.seq;
                            model.push(e);
                        }
                    }
                    Op::Ack(back) => {
                        let acked = last.saturating_sub(back);
                        j.ack(acked).unwrap();
                        model.ack(acked);
                    }
                    Op::Reopen => j = Journal::open(dir.path(), capacity).unwrap(),
                }
                prop_assert_eq!(j.batch(usize::MAX), model.batch(usize::MAX).to_vec());
                prop_assert_eq!(j.dropped(), model.dropped());
                prop_assert_eq!(j.figures().last_seq, last);
            }
        }
    }
}
