//! The admin HTTP API of `brink serve` (documented in `docs/admin-api.md`):
//! deploy, list, roll back, delete and tail workers, plus `/metrics` and
//! `/healthz`. It listens on its own address, and every route except
//! `GET /healthz` needs the bearer token; without it nothing is read or
//! changed.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc, watch};

use crate::deployments::{KvBindingRecord, LimitOverrides, SecretValue};
use crate::metrics::{self, ProcessSample};
use crate::router::Routing;
use crate::serve_config::AdminToken;
use crate::tenants::{DeployRequest, TenantError, TenantRegistry};

/// Largest upload accepted: the biggest bundle the runtime takes, base64
/// encoded, plus room for bindings.
const MAX_UPLOAD_BYTES: usize = brink_runtime::bundle::MAX_BUNDLE_BYTES / 3 * 4 + 1024 * 1024;

/// Largest body of any other admin request.
const MAX_SMALL_BODY_BYTES: usize = 64 * 1024;

/// What the admin API serves from.
pub struct AdminApi {
    token: AdminToken,
    tenants: Arc<TenantRegistry>,
    routing: Arc<Routing>,
    certificates: Arc<crate::certificates::CertificateStore>,
}

/// The body of an admin response: a whole JSON/text body, or a stream of
/// lines (tail).
pub enum AdminBody {
    /// A complete body.
    Full(Full<Bytes>),
    /// Lines sent as they come.
    Stream(mpsc::Receiver<Bytes>),
}

impl http_body::Body for AdminBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            AdminBody::Full(full) => Pin::new(full).poll_frame(cx),
            AdminBody::Stream(lines) => lines.poll_recv(cx).map(|line| line.map(|line| Ok(Frame::data(line)))),
        }
    }
}

/// The upload format of `POST /v1/workers/{name}/versions`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Upload {
    entry: String,
    /// Module path → base64 of its source.
    modules: BTreeMap<String, String>,
    #[serde(default)]
    routes: Vec<String>,
    #[serde(default)]
    vars: BTreeMap<String, String>,
    #[serde(default)]
    secrets: BTreeMap<String, SecretValue>,
    #[serde(default)]
    kv: Vec<KvBindingRecord>,
    #[serde(default)]
    limits: LimitOverrides,
    /// The origin behind the worker, `http(s)://host[:port]`.
    #[serde(default)]
    origin: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RollbackRequest {
    version: u64,
}

impl AdminApi {
    /// An API guarded by `token` over `tenants` and `certificates`.
    pub fn new(
        token: AdminToken,
        tenants: Arc<TenantRegistry>,
        routing: Arc<Routing>,
        certificates: Arc<crate::certificates::CertificateStore>,
    ) -> Arc<AdminApi> {
        Arc::new(AdminApi { token, tenants, routing, certificates })
    }

