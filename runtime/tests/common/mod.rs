//! Helpers shared by the runtime's integration tests.

use std::collections::BTreeMap;
use std::sync::Arc;

use brink_runtime::{Limits, ModuleBundle, OutboundPolicy, RequestBody, Scaling, Worker, WorkerError, WorkerSpec};
use http_body_util::{BodyExt, Empty};

/// A worker of one module, `worker.js`, with default limits, no bindings
/// and the given scaling.
pub fn one_module_worker(name: &str, source: &str, scaling: Scaling) -> WorkerSpec {
    let bundle = ModuleBundle::new("worker.js", BTreeMap::from([("worker.js".to_string(), source.as_bytes().to_vec())]))
        .expect("bundle");
    WorkerSpec {
        name: name.to_string(),
        version: 1,
        bundle: Arc::new(bundle),
        vars: Vec::new(),
        secrets: Vec::new(),
        kv: Vec::new(),
        outbound: OutboundPolicy::default(),
        limits: Limits::default(),
        scaling,
        log_sink: None,
    }
}

/// A bodiless `GET http://example.com{path}`.
pub fn get_request(path: &str) -> http::Request<RequestBody> {
    let body: RequestBody = Empty::new().map_err(|never| match never {}).boxed();
    http::Request::get(format!("http://example.com{path}")).body(body).expect("request")
}

/// A GET of `path` on `worker`: its status and body, or the error.
// Each test file compiles this module on its own; not every one uses this.
#[allow(dead_code)]
pub async fn get_path(worker: &Worker, path: &str) -> Result<(u16, String), WorkerError> {
    let response = worker.fetch(get_request(path)).await?;
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.map_err(|_| WorkerError::Unavailable)?.to_bytes();
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}
