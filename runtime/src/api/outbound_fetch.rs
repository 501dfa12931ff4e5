//! Outbound `fetch()` from a worker. deno_fetch does the HTTP; this module
//! decides where a worker may connect. Three checks, so neither an address
//! in the URL, nor a DNS answer, nor the process environment can carry a
//! request into a private network:
//!
//! - every request (each redirect hop included) passes
//!   [`check_outbound_request`] before it is sent, which refuses
//!   non-public IP literals (every IPv4 form the URL parser accepts, and
//!   IPv6 forms that embed an IPv4 address) and `localhost`;
//! - every DNS answer passes [`GuardedResolver`], which drops non-public
//!   addresses, so a public name pointing at 10.0.0.1 fails too;
//! - proxy variables (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`, any case)
//!   are ignored: deno_fetch would send every request to the proxy, and the
//!   proxy, not Brink, would then pick the final address.
//!   [`ignore_proxy_environment`] removes them at process start; if they
//!   are still set, every request is refused rather than proxied.
//!
//! Entries of [`OutboundPolicy::allowed_private_hosts`] (`HOST`,
//! `HOST:PORT`, `[V6]:PORT`) lift the first two checks for that host, and
//! only for the named port when the entry has one.
//!
//! `BRINK_RESOLVE=NAME=IP[,NAME=IP...]` in Brink's environment answers those
//! names without DNS (as curl's `--resolve` or an `/etc/hosts` line would):
//! for local development and for tests, which need a name that resolves to
//! loopback on any machine. Its answers pass the same filter as DNS answers.

use std::cell::RefCell;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::{Arc, OnceLock, RwLock};

use deno_error::JsErrorBox;
use deno_fetch::dns::{Resolve, Resolving};
use hyper_util::client::legacy::connect::dns::Name;

/// The environment variables deno_fetch reads to route requests through a
/// proxy (it reads the upper-case name first, then the lower-case one).
pub const PROXY_VARIABLES: [&str; 6] = [
    "ALL_PROXY",
    "all_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
];

/// Removes the proxy variables from this process's environment, so
/// deno_fetch never routes a worker's request through a proxy.
///
/// Call it first thing in `main`, before any other thread exists: changing
/// the environment while another thread reads it (getaddrinfo does) is
/// undefined behaviour in libc.
pub fn ignore_proxy_environment() {
    for name in PROXY_VARIABLES {
        std::env::remove_var(name);
    }
}

/// The proxy variables set in this process's environment, read once: the
/// environment only changes before threads start (see
/// [`ignore_proxy_environment`]).
fn proxy_variables_set() -> &'static [&'static str] {
    static SET: OnceLock<Vec<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        PROXY_VARIABLES
            .into_iter()
            .filter(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()))
            .collect()
    })
}

/// An `--allow-private-host` entry that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllowedHostError {
    /// Nothing before the port, or an empty entry.
    #[error("allowed private host {0:?} names no host")]
    EmptyHost(String),
    /// The port is not a number from 1 to 65535.
    #[error("allowed private host {entry:?}: port {port:?} is not a number from 1 to 65535")]
    Port {
        /// The whole entry.
        entry: String,
        /// The text after the colon.
        port: String,
    },
    /// `[` without a matching `]`, text after `]` that is not `:PORT`, or
    /// brackets around something that is not an IPv6 address.
    #[error("allowed private host {0:?} is not HOST, HOST:PORT or [IPV6]:PORT")]
    Form(String),
}

/// The host part of an allow-list entry.
#[derive(Clone, Debug, PartialEq, Eq)]
enum HostPattern {
    /// An IP literal: matches that address however the URL spelled it.
    Ip(IpAddr),
    /// A host name, lower-case, without a trailing dot.
    Name(String),
}

/// One parsed `--allow-private-host` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedHost {
    host: HostPattern,
    /// `None`: every port of the host.
    port: Option<u16>,
}

