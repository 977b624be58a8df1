//! Everything the logger keeps across power loss, in one range of a NOR flash (on the chip, the
//! `assetlog` data partition of `partitions.csv`):
//!
//! - the first [`SETTINGS_SECTORS`] sectors hold a key-value map: the portal's settings, the
//!   device key and claim code, the boot counter, the highest seq handed out and the count of
//!   dropped events;
//! - the rest is the event log, a FIFO of [`LoggedChange`] records. sequential-storage writes it
//!   round the sectors in turn (wear levelling), checks every item with a CRC (a write torn by a
//!   power cut is skipped, not read as an event) and erases a sector only once every item in it
//!   has been popped.
//!
//! A change is appended with its seq before anything shows or uploads it; it is popped only when
//! the server has acknowledged its seq. When the log is full, the oldest change is popped and
//! counted as dropped, as the agent's queue does.

//!
//! The flash may lose power in the middle of any write or erase. What that leaves is for
//! sequential-storage to recognise (a CRC per item, page states, repair on the next operation);
//! what this store adds is the order of its own writes: a change is appended before its seq
//! counts as handed out, and the highest seq is written to the map before any change that
//! carries it can leave the log, so the next boot never numbers a change with a seq already
//! sent. `tests/power_cut.rs` checks both at every write and erase of a workload.

use core::ops::Range;

use alloc::string::String;
use alloc::vec::Vec;
use assetlog_core::queue::SeqAllocator;
use assetlog_core::record::LoggedChange;
use assetlog_core::timebase::{EarlierBoots, EventTime};
use embedded_storage_async::nor_flash::{ErrorType, MultiwriteNorFlash};
use sequential_storage::cache::page_pointers::HeapPagePointers;
use sequential_storage::cache::page_states::HeapPageStates;
use sequential_storage::cache::{Cache, Uncached};
use sequential_storage::map::{MapConfig, MapStorage};
use sequential_storage::queue::{QueueConfig, QueueStorage};

use crate::inputs::InputSpec;
use crate::settings::Settings;

/// Sectors at the start of the range for the settings map.
pub const SETTINGS_SECTORS: u32 = 4;

type LogCache = Cache<HeapPageStates, HeapPagePointers, Uncached>;

/// The settings map's entries (their keys). Never renumber one: flash written by an older image must still read.
#[derive(Debug, Clone, Copy)]
#[repr(u8)]
enum Entry {
    Ssid = 1,
    Password = 2,
    ServerUrl = 3,
    DeviceKey = 4,
    ClaimCode = 5,
    BootCount = 6,
    LastSeq = 7,
    Dropped = 8,
    TlsPin = 9,
    TlsCa = 10,
    Inputs = 11,
}

/// A flash the store and the uploader run on: NOR flash that may write a word twice (a popped
/// item is marked in place), whose errors can be shown.
pub trait Flash: MultiwriteNorFlash<Error: core::fmt::Debug> {}

impl<F: MultiwriteNorFlash<Error: core::fmt::Debug>> Flash for F {}

/// A flash operation failed, or the range is too small for the settings and a log.
#[derive(Debug)]
pub enum StoreError<E> {
    TooSmall,
    Flash(sequential_storage::Error<E>),
}

impl<E: core::fmt::Debug> core::fmt::Display for StoreError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::TooSmall => write!(
                f,
                "the flash range is too small: {SETTINGS_SECTORS} sectors of settings and 2 of log at least"
            ),
            Self::Flash(e) => write!(f, "flash: {e:?}"),
        }
    }
}

impl<E> From<sequential_storage::Error<E>> for StoreError<E> {
    fn from(e: sequential_storage::Error<E>) -> Self {
        Self::Flash(e)
    }
}

/// Scratch space for one map value or log record, word-aligned for the flash driver.
#[repr(C, align(4))]
struct Buffer([u8; 256]);

