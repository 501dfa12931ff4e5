//! The bridge between hyper and a worker: checks the request's host, builds
//! the worker's request (an absolute URL, a size-limited streaming body,
//! the client's address as `CF-Connecting-IP`), frames the worker's
//! response (see [`crate::framing`]), and turns worker errors into short
//! client responses while the details go to the log.

use std::net::IpAddr;
use std::sync::Arc;

use brink_runtime::api::console::escape_for_log;
use brink_runtime::api::forwarding::{forwarded_chain, x_forwarded_for_chain, ClientAddress, TrustedProxies};
use brink_runtime::{Limit, RequestBody, ResponseBody, WorkerError};
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, FORWARDED, HOST};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::connection::PeerAddress;
use crate::framing::{frame_response, FramedBody};
use crate::router::{RouteTable, Routing};

/// Serves one request: route it (with the route table in force when it
/// arrives), run the worker, map errors, count it. The body is hyper's for
/// HTTP/1.1 and h2, or HTTP/3's; a request marked
/// [`SecureTransport`](crate::tls::SecureTransport) gets an `https` URL.
pub async fn handle<B>(
    request: Request<B>,
    routing: Arc<Routing>,
    max_request_body: u64,
    trust_forwarded: TrustedProxies,
) -> Result<Response<FramedBody>, std::convert::Infallible>
where
    B: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    B::Error: Into<brink_runtime::body::BodyError>,
{
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let table = routing.current();
    let (worker, response) = match forward(request, &table, max_request_body, &trust_forwarded).await {
        Ok((worker, response)) => {
            let framed = frame_response(&method, &worker, response);
            (worker, framed)
        }
        Err((worker, response)) => {
            let framed = frame_response(&method, "", response);
            (worker, framed)
        }
    };
    if let Some(metrics) = routing.metrics() {
        metrics.record(&worker, response.status().as_u16(), started.elapsed());
    }
    Ok(response)
}

async fn forward<B>(
    request: Request<B>,
    router: &RouteTable,
    max_request_body: u64,
    trust_forwarded: &TrustedProxies,
) -> Result<(String, Response<ResponseBody>), (String, Response<ResponseBody>)>
where
    B: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    B::Error: Into<brink_runtime::body::BodyError>,
{
    let host = request_host(&request).map_err(|message| unrouted(plain(StatusCode::BAD_REQUEST, message.into())))?;
    let worker = router
        .route(&host, request.uri().path())
        .cloned()
        .ok_or_else(|| unrouted(plain(StatusCode::NOT_FOUND, format!("No worker is deployed for {host}\n"))))?;
    // The server's cap bounds every worker's own request body limit.
    let body_limit = worker.limits().request_body_bytes.min(max_request_body);
    let declared_length = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared_length.is_some_and(|length| length > body_limit) {
        worker.record_limit(Limit::RequestBody);
        return Err((
            worker.name().to_string(),
            plain(StatusCode::PAYLOAD_TOO_LARGE, format!("Request body exceeds the limit of {body_limit} bytes\n")),
        ));
    }
    let path = request.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let scheme = if request.extensions().get::<crate::tls::SecureTransport>().is_some() { "https" } else { "http" };
    // Joined by hand: `format!` cost a request ~1.3k instructions here.
    let mut url = String::with_capacity(scheme.len() + 3 + host.len() + path.len());
    for part in [scheme, "://", &host, path] {
        url.push_str(part);
    }
    let uri = Uri::try_from(url).map_err(|_| unrouted(plain(StatusCode::BAD_REQUEST, "Invalid request target\n".into())))?;
    let (mut parts, body) = request.into_parts();
    parts.uri = uri;
    let peer = parts.extensions.get::<PeerAddress>().copied();
    if let Some(client) = client_address(&mut parts.headers, peer, trust_forwarded) {
        parts.extensions.insert(client);
    }
    let counted = worker.clone();
    let body: RequestBody = Limited::new(body, usize::try_from(body_limit).unwrap_or(usize::MAX))
        .map_err(move |error| -> brink_runtime::body::BodyError {
            if error.is::<LengthLimitError>() {
                // A body without (or lying about) its length, cut off here.
                counted.record_limit(Limit::RequestBody);
            }
            error
        })
        .boxed();
    match worker.fetch(Request::from_parts(parts, body)).await {
        Ok(response) => Ok((worker.name().to_string(), response)),
        Err(error) => {
            log_worker_error(worker.name(), &error);
            let mut page = plain(error.status(), error.client_message().into());
            if !error.client_page_is_typed() {
                page.headers_mut().remove(CONTENT_TYPE);
            }
            Err((worker.name().to_string(), page))
        }
    }
}

