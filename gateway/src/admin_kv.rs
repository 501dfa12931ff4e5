//! The admin API's KV endpoints, so `brink kv --admin URL` can read and
//! write a running server's store (which the server holds locked):
//!
//! - `GET /v1/kv/{namespace}/keys?prefix=&limit=&cursor=` → one page of keys;
//! - `GET /v1/kv/{namespace}/values/{key}` → the value's bytes (404 if none);
//! - `PUT /v1/kv/{namespace}/values/{key}?ttl=&metadata=` with the value as
//!   the body → `{"version"}`;
//! - `DELETE /v1/kv/{namespace}/values/{key}`.
//!
//! `{namespace}` is the store's name for it (`WORKER__BINDING` for a
//! worker's own binding); both it and `{key}` are percent-encoded. Errors carry the same
//! messages a worker sees.

use std::sync::Arc;

use brink_kv::{KvError, KvStore, ListOptions, PutOptions};
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use percent_encoding::percent_decode_str;

use crate::admin::{error, json, AdminBody};

/// Largest value accepted by `PUT` (the Workers KV value limit, plus room).
const MAX_VALUE_BODY: usize = 26 * 1024 * 1024;

/// One of the KV endpoints; `key` is the still-encoded last path segment.
pub async fn handle(store: Arc<KvStore>, namespace: &str, key: Option<&str>, request: Request<Incoming>) -> Response<AdminBody> {
    let Ok(namespace) = percent_decode_str(namespace).decode_utf8() else {
        return error(StatusCode::BAD_REQUEST, "the namespace is not valid percent-encoded UTF-8");
    };
    let namespace = match store.namespace(&namespace) {
        Ok(namespace) => namespace,
        Err(failure) => return kv_error(&failure),
    };
    let key = match key.map(|key| percent_decode_str(key).decode_utf8()) {
        Some(Ok(key)) => Some(key.into_owned()),
        Some(Err(_)) => return error(StatusCode::BAD_REQUEST, "the key is not valid percent-encoded UTF-8"),
        None => None,
    };
    let query = query_pairs(request.uri().query().unwrap_or(""));
    let param = |name: &str| query.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone());
    let method = request.method().clone();
    match (method, key) {
        (Method::GET, None) => {
            let limit = match param("limit").map(|limit| limit.parse::<usize>()) {
                Some(Ok(limit)) => Some(limit),
                Some(Err(_)) => return error(StatusCode::BAD_REQUEST, "limit must be a whole number"),
                None => None,
            };
            let options = ListOptions { prefix: param("prefix"), limit, cursor: param("cursor") };
            match namespace.list(options).await {
                Ok(page) => json(
                    StatusCode::OK,
                    &serde_json::json!({
                        "keys": page.keys.iter().map(|key| serde_json::json!({
                            "name": key.name,
                            "expiration": key.expiration,
                            "metadata": key.metadata.as_deref().and_then(|m| serde_json::from_str::<serde_json::Value>(m).ok()),
                        })).collect::<Vec<_>>(),
                        "list_complete": page.list_complete,
                        "cursor": page.cursor,
                    }),
                ),
                Err(failure) => kv_error(&failure),
            }
        }
        (Method::GET, Some(key)) => match namespace.get(&key, None).await {
            Ok(Some(entry)) => {
                let mut response = Response::new(AdminBody::Full(Full::new(entry.value)));
                response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
                response
            }
            Ok(None) => error(StatusCode::NOT_FOUND, "key not found"),
            Err(failure) => kv_error(&failure),
        },
        (Method::PUT, Some(key)) => {
            let ttl = match param("ttl").map(|ttl| ttl.parse::<u64>()) {
                Some(Ok(ttl)) => Some(ttl),
                Some(Err(_)) => return error(StatusCode::BAD_REQUEST, "ttl must be a whole number of seconds"),
                None => None,
            };
            let value = match Limited::new(request.into_body(), MAX_VALUE_BODY).collect().await {
                Ok(body) => body.to_bytes(),
                Err(_) => return error(StatusCode::PAYLOAD_TOO_LARGE, "the value is too large or was cut off"),
            };
            let options = PutOptions { expiration: None, expiration_ttl: ttl, metadata: param("metadata") };
            match namespace.put(&key, value, options).await {
                Ok(version) => json(StatusCode::OK, &serde_json::json!({ "version": version })),
                Err(failure) => kv_error(&failure),
            }
        }
        (Method::DELETE, Some(key)) => match namespace.delete(&key).await {
            Ok(()) => json(StatusCode::OK, &serde_json::json!({ "deleted": true })),
            Err(failure) => kv_error(&failure),
        },
        (method, _) => error(StatusCode::METHOD_NOT_ALLOWED, &format!("{method} is not allowed here")),
    }
}

fn kv_error(failure: &KvError) -> Response<AdminBody> {
    let status = if failure.is_range_error() || failure.is_invalid_input() {
        StatusCode::BAD_REQUEST
    } else {
        tracing::error!(error = %failure, "KV request from the admin API failed");
        StatusCode::INTERNAL_SERVER_ERROR
    };
    error(status, &failure.to_string())
}

/// `a=1&b=x%20y` → decoded pairs (`+` is a space, as in forms).
fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |text: &str| percent_decode_str(&text.replace('+', " ")).decode_utf8_lossy().into_owned();
            (decode(name), decode(value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::query_pairs;

    #[test]
    fn query_pairs_are_decoded() {
        assert_eq!(
            query_pairs("prefix=a%2Fb&limit=5&metadata=%7B%22x%22%3A1%7D&flag"),
            vec![
                ("prefix".to_string(), "a/b".to_string()),
                ("limit".to_string(), "5".to_string()),
                ("metadata".to_string(), "{\"x\":1}".to_string()),
                ("flag".to_string(), String::new()),
            ]
        );
    }
}