    /// Answers one admin request.
    pub async fn handle(self: Arc<Self>, request: Request<Incoming>) -> Response<AdminBody> {
        let method = request.method().clone();
        let path = request.uri().path().to_string();
        if method == Method::GET && path == "/healthz" {
            return text(StatusCode::OK, "ok\n".into());
        }
        if !self.authorized(&request) {
            tracing::warn!(%method, %path, "admin request without a valid token refused");
            let mut response = error(StatusCode::UNAUTHORIZED, "missing or wrong admin token (send Authorization: Bearer <token>)");
            response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match (method.clone(), segments.as_slice()) {
            (Method::GET, ["metrics"]) => self.metrics(),
            (Method::GET, ["v1", "workers"]) => json(StatusCode::OK, &self.tenants.list()),
            (Method::GET, ["v1", "workers", name]) => {
                match self.tenants.list().into_iter().find(|worker| worker.name == *name) {
                    Some(worker) => json(StatusCode::OK, &worker),
                    None => tenant_error(&TenantError::NoSuchWorker(name.to_string())),
                }
            }
            (Method::DELETE, ["v1", "workers", name]) => match self.tenants.delete(name).await {
                Ok(()) => json(StatusCode::OK, &serde_json::json!({ "name": name, "deleted": true })),
                Err(error) => tenant_error(&error),
            },
            (Method::POST, ["v1", "workers", name, "versions"]) => {
                let name = name.to_string();
                self.deploy(&name, request).await
            }
            (Method::GET, ["v1", "workers", name, "versions"]) => match self.tenants.versions(name).await {
                Ok(versions) => json(StatusCode::OK, &versions),
                Err(error) => tenant_error(&error),
            },
            (Method::POST, ["v1", "workers", name, "rollback"]) => {
                let name = name.to_string();
                let body = match read_json::<RollbackRequest>(request, MAX_SMALL_BODY_BYTES).await {
                    Ok(body) => body,
                    Err(response) => return response,
                };
                match self.tenants.rollback(&name, body.version).await {
                    Ok(version) => json(StatusCode::OK, &serde_json::json!({ "name": name, "version": version })),
                    Err(error) => tenant_error(&error),
                }
            }
            (Method::GET, ["v1", "workers", name, "tail"]) => self.tail(name),
            (_, ["v1", "kv", namespace, "keys"]) => {
                let namespace = namespace.to_string();
                crate::admin_kv::handle(self.tenants.kv_store(), &namespace, None, request).await
            }
            (_, ["v1", "kv", namespace, "values", key]) => {
                let (namespace, key) = (namespace.to_string(), key.to_string());
                crate::admin_kv::handle(self.tenants.kv_store(), &namespace, Some(&key), request).await
            }
            (_, ["v1", "certificates"]) => crate::certificates::handle(self.certificates.clone(), None, request).await,
            (_, ["v1", "certificates", host]) => {
                let host = host.to_string();
                crate::certificates::handle(self.certificates.clone(), Some(&host), request).await
            }
            (_, ["metrics"])
            | (_, ["v1", "workers"])
            | (_, ["v1", "workers", _])
            | (_, ["v1", "workers", _, "versions" | "rollback" | "tail"]) => {
                error(StatusCode::METHOD_NOT_ALLOWED, &format!("{method} is not allowed on {path}"))
            }
            _ => error(StatusCode::NOT_FOUND, &format!("no admin endpoint {path}")),
        }
    }

    fn authorized<B>(&self, request: &Request<B>) -> bool {
        let Some(value) = request.headers().get(AUTHORIZATION) else {
            return false;
        };
        let value = value.as_bytes();
        let scheme = b"bearer ";
        value.len() > scheme.len()
            && value[..scheme.len()].eq_ignore_ascii_case(scheme)
            && self.token.matches(&value[scheme.len()..])
    }

    async fn deploy(&self, name: &str, request: Request<Incoming>) -> Response<AdminBody> {
        let upload = match read_json::<Upload>(request, MAX_UPLOAD_BYTES).await {
            Ok(upload) => upload,
            Err(response) => return response,
        };
        let mut modules = BTreeMap::new();
        for (path, encoded) in upload.modules {
            match base64::engine::general_purpose::STANDARD.decode(encoded.as_bytes()) {
                Ok(source) => {
                    modules.insert(path, source);
                }
                Err(_) => return error(StatusCode::BAD_REQUEST, &format!("module {path:?} is not valid base64")),
            }
        }
        let deploy = DeployRequest {
            entry: upload.entry,
            modules,
            routes: upload.routes,
            vars: upload.vars.into_iter().collect(),
            secrets: upload.secrets.into_iter().collect(),
            kv: upload.kv,
            limits: upload.limits,
            origin: upload.origin,
        };
        match self.tenants.deploy(name, deploy).await {
            Ok(version) => json(StatusCode::CREATED, &serde_json::json!({ "name": name, "version": version })),
            Err(error) => {
                tracing::warn!(worker = %name, error = %error, "deploy refused");
                tenant_error(&error)
            }
        }
    }

    fn tail(&self, name: &str) -> Response<AdminBody> {
        let mut lines = match self.tenants.tail(name) {
            Ok(lines) => lines,
            Err(error) => return tenant_error(&error),
        };
        let (sender, receiver) = mpsc::channel::<Bytes>(64);
        let worker = name.to_string();
        tokio::spawn(async move {
            loop {
                let line = tokio::select! {
                    line = lines.recv() => line,
                    // The client went away.
                    _ = sender.closed() => break,
                };
                let value = match line {
                    Ok(line) => serde_json::json!({
                        "level": line.level,
                        "message": line.message,
                        "timestamp_ms": line.timestamp_ms,
                    }),
                    Err(broadcast::error::RecvError::Lagged(missed)) => serde_json::json!({
                        "level": "warn",
                        "message": format!("brink tail: {missed} lines were dropped because the reader was too slow"),
                        "timestamp_ms": 0,
                    }),
                    Err(broadcast::error::RecvError::Closed) => break,
                };
                let mut bytes = value.to_string().into_bytes();
                bytes.push(b'\n');
                if sender.send(Bytes::from(bytes)).await.is_err() {
                    break;
                }
            }
            tracing::debug!(worker = %worker, "tail stream ended");
        });
        let mut response = Response::new(AdminBody::Stream(receiver));
        response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
        response
    }

    fn metrics(&self) -> Response<AdminBody> {
        let samples = self.tenants.samples();
        let process = ProcessSample { warm_isolates: self.tenants.pool().warm(), evictions: self.tenants.evictions() };
        let body = match self.routing.metrics() {
            Some(requests) => metrics::render(requests, &samples, &process),
            None => metrics::render(&metrics::RequestMetrics::default(), &samples, &process),
        };
        let mut response = text(StatusCode::OK, body);
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
        response
    }
}

/// Serves the admin API on `listener` until `shutdown` resolves. Open
/// tail streams are closed at shutdown.
pub async fn serve(listener: TcpListener, api: Arc<AdminApi>, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
    let builder = auto::Builder::new(TokioExecutor::new());
    let (stop, stopped) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "admin accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let api = api.clone();
        let service = service_fn(move |request| {
            let api = api.clone();
            async move { Ok::<_, Infallible>(api.handle(request).await) }
        });
        let connection = builder.serve_connection(TokioIo::new(stream), service).into_owned();
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            tokio::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                _ = stopped.changed() => {
                    connection.as_mut().graceful_shutdown();
                    tokio::time::timeout(Duration::from_secs(1), connection.as_mut()).await.unwrap_or(Ok(()))
                }
            };
            if let Err(error) = result {
                tracing::debug!(%peer, error = %error, "admin connection closed with an error");
            }
        });
    }
    let _ = stop.send(true);
    Ok(())
}

