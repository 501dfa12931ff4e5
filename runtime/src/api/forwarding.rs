//! The client's address on requests a worker sends to its origin: what the
//! gateway saw of the connection a request arrived on ([`ClientAddress`],
//! carried in the request's extensions into its context), and which
//! forwarding headers the worker host adds when a `fetch()` goes to the
//! origin ([`ForwardedHeaders`]). The headers themselves are written in JS
//! (`js/worker_host.js`), on the request that goes to the origin, so a
//! worker's own changes to that request come first and the client's address
//! is added last, as a proxy does. [`TrustedProxies`] decides which
//! peers may name the client in forwarding headers of their own.

use std::net::IpAddr;
use std::sync::Arc;

use deno_core::OpState;

use crate::context::ContextTable;

/// Where a request came from. `peer` is the address of the socket the
/// request arrived on; `client` is the address the gateway believes is the
/// client's (the peer, or, behind a trusted proxy, the address that proxy
/// forwarded). The worker sees `client` as `CF-Connecting-IP`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddress {
    /// The client, as far as the gateway can tell.
    pub client: IpAddr,
    /// The other end of the connection.
    pub peer: IpAddr,
}

/// Which headers name the client on requests to a worker's origin, besides
/// `CF-Connecting-IP` (always set, overwriting the worker's value).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ForwardedHeaders {
    /// `X-Forwarded-For` (the peer appended to the request's list) and
    /// `X-Real-IP` (the client, replacing any value).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded` (an element `for=…;host=…;proto=…` appended).
    Forwarded,
    /// Neither.
    None,
}

impl ForwardedHeaders {
    /// The configuration spelling: `x-forwarded-for`, `forwarded`, `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            ForwardedHeaders::XForwardedFor => "x-forwarded-for",
            ForwardedHeaders::Forwarded => "forwarded",
            ForwardedHeaders::None => "none",
        }
    }
}

/// A value that is none of the configuration spellings.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("forwarded headers must be \"x-forwarded-for\", \"forwarded\" or \"none\", got {0:?}")]
pub struct UnknownForwardedHeaders(pub String);

impl std::str::FromStr for ForwardedHeaders {
    type Err = UnknownForwardedHeaders;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "x-forwarded-for" => Ok(ForwardedHeaders::XForwardedFor),
            "forwarded" => Ok(ForwardedHeaders::Forwarded),
            "none" => Ok(ForwardedHeaders::None),
            other => Err(UnknownForwardedHeaders(other.to_string())),
        }
    }
}

/// An IP network, `address/prefix` (a bare address is the network of
/// just that address). IPv4-mapped IPv6 addresses belong to IPv4 networks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpNet {
    address: IpAddr,
    prefix: u8,
}

/// A value that is not an IP network.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not an IP network (address/prefix, e.g. \"10.0.0.0/8\" or \"::1/128\")")]
pub struct BadIpNet(pub String);

impl std::str::FromStr for IpNet {
    type Err = BadIpNet;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let bad = || BadIpNet(value.to_string());
        let (address, prefix) = match value.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (value, None),
        };
        let address: IpAddr = address.parse().map_err(|_| bad())?;
        let bits = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) if !prefix.is_empty() && prefix.bytes().all(|b| b.is_ascii_digit()) => {
                prefix.parse::<u8>().ok().filter(|prefix| *prefix <= bits).ok_or_else(bad)?
            }
            Some(_) => return Err(bad()),
            None => bits,
        };
        Ok(IpNet { address, prefix })
    }
}

impl IpNet {
    /// Whether `ip` is in this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let masked = |bits: u128, width: u32| {
            let host_bits = width - u32::from(self.prefix);
            bits.checked_shr(host_bits).unwrap_or(0)
        };
        match (self.address, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u128::from(u32::from(net)), 32) == masked(u128::from(u32::from(ip)), 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => masked(u128::from(net), 128) == masked(u128::from(ip), 128),
            _ => false,
        }
    }
}

/// Which peers may name the client in their forwarding headers, and how
/// the client is found in them. A peer that is not trusted has those
/// headers removed and is the client itself.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies {
    /// `proxy.trust_incoming`: every peer is a proxy of the operator's,
    /// which adds one address (the last) to the chain.
    every_peer: bool,
    /// `proxy.trusted_proxies`.
    networks: Arc<[IpNet]>,
    /// Which header holds the chain: `Forwarded` (with
    /// [`ForwardedHeaders::Forwarded`]) or else `X-Forwarded-For`.
    reads: ForwardedHeaders,
}

impl TrustedProxies {
    /// Trusts the peers in `networks`, or, with `every_peer`, any peer (for
    /// one hop); reads the chain from the header `reads` writes.
    pub fn new(networks: Vec<IpNet>, every_peer: bool, reads: ForwardedHeaders) -> TrustedProxies {
        TrustedProxies { every_peer, networks: networks.into(), reads }
    }

    /// Whether `peer` may name the client.
    pub fn trusts(&self, peer: IpAddr) -> bool {
        self.every_peer || self.is_proxy(peer)
    }

    fn is_proxy(&self, ip: IpAddr) -> bool {
        self.networks.iter().any(|network| network.contains(ip))
    }

    /// Whether the chain is read from `Forwarded` (else `X-Forwarded-For`).
    pub fn reads_forwarded(&self) -> bool {
        self.reads == ForwardedHeaders::Forwarded
    }