/// Longest map item (the CA certificate's PEM) with room for its key and length.
const MAX_STRING: usize = assetlog_core::setup::MAX_CA_PEM_LEN + 64;

/// Scratch space for a map operation, on the heap and word-aligned as words. Every operation
/// needs room for the longest item (the CA certificate's PEM, 3 KiB at most): storing one
/// setting may move the others when the map compacts a sector.
fn map_buffer() -> Vec<u32> {
    alloc::vec![0; MAX_STRING / 4]
}

/// What the log held at start.
pub struct Opened<F: MultiwriteNorFlash> {
    pub store: Store<F>,
    /// This boot's number (1 on the first boot).
    pub boot: u32,
    /// The earlier boots whose changes still wait for a wall time.
    pub earlier_boots: EarlierBoots,
}

pub struct Store<F: MultiwriteNorFlash> {
    log: QueueStorage<F, LogCache>,
    settings: Range<u32>,
    buf: Buffer,
    seqs: SeqAllocator,
    /// The highest seq known to be in the map (so a release writes it only when it moved).
    persisted_seq: u64,
    depth: usize,
    dropped: u64,
}

/// What a store operation on the flash `F` gives.
pub type StoreResult<T, F> = Result<T, StoreError<<F as ErrorType>::Error>>;

impl<F: MultiwriteNorFlash> Store<F> {
    /// Opens the store in `range` of `flash` (whole erase sectors), counts this boot and reads
    /// the log's books.
    pub async fn open(flash: F, range: Range<u32>) -> StoreResult<Opened<F>, F> {
        let sector = F::ERASE_SIZE as u32;
        if range.end.saturating_sub(range.start) < (SETTINGS_SECTORS + 2) * sector {
            return Err(StoreError::TooSmall);
        }
        let settings = range.start..range.start + SETTINGS_SECTORS * sector;
        let log_range = settings.end..range.end;
        let pages = ((log_range.end - log_range.start) / sector) as usize;
        let log_config = QueueConfig::try_new(log_range).map_err(|_| StoreError::TooSmall)?;
        if MapConfig::<F>::try_new(settings.clone()).is_err() {
            return Err(StoreError::TooSmall);
        }
        let cache = Cache::new(
            HeapPageStates::new(pages),
            HeapPagePointers::new(pages),
            Uncached,
        );
        let mut store = Store {
            log: QueueStorage::new(flash, log_config, cache),
            settings,
            buf: Buffer([0; 256]),
            seqs: SeqAllocator::new(),
            persisted_seq: 0,
            depth: 0,
            dropped: 0,
        };
        let boot = store.fetch_u32(Entry::BootCount).await?.unwrap_or(0) + 1;
        store.store_u32(Entry::BootCount, boot).await?;
        store.dropped = store.fetch_u64(Entry::Dropped).await?.unwrap_or(0);
        let persisted = store.fetch_u64(Entry::LastSeq).await?.unwrap_or(0);

        let mut highest = persisted;
        let mut earlier_boots = EarlierBoots::new();
        let mut depth = 0;
        let mut entries = store.log.iter().await?;
        while let Some(entry) = entries.next(&mut store.buf.0).await? {
            if let Ok(change) = LoggedChange::decode(&entry) {
                highest = highest.max(change.seq);
                earlier_boots.observe(change.time, boot);
            }
            depth += 1;
        }
        store.seqs = SeqAllocator::resume(highest);
        store.persisted_seq = persisted;
        store.depth = depth;
        Ok(Opened {
            store,
            boot,
            earlier_boots,
        })
    }

