//! Power cuts, exhaustively: a workload of a few hundred changes with uploads and releases in
//! between runs on the store over a mock NOR flash, once without a cut to count its writes and
//! erases, then once for every one of them and every way to lose power in it (before, torn,
//! after). After each cut the flash is powered on again and the store opened again ("reboot"),
//! and:
//!
//! - the store opens (it never refuses its own flash);
//! - every change recorded before the cut is in the log, or the server had acknowledged it;
//! - no seq is in the log twice, no two changes share a seq, and what the log holds is what was
//!   recorded;
//! - the device key, once saved, is still there;
//! - the next change gets a seq above every seq the log or the server has seen;
//! - and after the logger uploads what is left, the server holds every recorded change.

mod flash;

use std::collections::BTreeMap;

use assetlog_core::record::LoggedChange;
use assetlog_core::timebase::EventTime;
use assetlog_logger::store::{SETTINGS_SECTORS, Store};
use embassy_futures::block_on;

use crate::flash::{Cut, Failure, Flash, SECTOR};

/// Settings sectors and four log sectors: the workload goes round the log more than once, so
/// sectors are erased and reused under it.
const SECTORS: usize = SETTINGS_SECTORS as usize + 4;
const CHANGES: u64 = 400;
/// An upload of at most this many changes after every `UPLOAD_EVERY` changes.
const UPLOAD_EVERY: u64 = 7;
const BATCH: usize = 10;
const KEY: &str = "alk_0123456789abcdef";

fn range() -> core::ops::Range<u32> {
    0..(SECTORS * SECTOR) as u32
}

/// The server as far as the log is concerned: what it holds, by seq.
#[derive(Default)]
struct Server {
    held: BTreeMap<u64, LoggedChange>,
}

impl Server {
    /// Stores a batch, as the server does (a seq it holds is a duplicate, which must be the same
    /// change); answers the highest seq it holds.
    fn ingest(&mut self, batch: &[LoggedChange]) -> u64 {
        for change in batch {
            let held = self.held.entry(change.seq).or_insert(*change);
            assert_eq!(
                held, change,
                "seq {} sent as two different changes",
                change.seq
            );
        }
        self.held.keys().next_back().copied().unwrap_or(0)
    }
}

/// What the workload knew before the power went.
#[derive(Default)]
struct Before {
    /// Changes whose `record` returned Ok.
    recorded: Vec<LoggedChange>,
    /// The change being recorded when the power went, with the seq it would have had.
    in_flight: Option<(u8, bool, EventTime)>,
    key_saved: bool,
    boot: u32,
}

fn change_at(step: u64) -> (u8, bool, EventTime) {
    let pin = (step % 4) as u8;
    // Each pin alternates, as a debounced input does.
    let running = (step / 4).is_multiple_of(2);
    (
        pin,
        running,
        EventTime::Wall {
            ts_ms: 1_780_000_000_000 + step as i64 * 1000,
        },
    )
}

/// The logger's life until the flash fails (the power went) or the workload is done.
async fn workload(
    flash: &mut Flash,
    server: &mut Server,
    before: &mut Before,
) -> Result<(), Failure> {
    let opened = Store::open(&mut *flash, range())
        .await
        .map_err(flash_error)?;
    before.boot = opened.boot;
    let mut store = opened.store;
    for step in 0..CHANGES {
        let (pin, running, time) = change_at(step);
        before.in_flight = Some((pin, running, time));
        let change = store
            .record(pin, running, time)
            .await
            .map_err(flash_error)?;
        before.in_flight = None;
        assert_eq!(
            (change.pin, change.running, change.time),
            (pin, running, time)
        );
        before.recorded.push(change);
        if step == 3 {
            // The server issued a key at the first registration.
            store.save_device_key(KEY).await.map_err(flash_error)?;
            before.key_saved = true;
        }
        if step % UPLOAD_EVERY == UPLOAD_EVERY - 1 {
            let batch = store.oldest(BATCH).await.map_err(flash_error)?;
            let acked = server.ingest(&batch);
            store.release(acked).await.map_err(flash_error)?;
        }
    }
    Ok(())
}

fn flash_error(e: assetlog_logger::store::StoreError<Failure>) -> Failure {
    match e {
        assetlog_logger::store::StoreError::Flash(sequential_storage::Error::Storage {
            value,
            ..
        }) => value,
        other => panic!("the store failed other than by the flash losing power: {other:?}"),
    }
}

