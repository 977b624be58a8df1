//! A logger's report stored (the hot path). Reports that wait at the same moment share one
//! transaction: a few writer tasks each take the waiting reports as one group.

use std::sync::Arc;

use super::super::{DeviceAuth, IngestOutcome, NewEvent, Result, StoreError};
use super::Pg;

#[derive(Default)]
pub(super) struct Queue {}

impl Pg {
    pub(super) fn start_reports(&self) {}

    pub(super) async fn stop_reports(&self) {}

    pub async fn ingest(
        &self,
        _device: Arc<DeviceAuth>,
        _events: Vec<NewEvent>,
        _acknowledge: bool,
    ) -> Result<IngestOutcome> {
        Err(StoreError::Unavailable("ingest: not on PostgreSQL yet".into()))
    }

    /// PostgreSQL has no inbox: events go straight into `events`.
    pub async fn settle(&self) -> Result<usize> {
        Ok(0)
    }
}
