//! Where a tenant admin may make the server send: public addresses only, unless the operator
//! allows the plant's own network (`--allow-private-webhooks`). A webhook URL is a request the
//! server makes on the admin's behalf; without this wall it would probe the plant's network
//! (loopback services, the router's page, cloud metadata at 169.254.169.254).
//!
//! The check is made twice: when a channel is saved (so the admin hears at once), and at every
//! connection, by the resolver the delivery client uses ([`PublicOnly`]): a name that resolved
//! to a public address when saved and to a private one later (DNS rebinding) is refused then.
//! Redirects are never followed.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use crate::domain::Refusal;

/// Which receivers are allowed.
#[derive(Debug, Clone, Copy)]
pub struct Targets {
    pub allow_private: bool,
}

/// Whether an address is on the public internet: not loopback, private, link-local, shared
/// (carrier NAT), unspecified, broadcast, multicast or documentation; IPv4 inside IPv6 is
/// judged as IPv4.
pub fn public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0)
                || a >= 240)
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped().or_else(|| v6.to_ipv4()) {
            Some(v4) if !v6.is_loopback() && !v6.is_unspecified() => public(IpAddr::V4(v4)),
            _ => {
                !(v6.is_loopback()
                    || v6.is_unspecified()
                    || v6.is_multicast()
                    || v6.is_unique_local()
                    || v6.is_unicast_link_local()
                    || v6.segments()[0] == 0x2001 && v6.segments()[1] == 0x0db8)
            }
        },
    }
}

impl Targets {
    fn allows(&self, ip: IpAddr) -> bool {
        self.allow_private || public(ip)
    }
}

fn private_refusal(what: &str) -> Refusal {
    Refusal::new(
        "private_address",
        format!(
            "{what} is a loopback, link-local or private address: receivers on the plant's own \
             network need the server started with --allow-private-webhooks"
        ),
    )
}

/// A receiver's URL, checked as far as it can be without the network: http or https, a host,
/// and no literal address the targets forbid.
pub fn check_url(raw: &str, targets: &Targets) -> Result<reqwest::Url, Refusal> {
    let url = reqwest::Url::parse(raw.trim())
        .map_err(|e| Refusal::new("invalid_url", format!("url: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Refusal::new(
            "invalid_url",
            "url must be http:// or https://",
        ));
    }
    match url.host() {
        None => return Err(Refusal::new("invalid_url", "url has no host")),
        Some(url::Host::Ipv4(ip)) if !targets.allows(ip.into()) => {
            return Err(private_refusal(&ip.to_string()));
        }
        Some(url::Host::Ipv6(ip)) if !targets.allows(ip.into()) => {
            return Err(private_refusal(&ip.to_string()));
        }
        _ => {}
    }
    Ok(url)
}

/// [`check_url`], and the host's name resolved now: refused when it has no allowed address.
pub async fn check_reachable(url: &reqwest::Url, targets: &Targets) -> Result<(), Refusal> {
    let Some(url::Host::Domain(name)) = url.host() else {
        return Ok(());
    };
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name, port))
        .await
        .map_err(|e| Refusal::new("invalid_url", format!("{name} cannot be resolved: {e}")))?
        .collect();
    if addrs.iter().any(|a| targets.allows(a.ip())) {
        Ok(())
    } else {
        Err(private_refusal(name))
    }
}

/// The delivery client's resolver: a name's addresses, without those the targets forbid.
pub struct PublicOnly(pub Targets);

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let targets = self.0;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| targets.allows(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(
                    format!("{host} resolves to no allowed address (private or loopback)").into(),
                );
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The client every delivery goes through: no redirects, no proxy, a short timeout, and the
/// resolver above.
pub fn client(targets: Targets) -> reqwest::Client {
    // rustls with ring (reqwest's own default provider needs a cmake build of aws-lc).
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(std::time::Duration::from_secs(10))
        .connect_timeout(std::time::Duration::from_secs(5))
        .dns_resolver(Arc::new(PublicOnly(targets)))
        .user_agent(concat!("assetlog/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the delivery client builds")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_pass() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!public(private.parse().unwrap()), "{private}");
        }
        for open in [
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(public(open.parse().unwrap()), "{open}");
        }
    }

    #[test]
    fn literal_private_urls_are_refused_unless_allowed() {
        let closed = Targets {
            allow_private: false,
        };
        let open = Targets {
            allow_private: true,
        };
        for url in [
            "http://127.0.0.1:9/x",
            "http://[::1]/",
            "http://169.254.169.254/latest/meta-data",
        ] {
            assert_eq!(
                check_url(url, &closed).unwrap_err().code,
                "private_address",
                "{url}"
            );
            assert!(check_url(url, &open).is_ok());
        }
        assert_eq!(
            check_url("ftp://example.com/", &closed).unwrap_err().code,
            "invalid_url"
        );
        assert_eq!(
            check_url("not a url", &closed).unwrap_err().code,
            "invalid_url"
        );
        assert!(check_url("https://hooks.slack.com/services/T/B/X", &closed).is_ok());
    }
}
