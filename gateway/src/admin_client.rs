//! The client side of the admin API, behind `brink deploy`, `brink workers
//! list`, `brink versions`, `brink rollback`, `brink delete` and `brink
//! tail`. The commands are thin: each is one request, and the answer is
//! printed as a table for people or as JSON for scripts.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use base64::Engine as _;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

use crate::config::KvBinding;
use crate::deployments::LimitOverrides;

/// Why an admin command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminClientError {
    /// No token was given.
    #[error("no admin token: pass --token or set BRINK_ADMIN_TOKEN")]
    NoToken,
    /// The admin URL is not usable.
    #[error("invalid admin URL {0:?} (expected http://HOST:PORT)")]
    Url(String),
    /// The server could not be reached.
    #[error("cannot reach the admin API at {url}: {message}")]
    Connect {
        /// The URL.
        url: String,
        /// Why.
        message: String,
    },
    /// The server answered with an error.
    #[error("{message} (HTTP {status})")]
    Refused {
        /// The status.
        status: StatusCode,
        /// The server's message.
        message: String,
    },
    /// The answer could not be read.
    #[error("unexpected answer from the admin API: {0}")]
    Answer(String),
    /// The worker's files could not be bundled.
    #[error("{0}")]
    Bundle(#[from] brink_runtime::bundle::BundleError),
    /// Writing the output failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// What `brink deploy` uploads besides the code.
#[derive(Debug, Default, Clone)]
pub struct DeployOptions {
    /// Route patterns.
    pub routes: Vec<String>,
    /// Plain-text bindings.
    pub vars: Vec<(String, String)>,
    /// Secret bindings.
    pub secrets: Vec<(String, String)>,
    /// KV bindings; `explicit` says whether a namespace was named.
    pub kv: Vec<(KvBinding, bool)>,
    /// Limit overrides.
    pub limits: LimitOverrides,
    /// The origin behind the worker.
    pub origin: Option<String>,
}

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn kv_value_path(namespace: &str, key: &str) -> String {
    format!("/v1/kv/{}/values/{}", encode(namespace), encode(key))
}

/// A connection to one server's admin API.
pub struct AdminClient {
    base: String,
    token: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl AdminClient {
    /// A client for the API at `url` (`http://HOST:PORT`) using `token`.
    pub fn new(url: &str, token: Option<String>) -> Result<AdminClient, AdminClientError> {
        let token = token.filter(|token| !token.is_empty()).ok_or(AdminClientError::NoToken)?;
        let base = url.trim_end_matches('/').to_string();
        let valid = base
            .parse::<http::Uri>()
            .is_ok_and(|uri| uri.scheme_str() == Some("http") && uri.authority().is_some() && uri.path() == "/");
        if !valid {
            return Err(AdminClientError::Url(url.to_string()));
        }
        let client = Client::builder(TokioExecutor::new()).build_http();
        Ok(AdminClient { base, token, client })
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<http::Response<hyper::body::Incoming>, AdminClientError> {
        let url = format!("{}{path}", self.base);
        let mut request = Request::builder()
            .method(method)
            .uri(&url)
            .header(AUTHORIZATION, format!("Bearer {}", self.token));
        if body.is_some() {
            request = request.header(CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|_| AdminClientError::Url(url.clone()))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|error| AdminClientError::Connect { url: self.base.clone(), message: error_chain(&error) })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let body = response.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        let message = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|value| value.get("error").and_then(Value::as_str).map(String::from))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).trim().to_string());
        Err(AdminClientError::Refused { status, message })
    }

    /// One request with an optional JSON body; the JSON answer.
    pub(crate) async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, AdminClientError> {
        let body = body.map(|value| value.to_string().into_bytes());
        let response = self.send(method, path, body).await?;
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|error| AdminClientError::Answer(error.to_string()))?
            .to_bytes();
        serde_json::from_slice(&bytes).map_err(|error| AdminClientError::Answer(error.to_string()))
    }

    /// A KV value of `namespace` on the server, if the key exists.
    pub async fn kv_get(&self, namespace: &str, key: &str) -> Result<Option<Bytes>, AdminClientError> {
        match self.send(Method::GET, &kv_value_path(namespace, key), None).await {
            Ok(response) => {
                let body = response.into_body().collect().await.map_err(|error| AdminClientError::Answer(error.to_string()))?;
                Ok(Some(body.to_bytes()))
            }
            Err(AdminClientError::Refused { status: StatusCode::NOT_FOUND, .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Stores a KV value on the server; returns `{"version"}`.
    pub async fn kv_put(
        &self,
        namespace: &str,
        key: &str,
        value: Vec<u8>,
        ttl: Option<u64>,
        metadata: Option<&str>,
    ) -> Result<Value, AdminClientError> {
        let mut query = Vec::new();
        if let Some(ttl) = ttl {
            query.push(format!("ttl={ttl}"));
        }
        if let Some(metadata) = metadata {
            query.push(format!("metadata={}", encode(metadata)));
        }
        let path = format!("{}?{}", kv_value_path(namespace, key), query.join("&"));
        let response = self.send(Method::PUT, &path, Some(value)).await?;
        let body = response.into_body().collect().await.map_err(|error| AdminClientError::Answer(error.to_string()))?;
        serde_json::from_slice(&body.to_bytes()).map_err(|error| AdminClientError::Answer(error.to_string()))
    }

    /// Deletes a KV key on the server.
    pub async fn kv_delete(&self, namespace: &str, key: &str) -> Result<Value, AdminClientError> {
        self.call(Method::DELETE, &kv_value_path(namespace, key), None).await
    }

    /// One page of a namespace's keys on the server:
    /// `{"keys", "list_complete", "cursor"}`.
    pub async fn kv_list(
        &self,
        namespace: &str,
        prefix: Option<&str>,
        limit: Option<usize>,
        cursor: Option<&str>,
    ) -> Result<Value, AdminClientError> {
        let mut query = Vec::new();
        if let Some(prefix) = prefix {
            query.push(format!("prefix={}", encode(prefix)));
        }
        if let Some(limit) = limit {
            query.push(format!("limit={limit}"));
        }
        if let Some(cursor) = cursor {
            query.push(format!("cursor={}", encode(cursor)));
        }
        let path = format!("/v1/kv/{}/keys?{}", encode(namespace), query.join("&"));
        self.call(Method::GET, &path, None).await
    }

    /// Bundles `entry` and uploads it as worker `name`'s next version;
    /// returns once it serves, with `{"name", "version"}`.
    pub async fn deploy(&self, name: &str, entry: &Path, options: DeployOptions) -> Result<Value, AdminClientError> {
        let upload = build_upload(entry, options)?;
        self.call(Method::POST, &format!("/v1/workers/{name}/versions"), Some(upload)).await
    }

    /// Every worker.
    pub async fn list(&self) -> Result<Value, AdminClientError> {
        self.call(Method::GET, "/v1/workers", None).await
    }

    /// Every version of worker `name`.
    pub async fn versions(&self, name: &str) -> Result<Value, AdminClientError> {
        self.call(Method::GET, &format!("/v1/workers/{name}/versions"), None).await
    }

    /// Switches worker `name` to `version`.
    pub async fn rollback(&self, name: &str, version: u64) -> Result<Value, AdminClientError> {
        self.call(Method::POST, &format!("/v1/workers/{name}/rollback"), Some(json!({ "version": version }))).await
    }

    /// Deletes worker `name`.
    pub async fn delete(&self, name: &str) -> Result<Value, AdminClientError> {
        self.call(Method::DELETE, &format!("/v1/workers/{name}"), None).await
    }

    /// Streams worker `name`'s log lines to `out` until the server ends the
    /// stream (the worker is deleted, the server stops) or the process is
    /// interrupted. `on_connected` runs once the stream is open.
    pub async fn tail(
        &self,
        name: &str,
        as_json: bool,
        out: &mut dyn Write,
        on_connected: impl FnOnce(),
    ) -> Result<(), AdminClientError> {
        let response = self.send(Method::GET, &format!("/v1/workers/{name}/tail"), None).await?;
        on_connected();
        let mut body = response.into_body();
        let mut pending = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|error| AdminClientError::Answer(error.to_string()))?;
            let Ok(data) = frame.into_data() else { continue };
            pending.extend_from_slice(&data);
            while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                let line = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
                if as_json {
                    writeln!(out, "{line}")?;
                } else {
                    writeln!(out, "{}", render_log_line(&line))?;
                }
                out.flush()?;
            }
        }
        Ok(())
    }
}

