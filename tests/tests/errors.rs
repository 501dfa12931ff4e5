//! Broken worker code gets a clear error and never takes the server down.

use std::time::Duration;

use brink_tests::{client, worker, Brink};

#[test]
fn syntax_error_fails_at_start_with_file_line_column() {
    let (status, logs) = Brink::start_expecting_failure(worker("syntax-error.js"), &[]);
    assert!(!status.success());
    assert!(logs.contains("SyntaxError"), "{logs}");
    assert!(logs.contains("syntax-error.js:3:"), "no file:line:column in:\n{logs}");
}

#[test]
fn missing_fetch_handler_fails_at_start() {
    let (status, logs) = Brink::start_expecting_failure(worker("no-handler.js"), &[]);
    assert!(!status.success());
    assert!(logs.contains("no fetch handler"), "{logs}");
}

#[test]
fn exception_during_module_evaluation_fails_at_start() {
    let (status, logs) = Brink::start_expecting_failure(worker("throws-at-start.js"), &[]);
    assert!(!status.success());
    assert!(logs.contains("failed during module evaluation"), "{logs}");
}

#[test]
fn missing_entry_file_fails_at_start() {
    let (status, logs) = Brink::start_expecting_failure(worker("does-not-exist.js"), &[]);
    assert!(!status.success());
    assert!(logs.contains("does-not-exist.js"), "{logs}");
}

#[tokio::test]
async fn uncaught_exception_is_a_500_without_stack_and_logged_with_stack() {
    let brink = Brink::start(worker("errors.js"), &[]);
    for path in ["/throw", "/throw-sync", "/reject"] {
        let response = client().get(brink.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 500, "{path}");
        // workerd's page exactly: no content-type, no stack.
        assert!(response.headers().get("content-type").is_none(), "{path}");
        let body = response.text().await.unwrap();
        assert_eq!(body, "Internal Server Error", "{path}");
        assert!(!body.contains("at "), "stack leaked to the client for {path}");
    }
    assert!(brink.wait_for_log("boom from the worker", Duration::from_secs(5)), "{}", brink.logs());
    assert!(brink.logs().contains("deeplyNested"), "stack missing from the log:\n{}", brink.logs());
    assert!(brink.wait_for_log("rejected later", Duration::from_secs(5)), "{}", brink.logs());
    // Each failure is the request's error, reported once: a rejected
    // handler promise is not also an unhandled rejection.
    let logs = brink.logs();
    for text in ["boom from the worker", "sync failure", "rejected later"] {
        assert_eq!(logs.matches(text).count(), 1, "{text} not logged exactly once:\n{logs}");
    }
    assert!(!logs.contains("Uncaught (in promise)"), "{logs}");
    // The isolate is fine afterwards.
    let ok = client().get(brink.url("/ok")).send().await.unwrap();
    assert_eq!(ok.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn non_response_return_is_a_clear_500() {
    let brink = Brink::start(worker("errors.js"), &[]);
    for path in ["/not-response", "/undefined"] {
        let response = client().get(brink.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 500);
    }
    assert!(brink.wait_for_log("instead of a Response", Duration::from_secs(5)), "{}", brink.logs());
    assert!(
        brink.logs().contains("TypeError: the fetch handler returned an Object instead of a Response"),
        "{}",
        brink.logs()
    );
    assert!(brink.wait_for_log("returned undefined instead of a Response", Duration::from_secs(5)), "{}", brink.logs());
}

#[tokio::test]
async fn infinite_loop_is_terminated_and_the_worker_recovers() {
    let brink = Brink::start(worker("errors.js"), &["--cpu-ms", "200"]);
    let response = client().get(brink.url("/loop")).send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.text().await.unwrap(), "Worker exceeded its CPU time limit\n");
    assert!(brink.wait_for_log("CPU time limit", Duration::from_secs(5)), "{}", brink.logs());
    let ok = client().get(brink.url("/ok")).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn unbounded_allocation_is_stopped_and_the_worker_recovers() {
    let brink = Brink::start(worker("errors.js"), &["--heap-mib", "64", "--cpu-ms", "5000"]);
    let response = client().get(brink.url("/alloc")).send().await.unwrap();
    assert_eq!(response.status(), 503, "{}", brink.logs());
    assert_eq!(response.text().await.unwrap(), "Worker exceeded its memory limit\n");
    let ok = client().get(brink.url("/ok")).send().await.unwrap();
    assert_eq!(ok.text().await.unwrap(), "ok");
    assert!(brink.peak_rss() < 1024 * 1024 * 1024, "memory was not bounded");
}

#[tokio::test]
async fn a_handler_that_never_responds_times_out() {
    let brink = Brink::start(worker("errors.js"), &["--wall-ms", "500"]);
    let response = client().get(brink.url("/never")).send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.text().await.unwrap(), "Worker exceeded its wall-clock limit\n");
    let ok = client().get(brink.url("/ok")).send().await.unwrap();
    assert_eq!(ok.text().await.unwrap(), "ok");
}

#[test]
fn infinite_loop_at_module_top_level_fails_at_start() {
    let (status, logs) = Brink::start_expecting_failure(worker("loops-at-start.js"), &["--cpu-ms", "200"]);
    assert!(!status.success());
    assert!(logs.contains("CPU time limit"), "{logs}");
}

#[tokio::test]
async fn infinite_loop_in_a_timer_is_stopped_and_the_worker_recovers() {
    let brink = Brink::start(worker("background-loop.js"), &["--cpu-ms", "200"]);
    let response = client().get(brink.url("/spin-later")).send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "scheduled");
    assert!(brink.wait_for_log("CPU time limit", Duration::from_secs(10)), "{}", brink.logs());
    let ok = client().get(brink.url("/")).send().await.unwrap();
    assert_eq!(ok.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn endless_promise_chain_is_stopped_and_the_worker_recovers() {
    let brink = Brink::start(worker("background-loop.js"), &["--cpu-ms", "200"]);
    let response = client().get(brink.url("/microtask-loop")).send().await.unwrap();
    assert_eq!(response.status(), 503);
    let ok = client().get(brink.url("/")).send().await.unwrap();
    assert_eq!(ok.text().await.unwrap(), "ok");
}
