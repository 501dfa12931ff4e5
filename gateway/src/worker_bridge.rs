//! The bridge between hyper and a worker: builds the worker's request (an
//! absolute URL, a size-limited streaming body), and turns worker errors
//! into short client responses while the details go to the log.

use std::sync::Arc;

use brink_runtime::{RequestBody, ResponseBody, WorkerError};
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST};
use http::{HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use crate::router::Router;

/// Serves one request: route it, run the worker, map errors.
pub async fn handle(
    request: Request<Incoming>,
    router: Arc<Router>,
    max_request_body: u64,
) -> Result<Response<ResponseBody>, std::convert::Infallible> {
    Ok(match forward(request, &router, max_request_body).await {
        Ok(response) => response,
        Err(response) => response,
    })
}

async fn forward(
    request: Request<Incoming>,
    router: &Router,
    max_request_body: u64,
) -> Result<Response<ResponseBody>, Response<ResponseBody>> {
    let declared_length = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared_length.is_some_and(|length| length > max_request_body) {
        return Err(plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Request body exceeds the limit of {max_request_body} bytes\n"),
        ));
    }
    let host = request
        .headers()
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| request.uri().authority().map(|a| a.to_string()))
        .ok_or_else(|| plain(StatusCode::BAD_REQUEST, "Missing Host header\n".into()))?;
    let worker = router
        .route(&host)
        .cloned()
        .ok_or_else(|| plain(StatusCode::NOT_FOUND, format!("No worker is deployed for {host}\n")))?;
    let path = request.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let uri: Uri = format!("http://{host}{path}")
        .parse()
        .map_err(|_| plain(StatusCode::BAD_REQUEST, "Invalid request target\n".into()))?;
    let (mut parts, body) = request.into_parts();
    parts.uri = uri;
    let body: RequestBody = Limited::new(body, max_request_body as usize)
        .map_err(|error| -> brink_runtime::body::BodyError { error })
        .boxed();
    match worker.fetch(Request::from_parts(parts, body)).await {
        Ok(response) => Ok(response),
        Err(error) => {
            log_worker_error(worker.name(), &error);
            Err(plain(error.status(), error.client_message().into()))
        }
    }
}

fn log_worker_error(worker: &str, error: &WorkerError) {
    match error {
        WorkerError::Exception(details) => {
            tracing::error!(worker, "request failed: uncaught exception in the worker:\n{details}")
        }
        other => tracing::error!(worker, error = %other, "request failed"),
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
