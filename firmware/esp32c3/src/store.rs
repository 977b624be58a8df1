//! The flash chip's side of the logger's store: the `assetlog` data partition of
//! `partitions.csv`, found in the partition table, holding `assetlog_logger::store` (the
//! settings map, the device key, the boot counter and the event log; what survives a power cut
//! and how is tested there, on the host).

use core::ops::Range;

use embassy_embedded_hal::adapter::BlockingAsync;
use esp_bootloader_esp_idf::partitions::{self, PARTITION_TABLE_MAX_LEN};
use esp_storage::{FlashStorage, FlashStorageError};

pub use assetlog_logger::store::Opened;

/// The data partition's label in `partitions.csv`.
pub const PARTITION_LABEL: &str = "assetlog";

const SECTOR: u32 = FlashStorage::SECTOR_SIZE;

type Flash = BlockingAsync<FlashStorage<'static>>;

/// The store on this chip's flash.
pub type Store = assetlog_logger::store::Store<Flash>;

/// Why the store does not open: a partition layout the image does not expect, or the flash.
#[derive(Debug)]
pub enum OpenError {
    NoPartition,
    PartitionTable(partitions::Error),
    Store(assetlog_logger::store::StoreError<FlashStorageError>),
}

impl core::fmt::Display for OpenError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoPartition => write!(
                f,
                "no data partition labelled {PARTITION_LABEL:?}: flash with --partition-table partitions.csv"
            ),
            Self::PartitionTable(e) => write!(f, "partition table: {e:?}"),
            Self::Store(e) => write!(f, "the {PARTITION_LABEL:?} partition: {e}"),
        }
    }
}

/// Finds the partition and opens the store in it.
pub async fn open(mut flash: FlashStorage<'static>) -> Result<Opened<Flash>, OpenError> {
    let range = find_partition(&mut flash)?;
    Store::open(BlockingAsync::new(flash), range)
        .await
        .map_err(OpenError::Store)
}

/// The flash range of the `assetlog` data partition.
fn find_partition(flash: &mut FlashStorage<'static>) -> Result<Range<u32>, OpenError> {
    let mut table = [0u8; PARTITION_TABLE_MAX_LEN];
    let partitions =
        partitions::read_partition_table(flash, &mut table).map_err(OpenError::PartitionTable)?;
    let entry = partitions
        .iter()
        .find(|p| p.label_as_str() == PARTITION_LABEL)
        .ok_or(OpenError::NoPartition)?;
    let start = entry.offset();
    // Whole sectors only.
    let end = (start + entry.len()) / SECTOR * SECTOR;
    Ok(start..end)
}