/// Set by the gateway alone: the client's address, as on Workers.
const CONNECTING_IP: HeaderName = HeaderName::from_static("cf-connecting-ip");

/// Headers a client could send to claim to be someone else. Unless the
/// server trusts what is in front of it, they are removed before the
/// worker (and so the origin) sees them.
const FORWARDING_HEADERS: [HeaderName; 3] =
    [HeaderName::from_static("x-forwarded-for"), HeaderName::from_static("x-real-ip"), FORWARDED];

/// Works out who the client is and says so in `CF-Connecting-IP`,
/// replacing whatever the client sent there. A peer `trusted` names the
/// client in its forwarding headers (see [`TrustedProxies::client`]), which
/// are kept for the origin; any other peer is the client, and its
/// forwarding headers are dropped, so no client can name an address of its
/// choosing to the worker or the origin.
fn client_address(headers: &mut HeaderMap, peer: Option<PeerAddress>, trusted: &TrustedProxies) -> Option<ClientAddress> {
    let peer = peer.map(|peer| peer.0.ip().to_canonical());
    let trusted_peer = peer.filter(|peer| trusted.trusts(*peer));
    // Most requests carry none of these: one pass over the few names a
    // request has, rather than a hashed removal of each.
    let sent = |name: &HeaderName| *name == CONNECTING_IP || (trusted_peer.is_none() && FORWARDING_HEADERS.contains(name));
    if headers.keys().any(sent) {
        headers.remove(&CONNECTING_IP);
        if trusted_peer.is_none() {
            for name in &FORWARDING_HEADERS {
                headers.remove(name);
            }
        }
    }
    let client = match trusted_peer {
        Some(proxy) => trusted.client(proxy, &forwarded_addresses(headers, trusted)),
        None => peer?,
    };
    if let Some(value) = address_header_value(client) {
        headers.insert(CONNECTING_IP, value);
    }
    Some(ClientAddress { client, peer: peer? })
}

/// `address` as a header value. An IPv4 address is written digit by digit:
/// through `Display` it cost about a tenth of the gateway's instructions
/// for a small request.
fn address_header_value(address: IpAddr) -> Option<HeaderValue> {
    let IpAddr::V4(v4) = address else {
        return HeaderValue::from_str(&address.to_string()).ok();
    };
    let mut text = [0u8; 15];
    let mut len = 0;
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            text[len] = b'.';
            len += 1;
        }
        if octet >= 100 {
            text[len] = b'0' + octet / 100;
            len += 1;
        }
        if octet >= 10 {
            text[len] = b'0' + octet / 10 % 10;
            len += 1;
        }
        text[len] = b'0' + octet % 10;
        len += 1;
    }
    HeaderValue::from_bytes(&text[..len]).ok()
}

/// The chain of addresses in the forwarding header `trusted` reads.
fn forwarded_addresses(headers: &HeaderMap, trusted: &TrustedProxies) -> Vec<Option<IpAddr>> {
    if trusted.reads_forwarded() {
        forwarded_chain(headers.get_all(FORWARDED).iter().filter_map(|value| value.to_str().ok()))
    } else {
        x_forwarded_for_chain(headers.get_all("x-forwarded-for").iter().filter_map(|value| value.to_str().ok()))
    }
}

/// An error response for a request no worker was picked for.
fn unrouted(response: Response<ResponseBody>) -> (String, Response<ResponseBody>) {
    (String::new(), response)
}

/// The host a request is for: its one `Host` header or its authority
/// (`:authority` in h2, an absolute-form target in HTTP/1.1), which must
/// agree when both are present.
///
/// Both are checked to be a plain host name or IP literal with an optional
/// port: the host is pasted in front of the path to build the worker's URL,
/// so a `/`, `?`, `#` or `@` in it would move part of the host into the
/// worker's path, query or user info.
fn request_host<B>(request: &Request<B>) -> Result<String, &'static str> {
    let mut host_headers = request.headers().get_all(HOST).iter();
    let header = host_headers.next();
    if host_headers.next().is_some() {
        return Err("More than one Host header\n");
    }
    let header = match header {
        Some(value) => Some(value.to_str().ok().filter(|host| is_valid_host(host)).ok_or("Invalid Host header\n")?),
        None => None,
    };
    let authority = match request.uri().authority() {
        Some(authority) => Some(Some(authority.as_str()).filter(|host| is_valid_host(host)).ok_or("Invalid request authority\n")?),
        None => None,
    };
    match (header, authority) {
        (Some(header), Some(authority)) if !header.eq_ignore_ascii_case(authority) => {
            Err("Host header and request authority disagree\n")
        }
        (Some(host), _) | (None, Some(host)) => Ok(host.to_string()),
        (None, None) => Err("Missing Host header\n"),
    }
}

