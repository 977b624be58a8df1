//! The uploader on this board: `assetlog_logger::uplink` (register, heartbeat, upload; tested
//! on the host against a real server) over embassy-net, showing its state in [`crate::status`].

use alloc::format;
use alloc::string::String;

use assetlog_core::timebase::{EarlierBoots, TimeBase};
use assetlog_core::uplink::Link;
use assetlog_core::wire::AssetName;
use assetlog_logger::uplink::{Logger, Station};
use embassy_net::Stack;
use embassy_net::dns::DnsSocket;
use embassy_net::tcp::client::{TcpClient, TcpClientState};

use crate::config::{FIRMWARE_VERSION, MAX_UPLOAD_EVENTS, REQUEST_TIMEOUT_MS};
use crate::status;
use crate::{CLOCK_SET, SharedStore, UPLOAD_WAKE};

/// The board as the uploader sees it.
struct Board {
    stack: Stack<'static>,
}

impl Station for Board {
    fn error(&self, message: String) {
        status::error(message);
    }

    fn link(&self, link: Link, failures: u32) {
        status::with(|s| {
            s.link = link;
            s.failures = failures;
        });
    }

    fn claim_code(&self, code: Option<String>) {
        status::with(|s| s.claim_code = code);
    }

    fn shows_claim_code(&self) -> bool {
        status::with(|s| s.claim_code.is_some())
    }

    fn queued(&self, queued: usize) {
        status::with(|s| s.queued = queued);
    }

    fn time(&self) -> TimeBase {
        status::with(|s| s.time)
    }

    fn rssi(&self) -> Option<i32> {
        status::with(|s| s.rssi)
    }

    fn free_heap(&self) -> Option<u64> {
        Some(esp_alloc::HEAP.free() as u64)
    }

    fn ip_address(&self) -> Option<String> {
        self.stack.config_v4().map(|c| {
            let [a, b, c, d] = c.address.address().octets();
            format!("{a}.{b}.{c}.{d}")
        })
    }

    async fn network_up(&self) {
        self.stack.wait_config_up().await;
    }

    async fn recorded(&self) {
        UPLOAD_WAKE.wait().await;
    }

    async fn clock_set(&self) {
        CLOCK_SET.wait().await;
    }
}

#[embassy_executor::task]
pub async fn upload(
    stack: Stack<'static>,
    store: &'static SharedStore,
    server_url: String,
    logger_id: String,
    earlier_boots: EarlierBoots,
    seed: u64,
    tls_seed: [u8; 32],
) {
    let settings = store.lock().await.settings().await.unwrap_or_default();
    let server_check = match settings.server_check() {
        Ok(check) => check,
        Err(problem) => {
            status::error(format!("{problem}: set it again in the setup portal"));
            return;
        }
    };
    let state = TcpClientState::<1, 2048, 2048>::new();
    let tcp = TcpClient::new(stack, &state);
    let dns = DnsSocket::new(stack);
    let logger = Logger {
        logger_id,
        server_url,
        firmware_version: String::from(FIRMWARE_VERSION),
        assets: status::with(|s| {
            s.inputs
                .iter()
                .map(|(spec, _)| AssetName {
                    pin_number: spec.gpio,
                    asset_name: spec.name.clone(),
                })
                .collect()
        }),
        max_batch: MAX_UPLOAD_EVENTS,
        request_timeout_ms: REQUEST_TIMEOUT_MS,
        seed,
        server_check,
        tls_seed,
    };
    assetlog_logger::uplink::run(&tcp, &dns, store, &Board { stack }, &logger, earlier_boots).await;
}
