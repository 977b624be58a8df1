//! Wi-Fi: the station that joins the configured network (DHCP), and the setup portal's access
//! point `assetlog-XXXX` (static 192.168.4.1, with a small DHCP server for the phone or laptop
//! that joins it). The portal opens when no network is configured, when the BOOT button is held
//! in the first seconds after start, or when the configured network has stayed unreachable for a
//! few minutes; the station keeps trying meanwhile.

use alloc::format;
use alloc::string::String;
use core::net::Ipv4Addr;

use edge_dhcp::server::{Server, ServerOptions};
use edge_dhcp::{DhcpOption, Packet};
use embassy_net::udp::{PacketMetadata, UdpSocket};
use embassy_net::{IpEndpoint, Runner, Stack};
use embassy_time::{Duration, Instant, Timer, with_timeout};
use esp_radio::wifi::ap::AccessPointConfig;
use esp_radio::wifi::sta::StationConfig;
use esp_radio::wifi::{AuthenticationMethodConfig, Config, Interface, WifiController};

use crate::config::{PORTAL_AFTER_MS, PORTAL_IP, Settings};
use crate::status::{self, WifiState};

/// The portal's network name: `assetlog-` and the last two bytes of the MAC address.
pub fn portal_ssid(mac: [u8; 6]) -> String {
    format!("assetlog-{:02X}{:02X}", mac[4], mac[5])
}

/// Why the portal opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortalReason {
    /// No network configured.
    NoNetwork,
    /// The BOOT button was pressed in the first seconds after start.
    Button,
}

#[embassy_executor::task(pool_size = 2)]
pub async fn run_stack(mut runner: Runner<'static, Interface>) -> ! {
    runner.run().await
}

/// Keeps the station joined to the configured network, and opens the portal beside it when
/// asked at start or when the network stays away.
#[embassy_executor::task]
pub async fn wifi(
    mut controller: WifiController<'static>,
    settings: Settings,
    portal_ssid: String,
    portal_at_start: Option<PortalReason>,
    sta: Stack<'static>,
) {
    let portal = AccessPointConfig::default().with_ssid(
        portal_ssid
            .as_str()
            .try_into()
            .unwrap_or_else(|_| unreachable!("assetlog-XXXX is a valid SSID")),
    );
    if !settings.has_network() {
        open_portal_only(&mut controller, portal, &portal_ssid).await;
        return;
    }
    let Some(station) = station_config(&settings) else {
        status::error(String::from(
            "the stored Wi-Fi name or password does not fit: set them again in the portal",
        ));
        open_portal_only(&mut controller, portal, &portal_ssid).await;
        return;
    };

    let mut portal_open = portal_at_start.is_some();
    let config = if portal_open {
        status::with(|s| s.portal = Some(portal_ssid.clone()));
        Config::AccessPointStation(station.clone(), portal.clone())
    } else {
        Config::Station(station.clone())
    };
    if let Err(e) = controller.set_config(&config) {
        status::error(format!("Wi-Fi does not start: {e:?}"));
    }

    let mut unreachable_since = Instant::now();
    loop {
        status::with(|s| {
            s.wifi = WifiState::Connecting;
            s.rssi = None;
        });
        match controller.connect_async().await {
            Ok(_) => {
                log::info!("joined {}", settings.ssid);
                // DHCP may take a moment; the address shows once it is there.
                if with_timeout(Duration::from_secs(30), sta.wait_config_up())
                    .await
                    .is_ok()
                    && let Some(v4) = sta.config_v4()
                {
                    status::with(|s| {
                        s.wifi = WifiState::Connected {
                            ip: v4.address.address().octets(),
                        };
                    });
                }
                watch_signal(&controller).await;
                unreachable_since = Instant::now();
                log::warn!("left {}", settings.ssid);
            }
            Err(e) => {
                log::warn!("cannot join {}: {e:?}", settings.ssid);
                Timer::after(Duration::from_secs(5)).await;
            }
        }
        if !portal_open && unreachable_since.elapsed().as_millis() >= PORTAL_AFTER_MS {
            log::warn!("network unreachable: opening the setup portal {portal_ssid}");
            let both = Config::AccessPointStation(station.clone(), portal.clone());
            match controller.set_config(&both) {
                Ok(()) => {
                    portal_open = true;
                    status::with(|s| s.portal = Some(portal_ssid.clone()));
                }
                Err(e) => status::error(format!("cannot open the setup portal: {e:?}")),
            }
        }
    }
}