/// `name[:port]` or `[ipv6][:port]`, where a name is letters, digits, `-`,
/// `.` and `_` (DNS names and IPv4 addresses; `_` occurs in real records).
fn is_valid_host(host: &str) -> bool {
    let (name_ok, port) = match host.strip_prefix('[') {
        Some(rest) => {
            let Some((literal, after)) = rest.split_once(']') else {
                return false;
            };
            let literal_ok =
                !literal.is_empty() && literal.chars().all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.');
            match after.strip_prefix(':') {
                Some(port) => (literal_ok, Some(port)),
                None if after.is_empty() => (literal_ok, None),
                None => return false,
            }
        }
        None => match host.rsplit_once(':') {
            Some((name, port)) => (is_host_name(name), Some(port)),
            None => (is_host_name(host), None),
        },
    };
    name_ok && port.is_none_or(is_port)
}

fn is_host_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 253 && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

fn is_port(port: &str) -> bool {
    !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok()
}

fn log_worker_error(worker: &str, error: &WorkerError) {
    // The error text comes from the tenant's code (exception messages,
    // stacks), so it is escaped like the worker's console output.
    match error {
        WorkerError::Exception(details) => {
            let details = escape_for_log(details);
            tracing::error!(worker, "request failed: uncaught exception in the worker: {details}")
        }
        other => {
            let error = other.to_string();
            let error = escape_for_log(&error);
            tracing::error!(worker, error = %error, "request failed")
        }
    }
}

