//! assetlog's ESP32-C3 logger: watches up to eight machine run signals, keeps every change in a
//! flash log until the server has acknowledged it, and shows the machines' states on an OLED
//! and a local web page. The decisions (debouncing, seq, event times, what to send when) are
//! `assetlog-core`'s, the same code the server and the Linux agent run; what survives a power cut
//! and how is `assetlog-logger`'s, tested on the host; this crate wires them to the hardware.
//!
//! # Layout
//! - [`board`]: which peripheral and GPIO does what.
//! - [`config`]: the inputs and timings fixed at build time, and the portal's [`config::Settings`].
//! - [`store`]: the flash partition that holds `assetlog_logger`'s store: settings, device key,
//!   boot counter, and the event log.
//! - [`inputs`]: the sampler (debouncer per input) and the recorder (seq, flash, then show).
//! - [`net`]: Wi-Fi station, the setup portal's access point and its DHCP server.
//! - [`sntp`]: the wall clock.
//! - [`uplink`]: register, heartbeat and upload, driven by `assetlog_core::uplink::Uplink`.
//! - [`web`]: the local page and the setup form on port 80.
//! - [`display`]: the OLED.
//! - [`status`]: the shared picture of the logger that the display and the page show.
//! - [`watchdog`]: restarts a hung logger.
#![no_std]
#![no_main]

extern crate alloc;

mod board;
mod config;
mod display;
mod inputs;
mod net;
mod sntp;
mod status;
mod store;
mod uplink;
mod watchdog;
mod web;

use alloc::format;
use alloc::string::String;

use assetlog_core::timebase::TimeBase;
use embassy_executor::Spawner;
use embassy_net::StackResources;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::mutex::Mutex;
use embassy_sync::signal::Signal;
use embassy_time::{Duration, Timer};
use esp_backtrace as _;
use esp_hal::clock::CpuClock;
use esp_radio::wifi::{ControllerConfig, Interface, WifiController};
use esp_storage::FlashStorage;
use static_cell::StaticCell;

use crate::board::Board;
use crate::config::{WIFI_DYNAMIC_RX_BUFFERS, WIFI_DYNAMIC_TX_BUFFERS};
use crate::net::PortalReason;
use crate::store::Store;

esp_bootloader_esp_idf::esp_app_desc!();

/// The flash, shared by the recorder, the uploader and the page.
pub type SharedStore = Mutex<CriticalSectionRawMutex, Store>;

/// A change is in the flash log: the uploader looks again.
pub static UPLOAD_WAKE: Signal<CriticalSectionRawMutex, ()> = Signal::new();
/// SNTP answered: changes of earlier boots can be placed in time.
pub static CLOCK_SET: Signal<CriticalSectionRawMutex, ()> = Signal::new();

static STORE: StaticCell<SharedStore> = StaticCell::new();
static STA_RESOURCES: StaticCell<StackResources<8>> = StaticCell::new();
static AP_RESOURCES: StaticCell<StackResources<4>> = StaticCell::new();