/// Updates the signal strength until the station loses its network.
async fn watch_signal(controller: &WifiController<'static>) {
    loop {
        let rssi = controller.rssi().ok();
        status::with(|s| s.rssi = rssi);
        let lost = with_timeout(
            Duration::from_secs(10),
            controller.wait_for_disconnect_async(),
        )
        .await;
        if lost.is_ok() {
            return;
        }
    }
}

async fn open_portal_only(
    controller: &mut WifiController<'static>,
    portal: AccessPointConfig,
    portal_ssid: &str,
) {
    status::with(|s| {
        s.wifi = WifiState::PortalOnly;
        s.portal = Some(String::from(portal_ssid));
    });
    if let Err(e) = controller.set_config(&Config::AccessPoint(portal)) {
        status::error(format!("cannot open the setup portal: {e:?}"));
    }
    log::info!("setup portal {portal_ssid} open at http://192.168.4.1/");
    // The controller must stay alive for the access point to stay up.
    loop {
        Timer::after(Duration::from_secs(3600)).await;
    }
}

fn station_config(settings: &Settings) -> Option<StationConfig> {
    let ssid = settings.ssid.as_str().try_into().ok()?;
    let authentication = if settings.password.is_empty() {
        AuthenticationMethodConfig::Open
    } else {
        AuthenticationMethodConfig::WpaWpa2Personal(settings.password.as_str().try_into().ok()?)
    };
    Some(
        StationConfig::default()
            .with_ssid(ssid)
            .with_authentication(authentication),
    )
}

/// The portal network's address configuration.
pub fn portal_ip_config() -> embassy_net::Config {
    let [a, b, c, d] = PORTAL_IP;
    embassy_net::Config::ipv4_static(embassy_net::StaticConfigV4 {
        address: embassy_net::Ipv4Cidr::new(Ipv4Addr::new(a, b, c, d), 24),
        gateway: None,
        dns_servers: heapless::Vec::new(),
    })
}

/// Hands out addresses 192.168.4.50–200 to the devices that join the portal.
#[embassy_executor::task]
pub async fn dhcp_server(stack: Stack<'static>) {
    let [a, b, c, d] = PORTAL_IP;
    let ip = Ipv4Addr::new(a, b, c, d);
    let mut rx_meta = [PacketMetadata::EMPTY; 4];
    let mut rx_buffer = [0u8; 1024];
    let mut tx_meta = [PacketMetadata::EMPTY; 4];
    let mut tx_buffer = [0u8; 1024];
    let mut socket = UdpSocket::new(
        stack,
        &mut rx_meta,
        &mut rx_buffer,
        &mut tx_meta,
        &mut tx_buffer,
    );
    if let Err(e) = socket.bind(67) {
        status::error(format!("portal DHCP server cannot bind: {e:?}"));
        return;
    }
    let mut server = Server::<_, 8>::new(|| Instant::now().as_secs(), ip);
    let mut gateway = [ip];
    let options = ServerOptions::new(ip, Some(&mut gateway));
    let mut request = [0u8; 576];
    let mut reply = [0u8; 576];
    loop {
        let Ok((len, _from)) = socket.recv_from(&mut request).await else {
            continue;
        };
        let Ok(packet) = Packet::decode(&request[..len]) else {
            continue;
        };
        let mut option_buf = [DhcpOption::Message(""); 8];
        let Some(answer) = server.handle_request(&mut option_buf, &options, &packet) else {
            continue;
        };
        if let Ok(bytes) = answer.encode(&mut reply) {
            let broadcast = IpEndpoint::new(Ipv4Addr::BROADCAST.into(), 68);
            if let Err(e) = socket.send_to(bytes, broadcast).await {
                log::warn!("DHCP reply not sent: {e:?}");
            }
        }
    }
}
