//! Who the client is: the connecting peer, or, behind a configured proxy,
//! the address that proxy reports in `X-Forwarded-For`.

use std::net::{IpAddr, SocketAddr};

use actix_web::HttpRequest;
use actix_web::http::header::HeaderMap;
use ipnet::IpNet;

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Trusts the given networks.
    pub fn new(networks: Vec<IpNet>) -> Self {
        Self(networks)
    }

    fn contains(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.0.iter().any(|network| network.contains(&address))
    }

    /// The client's address. A peer that is not a trusted proxy is the
    /// client, whatever its headers say; a trusted one's `X-Forwarded-For`
    /// is read from the right, and the first entry that is not a trusted
    /// proxy is the client. An entry that is not an address stops the walk
    /// at the last hop that could be trusted, since no proxy of ours wrote it.
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.contains(client) {
            return client;
        }
        let values: Vec<_> = headers.get_all("x-forwarded-for").collect();
        for value in values.into_iter().rev() {
            let Ok(value) = value.to_str() else {
                return client;
            };
            for entry in value.rsplit(',') {
                let Some(address) = parse_address(entry.trim()) else {
                    return client;
                };
                client = address;
                if !self.contains(address) {
                    return address;
                }
            }
        }
        client
    }
}

/// The client address of `request`, as the app's [`TrustedProxies`] decide
/// it (the peer when none are registered); `None` without a peer address.
pub fn client_address(request: &HttpRequest) -> Option<IpAddr> {
    let peer = request.peer_addr()?.ip();
    Some(
        request
            .app_data::<TrustedProxies>()
            .map_or(peer, |proxies| {
                proxies.client_address(peer, request.headers())
            }),
    )
}

/// An address as proxies write it: bare, or with a port.
fn parse_address(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|socket| socket.ip()))
        .ok()
        .map(|address| address.to_canonical())
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    fn headers(forwarded_for: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in forwarded_for {
            headers.append(
                HeaderName::from_static("x-forwarded-for"),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn trusting(networks: &[&str]) -> TrustedProxies {
        TrustedProxies::new(networks.iter().map(|n| n.parse().unwrap()).collect())
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let proxies = trusting(&["10.0.0.0/8"]);
        let forged = headers(&["1.2.3.4"]);
        assert_eq!(
            proxies.client_address(ip("203.0.113.9"), &forged),
            ip("203.0.113.9")
        );
        assert_eq!(
            TrustedProxies::default().client_address(ip("127.0.0.1"), &forged),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_right_most_untrusted_entry_is_the_client() {
        let proxies = trusting(&["10.0.0.0/8", "192.168.1.1/32"]);
        let peer = ip("10.0.0.2");
        // The client may prepend anything; only what our proxies appended counts.
        let chain = headers(&["6.6.6.6, 198.51.100.7, 192.168.1.1"]);
        assert_eq!(proxies.client_address(peer, &chain), ip("198.51.100.7"));
        let split = headers(&["6.6.6.6", "198.51.100.7:5000", "10.1.1.1"]);
        assert_eq!(proxies.client_address(peer, &split), ip("198.51.100.7"));
        let v6 = headers(&["[2001:db8::1]:443"]);
        assert_eq!(proxies.client_address(peer, &v6), ip("2001:db8::1"));
    }

    #[test]
    fn garbage_or_nothing_forwarded_leaves_the_last_trusted_hop() {
        let proxies = trusting(&["10.0.0.0/8"]);
        let peer = ip("10.0.0.2");
        assert_eq!(proxies.client_address(peer, &headers(&[])), peer);
        assert_eq!(
            proxies.client_address(peer, &headers(&["1.2.3.4, not-an-ip, 10.0.0.3"])),
            ip("10.0.0.3")
        );
        assert_eq!(
            proxies.client_address(peer, &headers(&["10.0.0.4, 10.0.0.3"])),
            ip("10.0.0.4")
        );
    }

    #[test]
    fn ipv4_mapped_peers_match_ipv4_ranges() {
        let proxies = trusting(&["10.0.0.0/8"]);
        assert_eq!(
            proxies.client_address(ip("::ffff:10.0.0.2"), &headers(&["198.51.100.7"])),
            ip("198.51.100.7")
        );
    }
}
