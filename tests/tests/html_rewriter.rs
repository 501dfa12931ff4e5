//! HTMLRewriter: the Workers API on lol_html, compared with workerd's
//! answers (tests/expectations/html-rewriter/), async handlers, handlers
//! that throw or never return, stale content tokens, and a 100 MiB document
//! that streams through with bounded memory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use brink_tests::origin::Origin;
use brink_tests::{client, worker, Brink};
use futures::StreamExt;

const MIB: u64 = 1024 * 1024;

/// Routes of the fixture whose answers are pinned from workerd.
const PINNED: [&str; 10] = [
    "everything",
    "headers",
    "stale",
    "selector-errors",
    "bad-names",
    "throws",
    "not-a-response",
    "no-body",
    "charset",
    "nested",
];

fn expectations() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("expectations/html-rewriter")
}

/// What Brink must answer for `route`: workerd's answer, unless a known
/// difference (README.md there) pins Brink's own in `ROUTE.brink.json`.
fn expected_from_brink(route: &str) -> Answer {
    match std::fs::read_to_string(expectations().join(format!("{route}.brink.json"))) {
        Ok(text) => Answer::Json(serde_json::from_str(&text).expect("pinned JSON")),
        Err(_) => expected(route),
    }
}

/// workerd's pinned answer for `route`: JSON as a value, text as text.
fn expected(route: &str) -> Answer {
    let json = expectations().join(format!("{route}.json"));
    if let Ok(text) = std::fs::read_to_string(&json) {
        return Answer::Json(serde_json::from_str(&text).expect("pinned JSON"));
    }
    let text = std::fs::read_to_string(expectations().join(format!("{route}.txt"))).expect("pinned answer");
    Answer::Text(text.trim_end_matches('\n').to_string())
}

#[derive(Debug, PartialEq)]
enum Answer {
    Json(serde_json::Value),
    Text(String),
}

async fn answer(base: &str, route: &str) -> Answer {
    let response = client().get(format!("{base}/{route}")).send().await.expect("request");
    assert_eq!(response.status(), 200, "{route}");
    let text = response.text().await.expect("body");
    match serde_json::from_str(&text) {
        Ok(value) => Answer::Json(value),
        Err(_) => Answer::Text(text),
    }
}

#[tokio::test]
async fn rewrites_as_workerd_does() {
    let brink = Brink::start(worker("html-rewriter.js"), &[]);
    for route in PINNED {
        assert_eq!(answer(&brink.base, route).await, expected_from_brink(route), "route /{route}");
    }
}

