//! A small real HTTP server on 127.0.0.1 that tests use as the origin a
//! worker's outbound `fetch()` talks to. It records every request it gets.
//! It runs on its own thread, so async and blocking tests alike can use it,
//! and stops when dropped.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// One request the origin received.
#[derive(Clone, Debug)]
pub struct Seen {
    /// Method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Body as text.
    pub body: String,
    /// Request headers, names lowercase.
    pub headers: Vec<(String, String)>,
}

/// The running origin server.
pub struct Origin {
    /// Its port.
    pub port: u16,
    /// Requests received so far.
    pub seen: Arc<Mutex<Vec<Seen>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Origin {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Origin {
    /// Starts the origin on a free port. Routes: `/redirect` → 302 to
    /// `/hello`; `/redirect-to/URL` → 302 to URL; `/hello` → "hello from
    /// origin"; `/page.html` → an HTML page (links to old.example, a
    /// `<head>`); `/api/...` → JSON naming the path and how many `/api`
    /// requests the origin has served; `/headers` → the request's headers as
    /// JSON; `/boom` → 500; anything else echoes the method and path.
    pub fn start() -> Origin {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind origin");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let log = seen.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                tokio::select! {
                    _ = serve(listener, log) => {}
                    _ = stopped => {}
                }
            });
        });
        Origin { port, seen, stop: Some(stop) }
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// Requests received so far.
    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn serve(listener: tokio::net::TcpListener, log: Arc<Mutex<Vec<Seen>>>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let log = log.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                let log = log.clone();
                async move { Ok::<_, Infallible>(respond(request, &log).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn respond(request: Request<hyper::body::Incoming>, log: &Mutex<Vec<Seen>>) -> Response<Full<Bytes>> {
    let method = request.method().to_string();
    let path = request.uri().path_and_query().map(|p| p.to_string()).unwrap_or_default();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect();
    let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let api_served = {
        let mut log = log.lock().unwrap();
        log.push(Seen {
            method: method.clone(),
            path: path.clone(),
            body: String::from_utf8_lossy(&body).into_owned(),
            headers: headers.clone(),
        });
        log.iter().filter(|seen| seen.path.starts_with("/api/")).count()
    };
    let response = match path.as_str() {
        "/redirect" => Response::builder().status(302).header("location", "/hello").body(Full::new(Bytes::new())),
        _ if path.starts_with("/redirect-to/") => Response::builder()
            .status(302)
            .header("location", &path["/redirect-to/".len()..])
            .body(Full::new(Bytes::new())),
        "/hello" => Response::builder().body(Full::new(Bytes::from("hello from origin"))),
        "/page.html" => Response::builder()
            .header("content-type", "text/html; charset=utf-8")
            .header("x-powered-by", "origin/1.0")
            .body(Full::new(Bytes::from(PAGE))),
        "/headers" => Response::builder()
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(serde_json::json!(headers).to_string()))),
        "/boom" => Response::builder().status(500).body(Full::new(Bytes::from("origin failed"))),
        _ if path.starts_with("/api/") => Response::builder()
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(serde_json::json!({"path": path, "served": api_served}).to_string()))),
        _ => Response::builder().body(Full::new(Bytes::from(format!("{method} {path}")))),
    };
    response.expect("response")
}

/// The page `/page.html` serves.
pub const PAGE: &str = "<!DOCTYPE html>\n<html><head><title>Origin</title></head>\n<body>\n<h1>Welcome</h1>\n<a href=\"http://old.example.com/about\">About</a>\n<a href=\"/local\">Local</a>\n<img src=\"http://old.example.com/logo.png\">\n</body></html>\n";