#[esp_rtos::main]
async fn main(spawner: Spawner) -> ! {
    esp_println::logger::init_logger_from_env();
    let peripherals = esp_hal::init(esp_hal::Config::default().with_cpu_clock(CpuClock::max()));
    esp_alloc::heap_allocator!(#[esp_hal::ram(reclaimed)] size: 64 * 1024);
    esp_alloc::heap_allocator!(size: 64 * 1024);

    let board = Board::new(peripherals);
    esp_rtos::start(board.timers.timer0, board.rtos_interrupt);
    spawner.spawn(watchdog::guard(board.watchdog).unwrap());

    let opened = match store::open(FlashStorage::new(board.flash)).await {
        Ok(opened) => opened,
        // Without the flash log nothing can be recorded safely; the watchdog restarts the chip
        // after the message has gone out on the serial port.
        Err(e) => panic!("cannot open the flash store: {e}"),
    };
    let boot = opened.boot;
    let store: &'static SharedStore = STORE.init(Mutex::new(opened.store));
    let (settings, claim_code, queued, dropped, saved_inputs) = {
        let mut store = store.lock().await;
        let settings = store.settings().await.unwrap_or_default();
        let claim_code = store.claim_code().await.unwrap_or(None);
        let inputs = store.inputs().await.unwrap_or(None);
        (settings, claim_code, store.depth(), store.dropped(), inputs)
    };
    // The portal's inputs, checked again (a GPIO this image reserves is never taken); else the
    // built-in ones.
    let (pins, inputs_problem) = match saved_inputs.as_deref().map(board::input_pins) {
        Some(Some(pins)) => (pins, None),
        saved => {
            let pins = board::input_pins(&config::default_inputs())
                .unwrap_or_else(|| unreachable!("the defaults are checked at compile time"));
            let problem = saved.map(|_| {
                String::from(
                    "the inputs saved in flash do not fit this board: using the built-in ones",
                )
            });
            (pins, problem)
        }
    };
    log::info!("boot {boot}; {queued} changes wait in the flash log");

    // Recording starts before the network: a machine's state is logged from power-on.
    spawner.spawn(inputs::record(store).unwrap());
    status::with(|s| {
        s.inputs = pins
            .iter()
            .map(|(spec, _)| (spec.clone(), status::InputState::default()))
            .collect();
    });
    if let Some(problem) = inputs_problem {
        status::error(problem);
    }
    spawner.spawn(inputs::sample(pins).unwrap());

    // Wi-Fi's buffers (1.6 KB each) come from the heap: at most 10 static and 16 + 16 dynamic
    // ones (the default's 32 + 32 could take 100 KB at a burst, with TLS's 20 KB beside them:
    // more than the heap). docs/FIRMWARE.md, "RAM".
    let wifi_config = ControllerConfig::default()
        .with_dynamic_rx_buf_num(WIFI_DYNAMIC_RX_BUFFERS)
        .with_dynamic_tx_buf_num(WIFI_DYNAMIC_TX_BUFFERS);
    let controller = match WifiController::new(board.wifi, wifi_config) {
        Ok(controller) => controller,
        Err(e) => panic!("Wi-Fi does not start: {e:?}"),
    };
    let station = Interface::station();
    let access_point = Interface::access_point();
    let mac = station.mac_address();
    let logger_id = format!(
        "esp32c3-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]
    );
    status::with(|s| {
        s.logger_id = logger_id.clone();
        s.time = TimeBase::new(boot);
        s.claim_code = claim_code;
        s.queued = queued;
        s.dropped = dropped;
    });
    log::info!("logger {logger_id}");

    let mut boot_button = board.boot_button;
    let portal_button_pressed = board::portal_button_pressed(&mut boot_button).await;
    if let Some(i2c) = board::oled_bus(board.i2c, board.oled_sda, boot_button) {
        spawner.spawn(display::show(i2c).unwrap());
    }

    let rng = esp_hal::rng::Rng::new();
    let seed = (u64::from(rng.random()) << 32) | u64::from(rng.random());
    // The TLS handshakes' random numbers grow from 32 bytes of the hardware random source (with
    // the radio on, as it is from here on, its numbers are true random ones).
    let mut tls_seed = [0u8; 32];
    for word in tls_seed.chunks_mut(4) {
        word.copy_from_slice(&rng.random().to_le_bytes());
    }
    let (sta, sta_runner) = embassy_net::new(
        station,
        embassy_net::Config::dhcpv4(Default::default()),
        STA_RESOURCES.init(StackResources::new()),
        seed,
    );
    let (ap, ap_runner) = embassy_net::new(
        access_point,
        net::portal_ip_config(),
        AP_RESOURCES.init(StackResources::new()),
        seed.rotate_left(17),
    );
    spawner.spawn(net::run_stack(sta_runner).unwrap());
    spawner.spawn(net::run_stack(ap_runner).unwrap());
    spawner.spawn(net::dhcp_server(ap).unwrap());
    spawner.spawn(web::serve(ap, web::Side::Portal, store).unwrap());

    let portal_at_start = if !settings.has_network() {
        Some(PortalReason::NoNetwork)
    } else if portal_button_pressed {
        Some(PortalReason::Button)
    } else {
        None
    };
    let portal_ssid = net::portal_ssid(mac);
    let has_network = settings.has_network();
    let server_url = settings.server_url.clone();
    spawner.spawn(net::wifi(controller, settings, portal_ssid, portal_at_start, sta).unwrap());
    if has_network {
        spawner.spawn(web::serve(sta, web::Side::Station, store).unwrap());
        spawner.spawn(sntp::sync_clock(sta).unwrap());
        spawner.spawn(
            uplink::upload(
                sta,
                store,
                server_url,
                logger_id,
                opened.earlier_boots,
                seed,
                tls_seed,
            )
            .unwrap(),
        );
    }

    loop {
        Timer::after(Duration::from_secs(3600)).await;
    }
}