/// Reboots after a cut and checks everything the module docs promise.
async fn after_reboot(flash: &mut Flash, server: &mut Server, before: &Before, what: &str) {
    flash.power_on();
    let opened = Store::open(&mut *flash, range())
        .await
        .unwrap_or_else(|e| panic!("{what}: the store does not open after the cut: {e}"));
    assert!(
        // Boot 0: the power went while the first boot counted itself, which may have made it.
        opened.boot == before.boot + 1 || (before.boot == 0 && opened.boot == 2),
        "{what}: boot {} after boot {}",
        opened.boot,
        before.boot
    );
    let mut store = opened.store;
    let log = store.oldest(usize::MAX).await.expect("the log reads");
    assert_eq!(store.depth(), log.len(), "{what}: depth");

    // The log holds what was recorded (and at most the change in flight), in seq order.
    let recorded: BTreeMap<u64, LoggedChange> =
        before.recorded.iter().map(|c| (c.seq, *c)).collect();
    let next_seq = before.recorded.last().map_or(1, |c| c.seq + 1);
    for pair in log.windows(2) {
        assert!(
            pair[0].seq < pair[1].seq,
            "{what}: log out of order or doubled: {pair:?}"
        );
    }
    for change in &log {
        match recorded.get(&change.seq) {
            Some(r) => assert_eq!(r, change, "{what}: seq {} changed in the log", change.seq),
            None => {
                let (pin, running, time) = before.in_flight.unwrap_or_else(|| {
                    panic!("{what}: seq {} in the log was never recorded", change.seq)
                });
                assert_eq!(
                    (change.seq, change.pin, change.running, change.time),
                    (next_seq, pin, running, time),
                    "{what}: the change in flight came back wrong"
                );
            }
        }
    }
    // Nothing recorded is lost: in the log, or acknowledged.
    let in_log: BTreeMap<u64, LoggedChange> = log.iter().map(|c| (c.seq, *c)).collect();
    for change in &before.recorded {
        assert!(
            in_log.contains_key(&change.seq) || server.held.contains_key(&change.seq),
            "{what}: seq {} was recorded, never acknowledged, and is gone",
            change.seq
        );
    }
    if before.key_saved {
        assert_eq!(
            store.device_key().await.expect("settings read").as_deref(),
            Some(KEY),
            "{what}: the device key is lost"
        );
    }

    // The next change is numbered after everything anyone has seen.
    let seen = [
        in_log.keys().next_back(),
        server.held.keys().next_back(),
        recorded.keys().next_back(),
    ]
    .into_iter()
    .flatten()
    .max()
    .copied()
    .unwrap_or(0);
    let (pin, running, time) = change_at(CHANGES);
    let next = store
        .record(pin, running, time)
        .await
        .unwrap_or_else(|e| panic!("{what}: cannot record after the reboot: {e}"));
    assert!(next.seq > seen, "{what}: seq {} after seq {seen}", next.seq);

    // The logger catches up: the server ends with every change recorded, once each.
    loop {
        let batch = store.oldest(BATCH).await.expect("the log reads");
        if batch.is_empty() {
            break;
        }
        let acked = server.ingest(&batch);
        store.release(acked).await.expect("release");
    }
    for change in before.recorded.iter().chain([&next]) {
        assert_eq!(
            server.held.get(&change.seq),
            Some(change),
            "{what}: seq {} not on the server",
            change.seq
        );
    }
    assert_eq!(store.dropped(), 0, "{what}: the log never filled");
}

#[test]
fn every_change_survives_a_power_cut_at_every_write_and_erase() {
    // Without a cut: how many writes and erases the workload makes.
    let mut flash = Flash::new(SECTORS);
    let mut server = Server::default();
    let mut before = Before::default();
    block_on(workload(&mut flash, &mut server, &mut before)).expect("no cut, no failure");
    let operations = flash.operations;
    assert_eq!(flash.misuses, 0);
    assert_eq!(before.recorded.len() as u64, CHANGES);
    assert!(
        operations > CHANGES as usize,
        "{operations} flash operations"
    );

    let mut tried = 0;
    for at in 0..operations {
        for how in [Cut::Before, Cut::During, Cut::After] {
            let what = format!("cut {how:?} operation {at} of {operations}");
            let mut flash = Flash::new(SECTORS);
            flash.cut_at(at, how, at as u64);
            let mut server = Server::default();
            let mut before = Before::default();
            let result = block_on(workload(&mut flash, &mut server, &mut before));
            assert_eq!(
                result,
                Err(Failure::PowerLost),
                "{what}: the workload ran past the cut"
            );
            assert!(!flash.powered(), "{what}");
            block_on(after_reboot(&mut flash, &mut server, &before, &what));
            assert_eq!(
                flash.misuses, 0,
                "{what}: misaligned or out-of-range flash access"
            );
            tried += 1;
        }
    }
    eprintln!(
        "power cuts tried: {tried} ({operations} writes and erases, each cut before, torn and after)"
    );
    assert_eq!(tried, operations * 3);
}