    /// Events in the log not yet acknowledged.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Events dropped because the log was full, over the logger's life.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Numbers a change and appends it to the log; it is in flash when this returns `Ok`.
    pub async fn record(
        &mut self,
        pin: u8,
        running: bool,
        time: EventTime,
    ) -> StoreResult<LoggedChange, F> {
        let mut seqs = self.seqs;
        let change = LoggedChange {
            seq: seqs.allocate(),
            pin,
            running,
            time,
        };
        let bytes = change.encode();
        let dropped_before = self.dropped;
        loop {
            match self.log.push(&bytes, false).await {
                Ok(()) => break,
                // A sector is erased only once all its changes are gone: drop them one by one,
                // oldest first, until the new one fits.
                Err(sequential_storage::Error::FullStorage) => self.drop_oldest().await?,
                Err(e) => return Err(e.into()),
            }
        }
        if self.dropped != dropped_before {
            self.store_u64(Entry::Dropped, self.dropped).await?;
        }
        // The seq counts as handed out only once its change is in flash: a failed write leaves
        // it free for the retry.
        self.seqs = seqs;
        self.depth += 1;
        Ok(change)
    }

    async fn drop_oldest(&mut self) -> StoreResult<(), F> {
        let popped = self.log.pop(&mut self.buf.0).await?.is_some();
        if !popped {
            // Full with nothing in it: a record larger than a sector, which never happens.
            return Err(StoreError::TooSmall);
        }
        // Persist the seq before its last trace may leave the log.
        self.persist_seq().await?;
        self.depth = self.depth.saturating_sub(1);
        self.dropped += 1;
        Ok(())
    }

    /// The oldest `max` changes, for an upload or the page. Unreadable entries are skipped
    /// (released with the next acknowledgement).
    pub async fn oldest(&mut self, max: usize) -> StoreResult<Vec<LoggedChange>, F> {
        let mut out = Vec::with_capacity(max.min(64));
        let mut entries = self.log.iter().await?;
        while out.len() < max {
            let Some(entry) = entries.next(&mut self.buf.0).await? else {
                break;
            };
            if let Ok(change) = LoggedChange::decode(&entry) {
                out.push(change);
            }
        }
        Ok(out)
    }

    /// The server holds every seq up to `upto`: pops those changes. Returns how many left.
    pub async fn release(&mut self, upto: u64) -> StoreResult<usize, F> {
        self.persist_seq().await?;
        let mut released = 0;
        let mut entries = self.log.iter().await?;
        while let Some(entry) = entries.next(&mut self.buf.0).await? {
            let covered = match LoggedChange::decode(&entry) {
                Ok(change) => change.seq <= upto,
                Err(_) => true,
            };
            if !covered {
                break;
            }
            entry.pop().await?;
            released += 1;
        }
        self.depth = self.depth.saturating_sub(released);
        Ok(released)
    }

    /// The server already holds seqs up to `acked_seq` of this logger (its log was erased, or
    /// the server kept an older history): new changes are numbered after it.
    pub async fn number_after(&mut self, acked_seq: u64) -> StoreResult<(), F> {
        if acked_seq > self.seqs.last() {
            self.seqs = SeqAllocator::resume(acked_seq);
            self.persist_seq().await?;
        }
        Ok(())
    }

    async fn persist_seq(&mut self) -> StoreResult<(), F> {
        let last = self.seqs.last();
        if last != self.persisted_seq {
            self.store_u64(Entry::LastSeq, last).await?;
            self.persisted_seq = last;
        }
        Ok(())
    }

    pub async fn settings(&mut self) -> StoreResult<Settings, F> {
        Ok(Settings {
            ssid: self.fetch_string(Entry::Ssid).await?.unwrap_or_default(),
            password: self
                .fetch_string(Entry::Password)
                .await?
                .unwrap_or_default(),
            server_url: self
                .fetch_string(Entry::ServerUrl)
                .await?
                .unwrap_or_default(),
            tls_pin_sha256: self.fetch_string(Entry::TlsPin).await?.unwrap_or_default(),
            tls_ca_pem: self.fetch_string(Entry::TlsCa).await?.unwrap_or_default(),
        })
    }