/// The JSON upload for `POST /v1/workers/{name}/versions`.
pub fn build_upload(entry: &Path, options: DeployOptions) -> Result<Value, AdminClientError> {
    let bundle = brink_runtime::bundle::ModuleBundle::from_entry_file(entry)?;
    let modules: BTreeMap<&str, String> = bundle
        .modules()
        .map(|(path, source)| (path, base64::engine::general_purpose::STANDARD.encode(source)))
        .collect();
    let vars: BTreeMap<String, String> = options.vars.into_iter().collect();
    let secrets: BTreeMap<String, String> = options.secrets.into_iter().collect();
    let kv: Vec<Value> = options
        .kv
        .into_iter()
        .map(|(binding, explicit)| match explicit {
            true => json!({ "binding": binding.binding, "namespace": binding.namespace }),
            false => json!({ "binding": binding.binding }),
        })
        .collect();
    let mut upload = json!({
        "entry": bundle.entry(),
        "modules": modules,
        "routes": options.routes,
        "vars": vars,
        "secrets": secrets,
        "kv": kv,
        "limits": options.limits,
    });
    if let Some(origin) = options.origin {
        upload["origin"] = json!(origin);
    }
    Ok(upload)
}

/// `brink workers list` as a table.
pub fn render_workers(workers: &Value) -> String {
    let rows: Vec<Vec<String>> = workers
        .as_array()
        .map(|workers| {
            workers
                .iter()
                .map(|w| {
                    vec![
                        field(w, "name"),
                        field(w, "version"),
                        field(w, "live_isolates"),
                        join(w.get("routes")),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    table(&["NAME", "VERSION", "ISOLATES", "ROUTES"], rows)
}

/// `brink versions NAME` as a table.
pub fn render_versions(versions: &Value) -> String {
    let rows: Vec<Vec<String>> = versions
        .as_array()
        .map(|versions| {
            versions
                .iter()
                .map(|v| {
                    let active = if v.get("active").and_then(Value::as_bool) == Some(true) { "*" } else { "" };
                    let vars = v
                        .get("vars")
                        .and_then(Value::as_array)
                        .map(|vars| vars.iter().filter_map(|pair| pair.get(0).and_then(Value::as_str)).collect::<Vec<_>>().join(","))
                        .unwrap_or_default();
                    vec![
                        field(v, "version"),
                        active.to_string(),
                        created(v.get("created_ms").and_then(Value::as_u64)),
                        join(v.get("routes")),
                        vars,
                        join(v.get("secret_names")),
                        field(v, "origin"),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    table(&["VERSION", "ACTIVE", "CREATED", "ROUTES", "VARS", "SECRETS", "ORIGIN"], rows)
}

/// One tail line for people: `time level message`.
pub fn render_log_line(line: &str) -> String {
    match serde_json::from_str::<Value>(line) {
        Ok(value) => format!(
            "{} {:<5} {}",
            created(value.get("timestamp_ms").and_then(Value::as_u64)),
            field(&value, "level"),
            field(&value, "message")
        ),
        Err(_) => line.to_string(),
    }
}

pub(crate) fn field(value: &Value, key: &str) -> String {
    match value.get(key) {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn join(value: Option<&Value>) -> String {
    value
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","))
        .unwrap_or_default()
}

/// Milliseconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (UTC).
fn created(ms: Option<u64>) -> String {
    let Some(ms) = ms else { return String::new() };
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

pub(crate) fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let text: Vec<String> = cells.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        out.push_str(text.join("  ").trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for row in &rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_dates_are_utc() {
        let workers = json!([{ "name": "a", "version": 3, "live_isolates": 1, "routes": ["a.example", "*.a.example"] }]);
        assert_eq!(
            render_workers(&workers),
            "NAME  VERSION  ISOLATES  ROUTES\na     3        1         a.example,*.a.example\n"
        );
        assert_eq!(created(Some(0)), "1970-01-01T00:00:00Z");
        assert_eq!(created(Some(1_709_210_096_000)), "2024-02-29T12:34:56Z");
    }

    #[test]
    fn bad_urls_and_missing_tokens_are_refused() {
        assert!(matches!(AdminClient::new("http://127.0.0.1:9090", None), Err(AdminClientError::NoToken)));
        assert!(matches!(AdminClient::new("127.0.0.1:9090", Some("t".into())), Err(AdminClientError::Url(_))));
        assert!(matches!(AdminClient::new("https://a:1/x", Some("t".into())), Err(AdminClientError::Url(_))));
    }
}