impl AllowedHost {
    /// Parses `HOST`, `HOST:PORT`, `[V6]`, `[V6]:PORT` or a bare IPv6
    /// address (which cannot carry a port).
    pub fn parse(entry: &str) -> Result<AllowedHost, AllowedHostError> {
        let trimmed = entry.trim();
        let (host, port) = if let Some(rest) = trimmed.strip_prefix('[') {
            let (inside, after) = rest
                .split_once(']')
                .ok_or_else(|| AllowedHostError::Form(entry.to_string()))?;
            if inside.parse::<Ipv6Addr>().is_err() {
                return Err(AllowedHostError::Form(entry.to_string()));
            }
            match after {
                "" => (inside, None),
                _ => match after.strip_prefix(':') {
                    Some(port) => (inside, Some(port)),
                    None => return Err(AllowedHostError::Form(entry.to_string())),
                },
            }
        } else if trimmed.parse::<Ipv6Addr>().is_ok() {
            (trimmed, None)
        } else {
            match trimmed.split_once(':') {
                Some((host, port)) if !port.contains(':') => (host, Some(port)),
                Some(_) => return Err(AllowedHostError::Form(entry.to_string())),
                None => (trimmed, None),
            }
        };
        let port = match port {
            None => None,
            Some(text) => match text.parse::<u16>() {
                Ok(port) if port != 0 => Some(port),
                _ => {
                    return Err(AllowedHostError::Port {
                        entry: entry.to_string(),
                        port: text.to_string(),
                    })
                }
            },
        };
        let host = normalize_host(host);
        if host.is_empty() {
            return Err(AllowedHostError::EmptyHost(entry.to_string()));
        }
        let host = match host.parse::<IpAddr>() {
            Ok(ip) => HostPattern::Ip(ip),
            Err(_) => HostPattern::Name(host),
        };
        Ok(AllowedHost { host, port })
    }

    fn matches_host(&self, host: &str) -> bool {
        match (&self.host, host.parse::<IpAddr>()) {
            (HostPattern::Ip(allowed), Ok(ip)) => *allowed == ip,
            (HostPattern::Name(allowed), Err(_)) => *allowed == host,
            _ => false,
        }
    }
}

/// Lower-case, without IPv6 brackets or a trailing dot: the one spelling
/// both the request hook and the resolver compare.
fn normalize_host(host: &str) -> String {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase()
}

/// Where a worker's outbound `fetch()` may go.
#[derive(Clone, Debug, Default)]
pub struct OutboundPolicy {
    /// Hosts that may be reached even though they are loopback or private,
    /// e.g. a local development backend: `HOST` (every port), `HOST:PORT`
    /// or `[IPV6]:PORT` (that port only).
    pub allowed_private_hosts: Vec<String>,
    /// The worker's origin (`http://HOST[:PORT]`), as for a proxied zone on
    /// Cloudflare: `fetch()` to a host the worker serves goes there, and so
    /// does a request whose handler threw after
    /// `ctx.passThroughOnException()`. Its host and port are reachable even
    /// when private.
    pub origin: Option<String>,
    /// Which headers name the client on requests to the origin
    /// (`crate::api::forwarding`).
    pub forwarded_headers: crate::api::forwarding::ForwardedHeaders,
}

impl OutboundPolicy {
    /// Checks every allow-list entry; the first one that does not parse is
    /// the error. Entries that do not parse allow nothing.
    pub fn validate(&self) -> Result<(), AllowedHostError> {
        for entry in &self.allowed_private_hosts {
            AllowedHost::parse(entry)?;
        }
        Ok(())
    }

    fn compile(&self) -> CompiledPolicy {
        let mut allowed = Vec::new();
        for entry in &self.allowed_private_hosts {
            match AllowedHost::parse(entry) {
                Ok(host) => allowed.push(host),
                Err(error) => tracing::warn!(%error, "ignoring an allowed private host"),
            }
        }
        let origin = self.origin.as_deref().and_then(|origin| match parse_origin(origin) {
            Some((url, host_port)) => {
                if let Ok(host) = AllowedHost::parse(&host_port) {
                    allowed.push(host);
                }
                Some(url)
            }
            None => {
                tracing::warn!(origin, "ignoring an origin that is not an http(s) URL");
                None
            }
        });
        CompiledPolicy { allowed, origin, forwarded_headers: self.forwarded_headers }
    }
}

