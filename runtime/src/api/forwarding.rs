//! The client's address on requests a worker sends to its origin: what the
//! gateway saw of the connection a request arrived on ([`ClientAddress`],
//! carried in the request's extensions into its context), and which
//! forwarding headers the worker host adds when a `fetch()` goes to the
//! origin ([`ForwardedHeaders`]). The headers themselves are written in JS
//! (`js/worker_host.js`), on the request that goes to the origin, so a
//! worker's own changes to that request come first and the client's address
//! is added last, as a proxy does.

use std::net::IpAddr;

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
}