/// A workerd started on the fixture, if the benchmark peers are installed.
struct Workerd {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Workerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_workerd() -> Option<Workerd> {
    let modules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/node_modules/@cloudflare");
    let bin = std::fs::read_dir(modules)
        .ok()?
        .flatten()
        .map(|entry| entry.path().join("bin/workerd"))
        .find(|path| path.exists())?;
    let port = std::net::TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
    let dir = tempfile::tempdir().ok()?;
    std::fs::copy(worker("html-rewriter.js"), dir.path().join("worker.js")).ok()?;
    let config = format!(
        r#"using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .w)],
  sockets = [(name = "http", address = "127.0.0.1:{port}", http = (), service = "main")],
);
const w :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed "worker.js")],
  compatibilityDate = "2025-01-01",
);
"#
    );
    std::fs::write(dir.path().join("config.capnp"), config).ok()?;
    let child = Command::new(bin)
        .arg("serve")
        .arg(dir.path().join("config.capnp"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let workerd = Workerd { child, base: format!("http://127.0.0.1:{port}"), _dir: dir };
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(workerd);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[tokio::test]
async fn pinned_answers_are_what_workerd_says_today() {
    let Some(workerd) = start_workerd() else {
        eprintln!("workerd is not installed in bench/node_modules (bench/run.sh installs it); compared with the pinned answers only");
        return;
    };
    for route in PINNED {
        assert_eq!(answer(&workerd.base, route).await, expected(route), "workerd, route /{route}");
    }
}

#[tokio::test]
async fn the_transformed_response_streams_to_the_client() {
    let brink = Brink::start(worker("html-rewriter.js"), &[]);
    let Answer::Json(everything) = expected("everything") else { panic!("everything is JSON") };
    let response = client().get(brink.url("/streamed")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-origin"], "yes");
    assert_eq!(response.text().await.unwrap(), everything["html"].as_str().unwrap());
}

#[tokio::test]
async fn async_handlers_await_timers_fetch_and_kv() {
    let origin = Origin::start();
    let brink = Brink::start(worker("html-rewriter.js"), &["--allow-private-host", "127.0.0.1", "--kv", "KV"]);
    let url = format!("{}?origin={}", brink.url("/async"), origin.url(""));
    let body = client().get(url).send().await.unwrap().text().await.unwrap();
    assert!(body.contains(r#"<p id="p1" data-waited="yes">"#), "{body}");
    assert!(body.contains(r#"<a href="http://old.example/x" CLASS="c" data-x='1'>hello from origin</a>"#), "{body}");
    assert!(body.ends_with("</body></html><script>kv</script>"), "{body}");
    assert_eq!(origin.requests().len(), 1);
}

#[tokio::test]
async fn a_handler_that_throws_breaks_the_body_and_the_worker_goes_on() {
    let brink = Brink::start(worker("html-rewriter.js"), &[]);
    // The body must fail, not end as if complete. When the failure comes
    // before hyper has flushed the head, the connection closes with no
    // response at all, which is as broken.
    if let Ok(response) = client().get(brink.url("/throws-streamed")).send().await {
        assert_eq!(response.status(), 200, "the head was sent before the handler ran");
        assert!(response.bytes().await.is_err(), "the body must fail, not end as if complete");
    }
    // The isolate is fine: the next transform works.
    assert_eq!(answer(&brink.base, "headers").await, expected_from_brink("headers"));
}

#[tokio::test]
async fn a_handler_that_never_returns_is_stopped_by_the_cpu_limit() {
    let brink = Brink::start(worker("html-rewriter.js"), &["--cpu-ms", "300"]);
    let response = client().get(brink.url("/loop")).send().await.unwrap();
    // The head may already be out (the transform starts when the body is
    // read): then the body fails; otherwise the request gets the limit's 503.
    if response.status() == 200 {
        if let Ok(body) = response.bytes().await {
            assert!(!body.ends_with(b"</html>"), "the body must not arrive complete");
        }
    } else {
        assert_eq!(response.status(), 503);
    }
    assert!(brink.wait_for_log("worker exceeded a limit", Duration::from_secs(10)));
    assert_eq!(answer(&brink.base, "headers").await, expected_from_brink("headers"));
}

#[tokio::test]
async fn a_tag_bigger_than_the_parser_limit_fails_the_transform() {
    let brink = Brink::start(worker("html-rewriter.js"), &[]);
    let Answer::Json(answer) = answer(&brink.base, "huge-tag").await else { panic!("JSON expected") };
    assert_eq!(answer["error"], "TypeError: Parser error: The memory limit has been exceeded.");
}

#[tokio::test]
async fn first_bytes_leave_before_the_origin_has_finished() {
    let brink = Brink::start(worker("html-rewriter.js"), &[]);
    let response = client().get(brink.url("/never-ends")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let mut stream = response.bytes_stream();
    let mut seen = Vec::new();
    // The origin never ends its body; the rewritten start must arrive anyway.
    let found = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(chunk) = stream.next().await {
            seen.extend_from_slice(&chunk.unwrap());
            if String::from_utf8_lossy(&seen).contains(r#"<a href="https://new.example/">first</a>"#) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "got {:?}", String::from_utf8_lossy(&seen));
}

#[tokio::test]
async fn a_100_mib_document_streams_through_with_bounded_memory() {
    let brink = Brink::start(worker("html-rewriter.js"), &[]);
    // A small transform first, so the baseline includes the rewriter's code.
    let small = client().get(brink.url("/huge?mb=1")).send().await.unwrap().bytes().await.unwrap();
    assert!(small.len() as u64 > MIB - 4096);
    let baseline = brink.peak_rss();

    let response = client().get(brink.url("/huge?mb=100")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let mut stream = response.bytes_stream();
    let (mut bytes, mut links, mut tail) = (0u64, 0u64, Vec::new());
    let needle = b"https://new.example/p";
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        bytes += chunk.len() as u64;
        // Count links across chunk boundaries.
        tail.extend_from_slice(&chunk);
        let mut at = 0;
        while let Some(found) = tail[at..].windows(needle.len()).position(|w| w == needle) {
            links += 1;
            at += found + needle.len();
        }
        let keep = tail.len().saturating_sub(needle.len() - 1).max(at);
        tail.drain(..keep);
    }
    let units = (100 * MIB) / 997; // the fixture's unit: 997 bytes, one link
    assert!(bytes > 100 * MIB, "{bytes} bytes");
    assert_eq!(links, units, "every link rewritten");
    let growth = brink.peak_rss().saturating_sub(baseline);
    eprintln!("100 MiB transform: baseline peak RSS {} MiB, growth {} MiB", baseline / MIB, growth / MIB);
    assert!(growth < 48 * MIB, "peak RSS grew by {} MiB: the document was buffered", growth / MIB);
}

#[tokio::test]
async fn parsers_exist_only_while_bodies_are_read_and_are_capped_per_isolate() {
    let brink = Brink::start(worker("html-rewriter.js"), &[]);
    let Answer::Json(everything) = expected_from_brink("everything") else { panic!("everything is JSON") };
    let unread = client().get(brink.url("/unread")).send().await.unwrap().text().await.unwrap();
    assert_eq!(unread, everything["html"].as_str().unwrap(), "1000 unread transforms hold no parser");
    let Answer::Json(cap) = answer(&brink.base, "cap").await else { panic!("JSON expected") };
    assert_eq!(cap["held"], 64, "{cap}");
    assert_eq!(
        cap["error"],
        "TypeError: HTMLRewriter: this isolate already runs 64 transforms; read or cancel their bodies first"
    );
    assert_eq!(cap["afterCancel"].as_u64(), Some(everything["html"].as_str().unwrap().len() as u64));
}

