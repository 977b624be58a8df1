//! The wall clock: SNTP (the `sntpc` crate over an embassy-net UDP socket) once the station has
//! an address, then every hour, because the ESP32-C3's crystal drifts by seconds a day. Each
//! answer corrects the boot's [`TimeBase`](assetlog_core::timebase::TimeBase); until the first,
//! changes are stamped with their uptime and uploaded with their age.

use alloc::format;
use core::net::{IpAddr, SocketAddr};

use embassy_net::dns::DnsQueryType;
use embassy_net::udp::{PacketMetadata, UdpSocket};
use embassy_net::{IpAddress, Stack};
use embassy_time::{Duration, Timer, with_timeout};
use sntpc::{NtpContext, NtpTimestampGenerator};
use sntpc_net_embassy::UdpSocketWrapper;

use crate::config::{SNTP_PERIOD_MS, SNTP_RETRY_MS, SNTP_SERVER};
use crate::inputs::uptime_ms;
use crate::status;
use crate::{CLOCK_SET, UPLOAD_WAKE};

/// Hands sntpc the uptime as if it were the wall clock, so the offset it computes is the wall
/// time of uptime 0: the start of this boot.
#[derive(Clone, Copy, Default)]
struct Uptime {
    micros: u64,
}

impl NtpTimestampGenerator for Uptime {
    fn init(&mut self) {
        self.micros = embassy_time::Instant::now().as_micros();
    }

    fn timestamp_sec(&self) -> u64 {
        self.micros / 1_000_000
    }

    fn timestamp_subsec_micros(&self) -> u32 {
        (self.micros % 1_000_000) as u32
    }
}

#[embassy_executor::task]
pub async fn sync_clock(stack: Stack<'static>) {
    let mut rx_meta = [PacketMetadata::EMPTY; 2];
    let mut rx_buffer = [0u8; 256];
    let mut tx_meta = [PacketMetadata::EMPTY; 2];
    let mut tx_buffer = [0u8; 256];
    loop {
        stack.wait_config_up().await;
        let wait = match ask(
            stack,
            &mut rx_meta,
            &mut rx_buffer,
            &mut tx_meta,
            &mut tx_buffer,
        )
        .await
        {
            Ok(()) => SNTP_PERIOD_MS,
            Err(message) => {
                log::warn!("SNTP: {message}");
                SNTP_RETRY_MS
            }
        };
        Timer::after(Duration::from_millis(wait)).await;
    }
}

async fn ask(
    stack: Stack<'static>,
    rx_meta: &mut [PacketMetadata],
    rx_buffer: &mut [u8],
    tx_meta: &mut [PacketMetadata],
    tx_buffer: &mut [u8],
) -> Result<(), alloc::string::String> {
    let addresses = stack
        .dns_query(SNTP_SERVER, DnsQueryType::A)
        .await
        .map_err(|e| format!("cannot resolve {SNTP_SERVER}: {e:?}"))?;
    let Some(IpAddress::Ipv4(server)) = addresses.first().copied() else {
        return Err(format!("{SNTP_SERVER} has no IPv4 address"));
    };
    let mut socket = UdpSocket::new(stack, rx_meta, rx_buffer, tx_meta, tx_buffer);
    socket
        .bind(0)
        .map_err(|e| format!("cannot bind a UDP socket: {e:?}"))?;
    let socket = UdpSocketWrapper::new(socket);
    let context = NtpContext::new(Uptime::default());
    let answer = with_timeout(
        Duration::from_secs(5),
        sntpc::get_time(SocketAddr::new(IpAddr::V4(server), 123), &socket, context),
    )
    .await
    .map_err(|_| format!("{SNTP_SERVER} did not answer"))?
    .map_err(|e| format!("{SNTP_SERVER}: {e:?}"))?;

    // offset = wall clock − our clock (the uptime), in microseconds.
    let now = uptime_ms();
    let wall_ms = now as i64 + answer.offset / 1000;
    status::with(|s| s.time.synced(now, wall_ms));
    CLOCK_SET.signal(());
    UPLOAD_WAKE.signal(());
    log::info!("clock set by {SNTP_SERVER}: {wall_ms} ms since the epoch");
    Ok(())
}