/// An origin as `scheme://host[:port]` (no path) and its `host:port` for
/// the allow list; `None` unless it is an absolute http(s) URL.
pub fn parse_origin(origin: &str) -> Option<(String, String)> {
    let url = deno_core::url::Url::parse(origin).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let host = match url.host()? {
        deno_core::url::Host::Ipv6(address) => format!("[{address}]"),
        host => host.to_string(),
    };
    let port = url.port_or_known_default()?;
    let base = match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    };
    Some((base, format!("{host}:{port}")))
}

/// Why an origin was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OriginError {
    /// Not a URL at all.
    #[error("origin {0:?} is not a URL")]
    NotAUrl(String),
    /// Not http or https.
    #[error("origin {0:?} must be an http or https URL")]
    Scheme(String),
    /// A user name or password in the URL (not repeated in the message,
    /// which reaches logs).
    #[error("an origin must not contain a user name or password")]
    Credentials,
    /// A path, query or fragment.
    #[error("origin {0:?} must be scheme://host[:port] only (requests keep their own path and query)")]
    Path(String),
}

/// Checks an origin given at deploy and returns it as stored and used:
/// `scheme://host[:port]`, lower-case, without a default port. Only http
/// and https; no user name or password (they would go to the origin with
/// every request and be shown wherever the deploy is listed); nothing after
/// the authority, since requests keep their own path and query.
pub fn validate_origin(origin: &str) -> Result<String, OriginError> {
    let url = deno_core::url::Url::parse(origin).map_err(|_| OriginError::NotAUrl(origin.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(OriginError::Scheme(origin.to_string()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(OriginError::Credentials);
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(OriginError::Path(origin.to_string()));
    }
    parse_origin(origin).map(|(normalized, _)| normalized).ok_or_else(|| OriginError::NotAUrl(origin.to_string()))
}

/// The origin of the worker on this thread ("" when it has none), for the
/// worker host's `fetch()` and `passThroughOnException()`.
#[deno_core::op2]
#[string]
pub fn op_brink_origin() -> String {
    THREAD_POLICY.with(|policy| policy.borrow().origin.clone().unwrap_or_default())
}

/// The forwarding headers of the worker on this thread.
pub(crate) fn thread_forwarded_headers() -> crate::api::forwarding::ForwardedHeaders {
    THREAD_POLICY.with(|policy| policy.borrow().forwarded_headers)
}

/// An [`OutboundPolicy`] with its entries parsed, as the request hook and
/// the resolver read it.
#[derive(Clone, Debug, Default)]
pub struct CompiledPolicy {
    allowed: Vec<AllowedHost>,
    origin: Option<String>,
    forwarded_headers: crate::api::forwarding::ForwardedHeaders,
}

/// What the allow list says about one host.
#[derive(Debug, PartialEq, Eq)]
enum HostRule {
    /// No entry names the host.
    NotListed,
    /// An entry names the host and allows this port (or every port).
    Allowed,
    /// Entries name the host, but only for other ports.
    OtherPortsOnly,
}

impl CompiledPolicy {
    fn rule(&self, host: &str, port: u16) -> HostRule {
        let host = normalize_host(host);
        let mut listed = false;
        for entry in self.allowed.iter().filter(|entry| entry.matches_host(&host)) {
            listed = true;
            if entry.port.is_none_or(|allowed| allowed == port) {
                return HostRule::Allowed;
            }
        }
        if listed {
            HostRule::OtherPortsOnly
        } else {
            HostRule::NotListed
        }
    }

    /// The resolver sees names without ports, so a name listed for any port
    /// may resolve to private addresses; the request hook has already
    /// refused that name on ports its entries do not list.
    fn resolver_allows_private(&self, name: &str) -> bool {
        let name = normalize_host(name);
        self.allowed.iter().any(|entry| entry.matches_host(&name))
    }
}

// The policy of the isolate on this thread. Each isolate owns its thread, so
// a thread-local is exactly per isolate; deno_fetch's request hook is a
// plain `fn` and can only find its policy this way.
thread_local! {
    static THREAD_POLICY: RefCell<CompiledPolicy> = RefCell::new(CompiledPolicy::default());
}

/// The policy shared by the isolate thread and its DNS resolver.
pub type SharedPolicy = Arc<RwLock<CompiledPolicy>>;

/// Installs `policy` for the isolate running on this thread.
pub fn install_policy(shared: &SharedPolicy, policy: OutboundPolicy) {
    let compiled = policy.compile();
    if let Ok(mut slot) = shared.write() {
        *slot = compiled.clone();
    }
    THREAD_POLICY.with(|slot| *slot.borrow_mut() = compiled);
}

/// True for addresses a tenant must not reach: everything that is not
/// public unicast. IPv6 addresses that embed an IPv4 address (mapped,
/// compatible, SIIT, NAT64, 6to4, Teredo) are judged by what they embed,
/// because a translator or relay delivers them to that IPv4 address.
pub fn is_private_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_private_v4(v4),
        IpAddr::V6(v6) => is_private_v6(v6),
    }
}

fn is_private_v4(v4: Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    a == 0 // 0.0.0.0/8: "this network"; Linux connects 0.0.0.0 to loopback
        || a == 10
        || a == 127
        || (a == 100 && (b & 0xc0) == 64) // 100.64.0.0/10: carrier-grade NAT
        || (a == 169 && b == 254) // link-local, cloud metadata services
        || (a == 172 && (b & 0xf0) == 16)
        || (a == 192 && b == 0 && c == 0) // 192.0.0.0/24: IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // documentation (TEST-NET-1)
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 192 && b == 168)
        || (a == 198 && (b & 0xfe) == 18) // 198.18.0.0/15: benchmarking
        || (a == 198 && b == 51 && c == 100) // documentation (TEST-NET-2)
        || (a == 203 && b == 0 && c == 113) // documentation (TEST-NET-3)
        || a >= 224 // multicast 224/4, reserved 240/4, broadcast
}

