//! ctx.waitUntil() and graceful shutdown.

use std::time::{Duration, Instant};

use brink_tests::origin::Origin;
use brink_tests::{client, worker, Brink};

fn wait_until(mut condition: impl FnMut() -> bool, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[tokio::test]
async fn wait_until_work_runs_after_the_response() {
    let origin = Origin::start();
    let origin_var = format!("ORIGIN={}", origin.url(""));
    let brink = Brink::start(worker("wait-until.js"), &["--allow-private-host", "127.0.0.1", "--var", &origin_var]);
    let response = client().get(brink.url("/?tag=first&delay=1500")).send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "responded before the background work");
    // The response came before the background work finished…
    assert!(origin.requests().is_empty());
    // …which still ran.
    assert!(wait_until(|| !origin.requests().is_empty(), Duration::from_secs(10)));
    let seen = origin.requests();
    assert_eq!(seen[0].path, "/waited?tag=first");
    assert_eq!(seen[0].body, "done");
}

#[tokio::test]
async fn sigterm_lets_in_flight_requests_and_wait_until_finish() {
    let origin = Origin::start();
    let origin_var = format!("ORIGIN={}", origin.url(""));
    let mut brink = Brink::start(worker("wait-until.js"), &["--allow-private-host", "127.0.0.1", "--var", &origin_var]);
    let response = client().get(brink.url("/?tag=late&delay=800")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    brink.terminate();
    let status = brink.wait_exit(Duration::from_secs(20)).expect("brink did not exit after SIGTERM");
    assert!(status.success(), "{status}");
    let seen = origin.requests();
    assert_eq!(seen.len(), 1, "waitUntil work was cut off by the shutdown");
    assert_eq!(seen[0].path, "/waited?tag=late");
}

#[tokio::test]
async fn sigterm_finishes_a_slow_in_flight_request() {
    let mut brink = Brink::start(worker("errors.js"), &[]);
    let url = brink.url("/slow?ms=1000");
    let request = tokio::spawn(async move { client().get(url).send().await.unwrap().text().await.unwrap() });
    tokio::time::sleep(Duration::from_millis(300)).await;
    brink.terminate();
    let text = request.await.unwrap();
    assert_eq!(text, "slow done");
    let status = brink.wait_exit(Duration::from_secs(20)).expect("no exit");
    assert!(status.success());
    // New connections are refused once shutting down.
    assert!(std::net::TcpStream::connect(("127.0.0.1", brink.port)).is_err());
}

#[tokio::test]
async fn wait_until_that_never_settles_does_not_block_shutdown_forever() {
    let mut brink = Brink::start(worker("wait-until.js"), &["--wall-ms", "1000"]);
    let response = client().get(brink.url("/?forever")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    brink.terminate();
    let status = brink.wait_exit(Duration::from_secs(20)).expect("brink hung on a waitUntil that never settles");
    assert!(status.success(), "{status}");
    // The waitUntil work is cut off at the wall-clock limit after the response.
    assert!(brink.logs().contains("waitUntil work cancelled"), "{}", brink.logs());
}
