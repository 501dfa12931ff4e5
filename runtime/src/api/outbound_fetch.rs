//! Outbound `fetch()` from a worker. deno_fetch does the HTTP; this module
//! decides where a worker may connect. Two checks, so neither an address in
//! the URL nor a DNS answer can reach a private network:
//!
//! - every request (each redirect hop included) passes
//!   [`check_outbound_request`] before it is sent, which refuses
//!   loopback/private/link-local IP literals and `localhost`;
//! - every DNS answer passes [`GuardedResolver`], which drops private
//!   addresses, so a public name pointing at 10.0.0.1 fails too.
//!
//! Hosts named in [`OutboundPolicy::allowed_private_hosts`] skip both checks.

use std::cell::RefCell;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::{Arc, RwLock};

use deno_error::JsErrorBox;
use deno_fetch::dns::{Resolve, Resolving};
use hyper_util::client::legacy::connect::dns::Name;

/// Where a worker's outbound `fetch()` may go.
#[derive(Clone, Debug, Default)]
pub struct OutboundPolicy {
    /// Host names or IP literals (no port) that may be reached even though
    /// they are loopback or private, e.g. a local development backend.
    pub allowed_private_hosts: Vec<String>,
}

impl OutboundPolicy {
    fn allows_private(&self, host: &str) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.allowed_private_hosts
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(host))
    }
}

// The policy of the isolate on this thread. Each isolate owns its thread, so
// a thread-local is exactly per isolate; deno_fetch's request hook is a
// plain `fn` and can only find its policy this way.
thread_local! {
    static THREAD_POLICY: RefCell<OutboundPolicy> = RefCell::new(OutboundPolicy::default());
}

/// The policy shared by the isolate thread and its DNS resolver.
pub type SharedPolicy = Arc<RwLock<OutboundPolicy>>;

/// Installs `policy` for the isolate running on this thread.
pub fn install_policy(shared: &SharedPolicy, policy: OutboundPolicy) {
    if let Ok(mut slot) = shared.write() {
        *slot = policy.clone();
    }
    THREAD_POLICY.with(|slot| *slot.borrow_mut() = policy);
}

/// True for addresses a tenant must not reach: loopback, private, link-local,
/// carrier-grade NAT, unspecified, multicast, broadcast, documentation, and
/// IPv6 unique-local or IPv4-mapped forms of those.
pub fn is_private_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
                || o[0] >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private_address(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

/// deno_fetch's request hook: runs on the isolate's thread for every request
/// it sends, redirect hops included.
pub fn check_outbound_request(
    request: &mut http::Request<deno_fetch::ReqBody>,
) -> Result<(), JsErrorBox> {
    let Some(host) = request.uri().host() else {
        return Err(JsErrorBox::type_error("fetch() needs an absolute http(s) URL"));
    };
    let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
    if THREAD_POLICY.with(|policy| policy.borrow().allows_private(&host)) {
        return Ok(());
    }
    let private = match host.parse::<IpAddr>() {
        Ok(ip) => is_private_address(ip),
        Err(_) => {
            let lower = host.to_ascii_lowercase();
            lower == "localhost" || lower.ends_with(".localhost")
        }
    };
    if private {
        return Err(JsErrorBox::type_error(format!(
            "fetch() to {host} refused: private and loopback addresses are not reachable from a worker"
        )));
    }
    Ok(())
}

/// A DNS resolver that never hands out a private address unless the policy
/// allows that host.
#[derive(Debug)]
pub struct GuardedResolver {
    policy: SharedPolicy,
}

impl GuardedResolver {
    /// A resolver reading its allow-list from `policy`.
    pub fn new(policy: SharedPolicy) -> Self {
        GuardedResolver { policy }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        let allowed = self
            .policy
            .read()
            .map(|policy| policy.allows_private(&host))
            .unwrap_or(false);
        Box::pin(async move {
            let lookup_host = host.clone();
            let addrs: Vec<SocketAddr> = tokio::task::spawn_blocking(move || {
                (lookup_host.as_str(), 0u16).to_socket_addrs().map(|a| a.collect::<Vec<_>>())
            })
            .await
            .map_err(io::Error::other)??;
            let usable: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|addr| allowed || !is_private_address(addr.ip()))
                .collect();
            if usable.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!("{host} resolves only to private addresses, which a worker may not reach"),
                ));
            }
            Ok(usable.into_iter())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_ranges() {
        for ip in ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "::1", "fd00::1", "fe80::1", "::ffff:127.0.0.1"] {
            assert!(is_private_address(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["1.1.1.1", "8.8.8.8", "2606:4700::1111"] {
            assert!(!is_private_address(ip.parse().unwrap()), "{ip}");
        }
    }
}