    /// The client behind trusted `peer`, given the chain of addresses the
    /// proxies forwarded (oldest first, `None` for an entry that is not an
    /// address): walking from the newest, the first address that is not
    /// itself a trusted proxy (as nginx's `real_ip_recursive`). An entry
    /// that is not an address stops the walk at the proxy that wrote it.
    /// With `every_peer` only the newest entry is taken (older ones were
    /// written by whoever connected to that proxy).
    pub fn client(&self, peer: IpAddr, chain: &[Option<IpAddr>]) -> IpAddr {
        let mut client = peer;
        for (hops, hop) in chain.iter().rev().enumerate() {
            if hops > 0 && !self.is_proxy(client) {
                break;
            }
            match hop {
                Some(address) => client = address.to_canonical(),
                None => break,
            }
        }
        client
    }
}

/// The addresses in `X-Forwarded-For` lines (comma-separated, oldest first).
pub fn x_forwarded_for_chain<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<Option<IpAddr>> {
    lines
        .flat_map(|line| line.split(','))
        .map(|entry| entry.trim().parse::<IpAddr>().ok())
        .collect()
}

/// The `for=` addresses in `Forwarded` lines (RFC 7239), oldest first; an
/// element without one, or whose node is `unknown`, obfuscated or
/// malformed, is `None`.
pub fn forwarded_chain<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<Option<IpAddr>> {
    lines
        .flat_map(|line| line.split(','))
        .map(|element| {
            let node = element.split(';').find_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                name.trim().eq_ignore_ascii_case("for").then(|| value.trim().trim_matches('"'))
            })?;
            let address = match node.strip_prefix('[') {
                Some(rest) => rest.split_once(']')?.0,
                // `a.b.c.d:port`; a bare IPv6 address is not valid here.
                None => node.split_once(':').map_or(node, |(address, _)| address),
            };
            address.parse::<IpAddr>().ok()
        })
        .collect()
}

/// For the worker host's origin hop: `[headers, client, peer]` of request
/// `id`, where `headers` is the [`ForwardedHeaders`] spelling; empty when
/// the request has no known client (it did not come through a listener,
/// or it has ended).
#[deno_core::op2]
#[serde]
pub fn op_brink_forwarding(state: &mut OpState, #[smi] id: u32) -> Vec<String> {
    let Some(address) = state.borrow::<ContextTable>().client_address(id) else {
        return Vec::new();
    };
    let headers = crate::api::outbound_fetch::thread_forwarded_headers();
    vec![headers.as_str().to_string(), address.client.to_string(), address.peer.to_string()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip_and_others_are_refused() {
        for headers in [ForwardedHeaders::XForwardedFor, ForwardedHeaders::Forwarded, ForwardedHeaders::None] {
            assert_eq!(headers.as_str().parse::<ForwardedHeaders>(), Ok(headers));
        }
        assert!("X-Forwarded-For ".parse::<ForwardedHeaders>().is_err());
        assert!("".parse::<ForwardedHeaders>().is_err());
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test address")
    }

    #[test]
    fn networks_parse_and_contain() {
        let net: IpNet = "10.0.0.0/8".parse().expect("net");
        assert!(net.contains(ip("10.1.2.3")));
        assert!(net.contains(ip("::ffff:10.1.2.3")), "IPv4-mapped");
        assert!(!net.contains(ip("11.0.0.1")));
        assert!(!net.contains(ip("::1")));
        let loopback: IpNet = "::1/128".parse().expect("net");
        assert!(loopback.contains(ip("::1")) && !loopback.contains(ip("::2")));
        assert!("0.0.0.0/0".parse::<IpNet>().expect("net").contains(ip("203.0.113.9")));
        assert!("192.0.2.7".parse::<IpNet>().expect("net").contains(ip("192.0.2.7")));
        assert!("2001:db8::/32".parse::<IpNet>().expect("net").contains(ip("2001:db8:1::5")));
        for bad in ["", "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/+8", "example.com/8", "10.0.0/8", "1.2.3.4/8/8"] {
            assert!(bad.parse::<IpNet>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_client_is_the_newest_address_that_is_not_a_trusted_proxy() {
        let trusted = TrustedProxies::new(
            vec!["10.0.0.0/8".parse().expect("net"), "::1/128".parse().expect("net")],
            false,
            ForwardedHeaders::XForwardedFor,
        );
        assert!(trusted.trusts(ip("10.0.0.2")) && !trusted.trusts(ip("192.0.2.1")));
        let chain = x_forwarded_for_chain(["6.6.6.6, 203.0.113.5", "10.0.0.9"].into_iter());
        assert_eq!(trusted.client(ip("10.0.0.2"), &chain), ip("203.0.113.5"), "past two proxies, not the spoofed one");
        let chain = x_forwarded_for_chain(["10.0.0.7, 10.0.0.8"].into_iter());
        assert_eq!(trusted.client(ip("::1"), &chain), ip("10.0.0.7"), "only proxies: the oldest");
        let chain = x_forwarded_for_chain(["1.1.1.1, unknown, 10.0.0.8"].into_iter());
        assert_eq!(trusted.client(ip("10.0.0.2"), &chain), ip("10.0.0.8"), "stops at what is not an address");
        assert_eq!(trusted.client(ip("10.0.0.2"), &[]), ip("10.0.0.2"));
        let every = TrustedProxies::new(Vec::new(), true, ForwardedHeaders::XForwardedFor);
        let chain = x_forwarded_for_chain(["1.1.1.1, 10.0.0.9"].into_iter());
        assert_eq!(every.client(ip("192.0.2.1"), &chain), ip("10.0.0.9"), "trust_incoming takes one hop");
    }

    #[test]
    fn forwarded_elements_name_their_for_node() {
        let chain = forwarded_chain(
            ["for=192.0.2.43, for=\"[2001:db8::17]:4711\";proto=http", "For=unknown;by=x, proto=https, for=\"198.51.100.2:80\""]
                .into_iter(),
        );
        assert_eq!(chain, vec![Some(ip("192.0.2.43")), Some(ip("2001:db8::17")), None, None, Some(ip("198.51.100.2"))]);
    }
}