/// Reads a JSON body of at most `limit` bytes. Parse errors are reported
/// by kind and position only: the body may hold secrets, and serde's
/// messages can quote the input.
async fn read_json<T: serde::de::DeserializeOwned>(request: Request<Incoming>, limit: usize) -> Result<T, Response<AdminBody>> {
    let body = match Limited::new(request.into_body(), limit).collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => {
            return Err(error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("request body is too large or was cut off (at most {limit} bytes)"),
            ))
        }
    };
    serde_json::from_slice(&body).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => "is not valid JSON".to_string(),
            _ => {
                // Field names (never values) are safe to show, and they say
                // what to fix: "unknown field `x`", "missing field `entry`".
                let message = e.to_string();
                let field = ["unknown field `", "missing field `"]
                    .iter()
                    .find_map(|marker| message.find(marker).map(|at| (marker, at)))
                    .and_then(|(marker, at)| {
                        let rest = &message[at + marker.len()..];
                        rest.find('`').map(|end| format!("{}{}`", marker, &rest[..end]))
                    });
                match field {
                    Some(field) => format!("has a wrong field: {field}"),
                    None => "does not have the expected fields and types".to_string(),
                }
            }
        };
        error(StatusCode::BAD_REQUEST, &format!("request body {what} (line {}, column {})", e.line(), e.column()))
    })
}

fn tenant_error(failure: &TenantError) -> Response<AdminBody> {
    if failure.status().is_server_error() {
        tracing::error!(error = %failure, "admin change failed");
    }
    error(failure.status(), &failure.to_string())
}

pub(crate) fn error(status: StatusCode, message: &str) -> Response<AdminBody> {
    json(status, &serde_json::json!({ "error": message }))
}

pub(crate) fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Response<AdminBody> {
    let mut body = serde_json::to_vec_pretty(value).unwrap_or_else(|_| b"{}".to_vec());
    body.push(b'\n');
    let mut response = Response::new(AdminBody::Full(Full::new(Bytes::from(body))));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn text(status: StatusCode, body: String) -> Response<AdminBody> {
    let mut response = Response::new(AdminBody::Full(Full::new(Bytes::from(body))));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}