fn v4_from(high: u16, low: u16) -> Ipv4Addr {
    Ipv4Addr::from((u32::from(high) << 16) | u32::from(low))
}

/// The IPv4 addresses an IPv6 address stands for, if it is one of the
/// forms that embed IPv4 (empty otherwise).
fn embedded_ipv4(v6: Ipv6Addr) -> Vec<Ipv4Addr> {
    let s = v6.segments();
    let tail = v4_from(s[6], s[7]);
    match s {
        // ::a.b.c.d (IPv4-compatible, deprecated) and ::ffff:a.b.c.d (mapped)
        [0, 0, 0, 0, 0, 0 | 0xffff, _, _] => vec![tail],
        // ::ffff:0:a.b.c.d (SIIT, RFC 7915)
        [0, 0, 0, 0, 0xffff, 0, _, _] => vec![tail],
        // 64:ff9b::a.b.c.d (well-known NAT64 prefix, RFC 6052)
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => vec![tail],
        // 2002:AABB:CCDD::/48 (6to4, RFC 3056): the IPv4 address in bits 16..48
        [0x2002, high, low, ..] => vec![v4_from(high, low)],
        // 2001:0:SSSS:SSSS:flags:port:CCCC:CCCC (Teredo, RFC 4380): the relay
        // is the server at bits 32..64, the client is the last 32 bits inverted
        [0x2001, 0, high, low, _, _, client_high, client_low] => {
            vec![v4_from(high, low), v4_from(!client_high, !client_low)]
        }
        _ => Vec::new(),
    }
}