    pub async fn save_settings(&mut self, settings: &Settings) -> StoreResult<(), F> {
        self.store_string(Entry::Ssid, &settings.ssid).await?;
        self.store_string(Entry::Password, &settings.password)
            .await?;
        self.store_string(Entry::ServerUrl, &settings.server_url)
            .await?;
        self.store_string(Entry::TlsPin, &settings.tls_pin_sha256)
            .await?;
        self.store_string(Entry::TlsCa, &settings.tls_ca_pem).await
    }

    /// The inputs set on the portal, if they were (and still read as inputs).
    pub async fn inputs(&mut self) -> StoreResult<Option<Vec<InputSpec>>, F> {
        Ok(self
            .fetch_string(Entry::Inputs)
            .await?
            .and_then(|text| crate::inputs::decode(&text)))
    }

    pub async fn save_inputs(&mut self, inputs: &[InputSpec]) -> StoreResult<(), F> {
        self.store_string(Entry::Inputs, &crate::inputs::encode(inputs))
            .await
    }

    /// The device key the server issued, if it did.
    pub async fn device_key(&mut self) -> StoreResult<Option<String>, F> {
        self.fetch_string(Entry::DeviceKey).await
    }

    pub async fn save_device_key(&mut self, key: &str) -> StoreResult<(), F> {
        self.store_string(Entry::DeviceKey, key).await
    }

    /// The claim code of the last registration while pending; `None` once claimed.
    pub async fn claim_code(&mut self) -> StoreResult<Option<String>, F> {
        Ok(self
            .fetch_string(Entry::ClaimCode)
            .await?
            .filter(|c| !c.is_empty()))
    }

    pub async fn save_claim_code(&mut self, code: Option<&str>) -> StoreResult<(), F> {
        if self.claim_code().await?.as_deref() == code {
            return Ok(());
        }
        self.store_string(Entry::ClaimCode, code.unwrap_or(""))
            .await
    }

    fn map(&mut self) -> MapStorage<u8, &mut F, Cache<Uncached, Uncached, Uncached, u8>> {
        let config = MapConfig::try_new(self.settings.clone())
            .unwrap_or_else(|_| unreachable!("checked in open"));
        MapStorage::new(self.log.flash(), config, Cache::new_uncached())
    }

    async fn fetch_string(&mut self, key: Entry) -> StoreResult<Option<String>, F> {
        let mut buf = map_buffer();
        Ok(self
            .map()
            .fetch_item::<String>(bytemuck::cast_slice_mut(&mut buf), &(key as u8))
            .await?)
    }

    async fn store_string(&mut self, key: Entry, value: &str) -> StoreResult<(), F> {
        let mut buf = map_buffer();
        let value = String::from(value);
        Ok(self
            .map()
            .store_item(bytemuck::cast_slice_mut(&mut buf), &(key as u8), &value)
            .await?)
    }

    async fn fetch_u32(&mut self, key: Entry) -> StoreResult<Option<u32>, F> {
        let mut buf = map_buffer();
        Ok(self
            .map()
            .fetch_item::<u32>(bytemuck::cast_slice_mut(&mut buf), &(key as u8))
            .await?)
    }

    async fn store_u32(&mut self, key: Entry, value: u32) -> StoreResult<(), F> {
        let mut buf = map_buffer();
        Ok(self
            .map()
            .store_item(bytemuck::cast_slice_mut(&mut buf), &(key as u8), &value)
            .await?)
    }

    async fn fetch_u64(&mut self, key: Entry) -> StoreResult<Option<u64>, F> {
        let mut buf = map_buffer();
        Ok(self
            .map()
            .fetch_item::<u64>(bytemuck::cast_slice_mut(&mut buf), &(key as u8))
            .await?)
    }

    async fn store_u64(&mut self, key: Entry, value: u64) -> StoreResult<(), F> {
        let mut buf = map_buffer();
        Ok(self
            .map()
            .store_item(bytemuck::cast_slice_mut(&mut buf), &(key as u8), &value)
            .await?)
    }
}
