//! Maps a request's host name and path to the worker that serves it.
//!
//! A [`RouteTable`] is immutable; a change (deploy, rollback, delete) builds
//! a new table and swaps it into the [`Routing`] handle. Connections read
//! the handle on every request, so keep-alive and h2 connections opened
//! before a change see it on their next request, and a request that has
//! already picked its worker finishes on that worker.
//!
//! Route patterns are `HOST` or `HOST/PATH-PREFIX`, where HOST may start
//! with `*.` (any subdomain, at any depth, but not the bare domain). The
//! most specific route wins: an exact host before any wildcard, a longer
//! wildcard suffix before a shorter one, and within one host a longer path
//! prefix before a shorter one.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use brink_runtime::Worker;

use crate::metrics::RequestMetrics;

/// A parsed route pattern.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Route {
    /// The host, lower case, without the `*.` of a wildcard.
    host: String,
    /// Whether the pattern was `*.host`.
    wildcard: bool,
    /// The path prefix, starting with `/` (`/` matches every path).
    prefix: String,
}

/// A route pattern that cannot be parsed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid route {route:?}: {reason}")]
pub struct RouteError {
    /// The pattern as given.
    pub route: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl Route {
    /// Parses `HOST`, `HOST/PATH-PREFIX`, `*.HOST` or `*.HOST/PATH-PREFIX`.
    /// A trailing `*` on the path (Cloudflare's spelling) is accepted and
    /// means the same as the prefix without it.
    pub fn parse(text: &str) -> Result<Route, RouteError> {
        let error = |reason| RouteError { route: text.to_string(), reason };
        let (host, path) = match text.find('/') {
            Some(at) => (&text[..at], &text[at..]),
            None => (text, "/"),
        };
        let (wildcard, host) = match host.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, host),
        };
        let host = host.to_ascii_lowercase();
        if host.is_empty() || host.len() > 253 {
            return Err(error("the host is empty or too long"));
        }
        let labels_ok = host.split('.').all(|label| {
            !label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
        if !labels_ok {
            return Err(error("the host must be a DNS name (letters, digits, `-`, `_`, dots), optionally starting with `*.`"));
        }
        let prefix = path.strip_suffix('*').unwrap_or(path);
        if prefix.is_empty() || prefix.contains(['*', '?', '#']) || prefix.chars().any(|c| c.is_control() || c == ' ') {
            return Err(error("the path prefix must be a plain path (no `*` except at the end, no `?`, `#` or spaces)"));
        }
        Ok(Route { host, wildcard, prefix: prefix.to_string() })
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.wildcard {
            f.write_str("*.")?;
        }
        f.write_str(&self.host)?;
        if self.prefix != "/" {
            f.write_str(&self.prefix)?;
        }
        Ok(())
    }
}

/// Routes of one host pattern, longest prefix first.
type HostRoutes<T> = Vec<(String, T)>;

/// An immutable host/path → worker table, with an optional catch-all (what
/// `brink dev` uses). Generic over the target only so the matching rules
/// can be tested without starting workers.
pub struct RouteTable<T = Arc<Worker>> {
    exact: HashMap<String, HostRoutes<T>>,
    wildcard: HashMap<String, HostRoutes<T>>,
    fallback: Option<T>,
}

impl<T> Default for RouteTable<T> {
    fn default() -> Self {
        RouteTable { exact: HashMap::new(), wildcard: HashMap::new(), fallback: None }
    }
}

impl<T> RouteTable<T> {
    /// A table that sends every host to `target`.
    pub fn catch_all(target: T) -> RouteTable<T> {
        RouteTable { fallback: Some(target), ..RouteTable::default() }
    }

    /// A table of `routes`. A pattern listed twice keeps its last target;
    /// callers refuse such conflicts before building a table.
    pub fn new<'a>(routes: impl IntoIterator<Item = (&'a Route, T)>) -> RouteTable<T> {
        let mut table = RouteTable::default();
        for (route, worker) in routes {
            let map = if route.wildcard { &mut table.wildcard } else { &mut table.exact };
            let entries = map.entry(route.host.clone()).or_default();
            entries.retain(|(prefix, _)| *prefix != route.prefix);
            entries.push((route.prefix.clone(), worker));
        }
        for entries in table.exact.values_mut().chain(table.wildcard.values_mut()) {
            entries.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        }
        table
    }

    /// The worker for `host` (a `Host` header value, port allowed) and
    /// `path`.
    pub fn route(&self, host: &str, path: &str) -> Option<&T> {
        let host = strip_port(host);
        let name: std::borrow::Cow<'_, str> =
            if host.bytes().any(|b| b.is_ascii_uppercase()) { host.to_ascii_lowercase().into() } else { host.into() };
        if let Some(worker) = longest_prefix(self.exact.get(name.as_ref()), path) {
            return Some(worker);
        }
        // `*.example.com` covers `a.example.com` and `a.b.example.com`: try
        // the longest suffix first.
        let mut rest = name.as_ref();
        while let Some((_, suffix)) = rest.split_once('.') {
            if let Some(worker) = longest_prefix(self.wildcard.get(suffix), path) {
                return Some(worker);
            }
            rest = suffix;
        }
        self.fallback.as_ref()
    }
}