fn is_private_v6(v6: Ipv6Addr) -> bool {
    if v6.is_unspecified() || v6.is_loopback() {
        return true;
    }
    let embedded = embedded_ipv4(v6);
    if !embedded.is_empty() {
        return embedded.into_iter().any(is_private_v4);
    }
    let s = v6.segments();
    // Only global unicast (2000::/3) is public. Outside it: unique-local
    // fc00::/7, link-local fe80::/10, site-local fec0::/10, multicast
    // ff00::/8, the local-use NAT64 prefix 64:ff9b:1::/48 (RFC 8215; where
    // its IPv4 sits depends on the network), discard-only 100::/64, ...
    if (s[0] & 0xe000) != 0x2000 {
        return true;
    }
    (s[0] == 0x2001 && s[1] == 0x0db8) // documentation 2001:db8::/32
        || (s[0] == 0x3fff && s[1] < 0x1000) // documentation 3fff::/20
        || (s[0] == 0x2001 && s[1] < 0x0200) // 2001::/23: IETF protocol assignments
}

fn refused(host: &str, why: &str) -> JsErrorBox {
    JsErrorBox::type_error(format!("fetch() to {host} refused: {why}"))
}

/// True for host names that always mean this machine.
fn is_local_name(host: &str) -> bool {
    host == "localhost" || host.ends_with(".localhost")
}

/// deno_fetch's request hook: runs on the isolate's thread for every request
/// it sends, redirect hops included.
pub fn check_outbound_request(request: &mut http::Request<deno_fetch::ReqBody>) -> Result<(), JsErrorBox> {
    let proxies = proxy_variables_set();
    if !proxies.is_empty() {
        return Err(JsErrorBox::type_error(format!(
            "fetch() refused: {} is set in Brink's environment, and a proxy would choose the final address past \
             Brink's checks",
            proxies.join(", ")
        )));
    }
    let uri = request.uri();
    let Some(raw_host) = uri.host() else {
        return Err(JsErrorBox::type_error("fetch() needs an absolute http(s) URL"));
    };
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme() == Some(&http::uri::Scheme::HTTPS) {
            443
        } else {
            80
        });
    check_target(raw_host, port)
}

/// Whether a worker may connect to `raw_host:port` (a URL's host, as the
/// URL parser normalised it): the same check for `fetch()` and outbound
/// WebSockets (`crate::api::websocket`).
pub fn check_target(raw_host: &str, port: u16) -> Result<(), JsErrorBox> {
    // The URL parser has already turned every IPv4 spelling (2130706433,
    // 0x7f.1, 0177.0.0.1, 127.1) into dotted form, so parsing the host as an
    // address sees the address the connection will go to.
    let host = normalize_host(raw_host);
    match THREAD_POLICY.with(|policy| policy.borrow().rule(&host, port)) {
        HostRule::Allowed => Ok(()),
        HostRule::OtherPortsOnly => Err(refused(
            &format!("{host}:{port}"),
            "--allow-private-host allows this host on other ports only",
        )),
        HostRule::NotListed => {
            let private = match host.parse::<IpAddr>() {
                Ok(ip) => is_private_address(ip),
                Err(_) => is_local_name(&host),
            };
            if private {
                Err(refused(
                    &host,
                    "private and loopback addresses are not reachable from a worker",
                ))
            } else {
                Ok(())
            }
        }
    }
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

/// A resolver with the policy of the isolate on this thread, for
/// connections deno_fetch does not make (outbound WebSockets).
pub fn thread_resolver() -> GuardedResolver {
    let policy = THREAD_POLICY.with(|policy| policy.borrow().clone());
    GuardedResolver::new(Arc::new(RwLock::new(policy)))
}

/// `NAME=IP` pairs from `BRINK_RESOLVE`, read once; malformed entries are
/// skipped with a warning.
fn resolve_overrides() -> &'static [(String, IpAddr)] {
    static OVERRIDES: OnceLock<Vec<(String, IpAddr)>> = OnceLock::new();
    OVERRIDES.get_or_init(|| {
        let Some(value) = std::env::var_os("BRINK_RESOLVE") else { return Vec::new() };
        let value = value.to_string_lossy();
        value
            .split(',')
            .filter(|entry| !entry.trim().is_empty())
            .filter_map(|entry| {
                let parsed = entry
                    .split_once('=')
                    .and_then(|(name, ip)| Some((normalize_host(name.trim()), normalize_host(ip.trim()).parse().ok()?)));
                if parsed.is_none() {
                    tracing::warn!(entry, "ignoring a BRINK_RESOLVE entry that is not NAME=IP");
                }
                parsed
            })
            .collect()
    })
}