fn plain(status: StatusCode, message: String) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::full(Bytes::from(message)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_that_are_names_or_ip_literals_with_ports_are_valid() {
        for host in ["example.com", "EXAMPLE.com:8080", "a-b.c_d.example", "127.0.0.1:1", "[::1]", "[::1]:443", "[::ffff:1.2.3.4]", "x:65535"] {
            assert!(is_valid_host(host), "{host}");
        }
    }

    #[test]
    fn hosts_that_would_shift_the_url_or_are_malformed_are_invalid() {
        for host in [
            "", "a/b", "a?b", "a#b", "user@a", "a b", "a\tb", "a:", "a:+80", "a:65536", "a:8o", "a:1:2", ":80", "[::1", "[::1]x",
            "[]", "[::1]:", "[fe80::1%eth0]", "a\\b", "ex%61mple", "é.example",
        ] {
            assert!(!is_valid_host(host), "{host:?}");
        }
    }

    #[test]
    fn the_client_cannot_name_its_own_address() {
        let peer = Some(PeerAddress("[::ffff:203.0.113.7]:5000".parse().expect("address")));
        let mut headers = HeaderMap::new();
        headers.insert(CONNECTING_IP, HeaderValue::from_static("1.1.1.1"));
        headers.insert("x-forwarded-for", HeaderValue::from_static("1.1.1.1"));
        headers.insert("x-real-ip", HeaderValue::from_static("1.1.1.1"));
        headers.insert(FORWARDED, HeaderValue::from_static("for=1.1.1.1"));
        let address = client_address(&mut headers, peer, &TrustedProxies::default()).expect("a peer");
        let seen: IpAddr = "203.0.113.7".parse().expect("ip");
        assert_eq!(address, ClientAddress { client: seen, peer: seen });
        assert_eq!(headers.len(), 1, "{headers:?}");
        assert_eq!(headers[CONNECTING_IP], "203.0.113.7");
    }

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        for a in [0u8, 1, 9, 10, 42, 99, 100, 109, 110, 199, 200, 250, 255] {
            for address in [[a, 0, 0, 1], [127, a, 9, a], [a, a, a, a], [255, 10, a, 100]] {
                let address = IpAddr::from(address);
                assert_eq!(address_header_value(address).expect("a value"), address.to_string().as_str());
            }
        }
        let v6: IpAddr = "2001:db8::5".parse().expect("ip");
        assert_eq!(address_header_value(v6).expect("a value"), "2001:db8::5");
    }

    #[test]
    fn a_client_without_forwarding_headers_gets_only_its_address() {
        let peer = Some(PeerAddress("192.0.2.30:5000".parse().expect("address")));
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("example.com"));
        client_address(&mut headers, peer, &TrustedProxies::default()).expect("a peer");
        assert_eq!(headers.len(), 2, "{headers:?}");
        assert_eq!(headers[CONNECTING_IP], "192.0.2.30");
    }

    #[test]
    fn a_trusted_proxy_names_the_client_in_its_last_forwarded_for() {
        let peer = Some(PeerAddress("10.0.0.2:5000".parse().expect("address")));
        let mut headers = HeaderMap::new();
        headers.insert(CONNECTING_IP, HeaderValue::from_static("1.1.1.1"));
        headers.append("x-forwarded-for", HeaderValue::from_static("9.9.9.9"));
        headers.append("x-forwarded-for", HeaderValue::from_static("8.8.8.8, 2001:db8::5"));
        let every_peer = TrustedProxies::new(Vec::new(), true, Default::default());
        let address = client_address(&mut headers, peer, &every_peer).expect("a peer");
        assert_eq!(address.client, "2001:db8::5".parse::<IpAddr>().expect("ip"));
        assert_eq!(address.peer, "10.0.0.2".parse::<IpAddr>().expect("ip"));
        assert_eq!(headers[CONNECTING_IP], "2001:db8::5");
        assert_eq!(headers.get_all("x-forwarded-for").iter().count(), 2, "kept for the origin");
        // Not an address: the peer is the client.
        headers.insert("x-forwarded-for", HeaderValue::from_static("unknown"));
        assert_eq!(client_address(&mut headers, peer, &every_peer).expect("a peer").client, address.peer);
    }

    #[test]
    fn only_listed_proxies_name_the_client() {
        let trusted = TrustedProxies::new(vec!["10.0.0.0/8".parse().expect("net")], false, Default::default());
        let spoofed = || {
            let mut headers = HeaderMap::new();
            headers.insert("x-forwarded-for", HeaderValue::from_static("1.1.1.1, 10.0.0.5"));
            headers
        };
        let mut headers = spoofed();
        let outsider = Some(PeerAddress("192.0.2.8:5000".parse().expect("address")));
        assert_eq!(client_address(&mut headers, outsider, &trusted).expect("a peer").client, "192.0.2.8".parse::<IpAddr>().expect("ip"));
        assert!(headers.get("x-forwarded-for").is_none(), "an untrusted peer's claim is dropped");
        let mut headers = spoofed();
        let proxy = Some(PeerAddress("10.0.0.2:5000".parse().expect("address")));
        assert_eq!(client_address(&mut headers, proxy, &trusted).expect("a peer").client, "1.1.1.1".parse::<IpAddr>().expect("ip"));
        let forwarded = TrustedProxies::new(
            vec!["10.0.0.0/8".parse().expect("net")],
            false,
            brink_runtime::api::forwarding::ForwardedHeaders::Forwarded,
        );
        let mut headers = spoofed();
        headers.insert(FORWARDED, HeaderValue::from_static("for=\"[2001:db8::9]:443\""));
        assert_eq!(client_address(&mut headers, proxy, &forwarded).expect("a peer").client, "2001:db8::9".parse::<IpAddr>().expect("ip"));
    }

    #[test]
    fn host_header_and_authority_must_agree() {
        let request = |uri: &str, hosts: &[&str]| {
            let mut builder = Request::builder().uri(uri);
            for host in hosts {
                builder = builder.header(HOST, *host);
            }
            builder.body(()).expect("test request")
        };
        assert_eq!(request_host(&request("/", &["a.example"])), Ok("a.example".into()));
        assert_eq!(request_host(&request("http://a.example/", &[])), Ok("a.example".into()));
        assert_eq!(request_host(&request("http://a.example/", &["A.example"])), Ok("A.example".into()));
        assert!(request_host(&request("http://a.example/", &["b.example"])).is_err());
        assert!(request_host(&request("/", &["a.example", "b.example"])).is_err());
        assert!(request_host(&request("http://user@a.example/", &[])).is_err());
        assert!(request_host(&request("/", &[])).is_err());
    }
}