impl RouteTable<Arc<Worker>> {
    /// Every distinct worker, for shutdown.
    pub fn workers(&self) -> Vec<Arc<Worker>> {
        let mut workers: Vec<Arc<Worker>> = Vec::new();
        let routed = self.exact.values().chain(self.wildcard.values()).flatten().map(|(_, worker)| worker);
        for worker in routed.chain(self.fallback.iter()) {
            if !workers.iter().any(|w| Arc::ptr_eq(w, worker)) {
                workers.push(worker.clone());
            }
        }
        workers
    }
}

/// The live routing of a server: the current [`RouteTable`], swapped as a
/// whole, plus the request metrics every routed request is counted in.
pub struct Routing {
    table: RwLock<Arc<RouteTable>>,
    metrics: Option<Arc<RequestMetrics>>,
}

impl Routing {
    /// A handle serving `table`, counting requests in `metrics` if given.
    pub fn new(table: RouteTable, metrics: Option<Arc<RequestMetrics>>) -> Arc<Routing> {
        Arc::new(Routing { table: RwLock::new(Arc::new(table)), metrics })
    }

    /// The table in force now.
    pub fn current(&self) -> Arc<RouteTable> {
        match self.table.read() {
            Ok(table) => table.clone(),
            // A writer cannot panic while holding the lock (it only assigns),
            // but a poisoned lock still holds a whole table.
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Makes `table` the one every following request sees; returns the old
    /// one (its workers finish the requests they have).
    pub fn replace(&self, table: RouteTable) -> Arc<RouteTable> {
        let table = Arc::new(table);
        match self.table.write() {
            Ok(mut current) => std::mem::replace(&mut *current, table),
            Err(poisoned) => std::mem::replace(&mut *poisoned.into_inner(), table),
        }
    }

    /// Where routed requests are counted.
    pub fn metrics(&self) -> Option<&Arc<RequestMetrics>> {
        self.metrics.as_ref()
    }
}

/// The target of the longest prefix of `path` (entries are sorted longest
/// first).
fn longest_prefix<'a, T>(entries: Option<&'a HostRoutes<T>>, path: &str) -> Option<&'a T> {
    entries?.iter().find(|(prefix, _)| path.starts_with(prefix.as_str())).map(|(_, target)| target)
}

fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_parse_and_print_back() {
        for (text, shown) in [
            ("api.example.com", "api.example.com"),
            ("API.Example.com", "api.example.com"),
            ("*.example.com", "*.example.com"),
            ("example.com/api/", "example.com/api/"),
            ("example.com/api/*", "example.com/api/"),
            ("example.com/*", "example.com"),
            ("*.example.com/v1", "*.example.com/v1"),
        ] {
            assert_eq!(Route::parse(text).map(|r| r.to_string()), Ok(shown.to_string()), "{text}");
        }
        for bad in ["", "/api", "*.", "a..b", "ex ample.com", "a.*.com", "**.a.com", "a.com/a*b", "a.com/?x", "a.com:80"] {
            assert!(Route::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_most_specific_route_wins() {
        let patterns = ["example.com", "example.com/api/", "example.com/api/v2/", "*.example.com", "*.b.example.com", "*.example.com/static/"];
        let routes: Vec<Route> = patterns.iter().map(|p| Route::parse(p).unwrap()).collect();
        let table = RouteTable::new(routes.iter().zip(patterns));
        for (host, path, expected) in [
            ("example.com", "/", Some("example.com")),
            ("EXAMPLE.com:8080", "/x", Some("example.com")),
            ("example.com", "/api/x", Some("example.com/api/")),
            ("example.com", "/api/v2/x", Some("example.com/api/v2/")),
            ("example.com", "/api", Some("example.com")),
            ("a.example.com", "/api/x", Some("*.example.com")),
            ("a.example.com", "/static/x", Some("*.example.com/static/")),
            ("a.b.example.com", "/", Some("*.b.example.com")),
            ("a.b.example.com", "/static/", Some("*.b.example.com")),
            ("x.a.example.com", "/", Some("*.example.com")),
            ("b.example.com", "/", Some("*.example.com")),
            ("other.com", "/", None),
            ("example.org", "/", None),
        ] {
            assert_eq!(table.route(host, path).copied(), expected, "{host}{path}");
        }
    }

    #[test]
    fn an_exact_host_whose_prefixes_miss_falls_through_to_a_wildcard() {
        let patterns = ["a.example.com/api/", "*.example.com"];
        let routes: Vec<Route> = patterns.iter().map(|p| Route::parse(p).unwrap()).collect();
        let table = RouteTable::new(routes.iter().zip(patterns));
        assert_eq!(table.route("a.example.com", "/api/1").copied(), Some("a.example.com/api/"));
        assert_eq!(table.route("a.example.com", "/other").copied(), Some("*.example.com"));
    }
}