/// The pinned addresses of `name`, if `BRINK_RESOLVE` lists it.
fn resolve_override(name: &str) -> Option<Vec<SocketAddr>> {
    let name = normalize_host(name);
    let addrs: Vec<SocketAddr> = resolve_overrides()
        .iter()
        .filter(|(pinned, _)| *pinned == name)
        .map(|(_, ip)| SocketAddr::new(*ip, 0))
        .collect();
    (!addrs.is_empty()).then_some(addrs)
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        let allowed = self
            .policy
            .read()
            .map(|policy| policy.resolver_allows_private(&host))
            .unwrap_or(false);
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = match resolve_override(&host) {
                Some(addrs) => addrs,
                None => {
                    let lookup_host = host.clone();
                    crate::blocking::spawn_blocking(move || {
                        (lookup_host.as_str(), 0u16)
                            .to_socket_addrs()
                            .map(|a| a.collect::<Vec<_>>())
                    })
                    .await
                    .map_err(io::Error::other)??
                }
            };
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

    fn private(ip: &str) -> bool {
        is_private_address(ip.parse().unwrap_or_else(|_| panic!("{ip} is not an address")))
    }

    #[test]
    fn private_ipv4_ranges() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "10.1.2.3",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.1",
            "203.0.113.1",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(private(ip), "{ip} must be refused");
        }
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "192.0.1.1",
            "198.20.0.1",
            "223.255.255.255",
        ] {
            assert!(!private(ip), "{ip} is public");
        }
    }

    #[test]
    fn private_ipv6_ranges() {
        for ip in [
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "ff0e::1",
            "2001:db8::1",
            "3fff::1",
            "100::1",
            "64:ff9b:1::a00:1",
            "64:ff9b:1::808:808",
            "2001:2::1",
        ] {
            assert!(private(ip), "{ip} must be refused");
        }
        for ip in ["2606:4700::1111", "2a00:1450:4001::200e", "2001:4860:4860::8888"] {
            assert!(!private(ip), "{ip} is public");
        }
    }

    #[test]
    fn ipv6_forms_embedding_ipv4_are_judged_by_the_ipv4_address() {
        for ip in [
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "::10.0.0.1",
            "::ffff:0:127.0.0.1",
            "::ffff:0:192.168.0.1",
            "64:ff9b::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "2002:a00:1::1",
            "2002:a9fe:a9fe::1",
            // Teredo, client 127.0.0.1 (inverted: 80ff:fffe), public server
            "2001:0:808:808::80ff:fffe",
            // Teredo, client 10.0.0.1 (inverted: f5ff:fffe)
            "2001:0:808:808:0:0:f5ff:fffe",
            // Teredo, private server 10.0.0.1, public client 8.8.8.8 (f7f7:f7f7)
            "2001:0:a00:1::f7f7:f7f7",
        ] {
            assert!(private(ip), "{ip} embeds a private IPv4 address");
        }
        for ip in [
            "::ffff:8.8.8.8",
            "::ffff:0:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2001:0:808:808::f7f7:f7f7",
        ] {
            assert!(!private(ip), "{ip} embeds a public IPv4 address");
        }
    }

    #[test]
    fn allow_list_entries_parse() {
        let parsed = |entry: &str| AllowedHost::parse(entry).unwrap_or_else(|error| panic!("{entry}: {error}"));
        assert_eq!(
            parsed("127.0.0.1"),
            AllowedHost {
                host: HostPattern::Ip("127.0.0.1".parse().unwrap()),
                port: None
            }
        );
        assert_eq!(
            parsed("127.0.0.1:8080"),
            AllowedHost {
                host: HostPattern::Ip("127.0.0.1".parse().unwrap()),
                port: Some(8080)
            }
        );
        assert_eq!(
            parsed("Backend.Local.:9000"),
            AllowedHost {
                host: HostPattern::Name("backend.local".into()),
                port: Some(9000)
            }
        );
        assert_eq!(
            parsed("::1"),
            AllowedHost {
                host: HostPattern::Ip("::1".parse().unwrap()),
                port: None
            }
        );
        assert_eq!(
            parsed("[::1]"),
            AllowedHost {
                host: HostPattern::Ip("::1".parse().unwrap()),
                port: None
            }
        );
        assert_eq!(
            parsed("[::1]:443"),
            AllowedHost {
                host: HostPattern::Ip("::1".parse().unwrap()),
                port: Some(443)
            }
        );
        for bad in [
            "",
            ":80",
            "host:",
            "host:0",
            "host:65536",
            "host:http",
            "[::1",
            "[::1]x",
            "[host]:80",
            "a:b:c",
        ] {
            assert!(AllowedHost::parse(bad).is_err(), "{bad:?} must not parse");
        }
        let policy = OutboundPolicy {
            allowed_private_hosts: vec!["127.0.0.1".into(), "nope:x".into()],
            ..OutboundPolicy::default()
        };
        assert!(matches!(policy.validate(), Err(AllowedHostError::Port { .. })));
    }

    #[test]
    fn an_origin_is_reachable_on_its_port_only() {
        assert_eq!(parse_origin("http://127.0.0.1:8080/x?y"), Some(("http://127.0.0.1:8080".into(), "127.0.0.1:8080".into())));
        assert_eq!(parse_origin("https://Origin.Example"), Some(("https://origin.example".into(), "origin.example:443".into())));
        assert_eq!(parse_origin("http://[::1]:81"), Some(("http://[::1]:81".into(), "[::1]:81".into())));
        assert_eq!(parse_origin("ftp://x"), None);
        assert_eq!(parse_origin("not a url"), None);
        let policy = OutboundPolicy { origin: Some("http://127.0.0.1:8080".into()), ..OutboundPolicy::default() }.compile();
        assert_eq!(policy.rule("127.0.0.1", 8080), HostRule::Allowed);
        assert_eq!(policy.rule("127.0.0.1", 8081), HostRule::OtherPortsOnly);
        assert_eq!(policy.origin.as_deref(), Some("http://127.0.0.1:8080"));
    }

    #[test]
    fn an_entry_with_a_port_allows_only_that_port() {
        let policy = OutboundPolicy {
            allowed_private_hosts: vec![
                "127.0.0.1:8080".into(),
                "[::1]:9000".into(),
                "db.internal:5432".into(),
                "10.0.0.9".into(),
            ],
            ..OutboundPolicy::default()
        }
        .compile();
        assert_eq!(policy.rule("127.0.0.1", 8080), HostRule::Allowed);
        assert_eq!(policy.rule("127.0.0.1", 9901), HostRule::OtherPortsOnly);
        assert_eq!(policy.rule("[::1]", 9000), HostRule::Allowed);
        assert_eq!(policy.rule("[0:0::1]", 9000), HostRule::Allowed);
        assert_eq!(policy.rule("[::1]", 80), HostRule::OtherPortsOnly);
        assert_eq!(policy.rule("DB.internal.", 5432), HostRule::Allowed);
        assert_eq!(policy.rule("db.internal", 22), HostRule::OtherPortsOnly);
        assert_eq!(policy.rule("10.0.0.9", 1), HostRule::Allowed);
        assert_eq!(policy.rule("127.0.0.2", 8080), HostRule::NotListed);
        assert!(policy.resolver_allows_private("db.internal"));
        assert!(!policy.resolver_allows_private("other.internal"));
    }
}
