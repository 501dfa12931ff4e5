//! Serving workers: both formats, imports, bindings, HTTP versions.

use brink_tests::{client, example, worker, Brink};

#[tokio::test]
async fn hello_world_example() {
    let brink = Brink::start(example("hello/worker.js"), &[]);
    let response = client().get(brink.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(response.text().await.unwrap(), "Hello from Brink!\n");
}

#[tokio::test]
async fn h2c_prior_knowledge() {
    let brink = Brink::start(example("hello/worker.js"), &[]);
    let h2 = reqwest::Client::builder().no_proxy().http2_prior_knowledge().build().unwrap();
    let response = h2.get(brink.url("/")).send().await.unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(response.text().await.unwrap(), "Hello from Brink!\n");
}

#[tokio::test]
async fn every_hostname_reaches_the_dev_worker() {
    let brink = Brink::start(worker("echo.js"), &[]);
    let response = client()
        .get(brink.url("/path?q=1"))
        .header("host", "tenant.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-url"], "http://tenant.example.com/path?q=1");
    assert_eq!(response.headers()["x-method"], "GET");
}

#[tokio::test]
async fn relative_imports_between_worker_modules() {
    let brink = Brink::start(worker("modules/worker.js"), &["--var", "NAME=brink"]);
    let text = client().get(brink.url("/")).send().await.unwrap().text().await.unwrap();
    assert_eq!(text, "hello, brink! (vanilla)");
}

#[test]
fn imports_outside_the_worker_directory_are_refused() {
    let (status, logs) = Brink::start_expecting_failure(worker("escape.js"), &[]);
    assert!(!status.success());
    assert!(logs.contains("outside the worker's directory"), "{logs}");
}

#[tokio::test]
async fn service_worker_format_with_global_bindings() {
    let brink = Brink::start(worker("service-worker.js"), &["--var", "GREETING=hi there"]);
    let response = client().post(brink.url("/sw")).body("x").send().await.unwrap();
    assert_eq!(response.headers()["x-format"], "service-worker");
    assert_eq!(response.text().await.unwrap(), "service worker saw POST /sw, GREETING=hi there");
}

#[tokio::test]
async fn vars_become_env_bindings() {
    let brink = Brink::start(worker("errors.js"), &["--var", "GREETING=hello", "--var", "OTHER=a=b"]);
    let text = client().get(brink.url("/env")).send().await.unwrap().text().await.unwrap();
    assert_eq!(text, "hello|a=b");
}

#[test]
fn invalid_binding_names_are_rejected() {
    let output = std::process::Command::new(brink_tests::brink_bin())
        .args(["dev", "x.js", "--var", "1BAD=x"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("must be a JavaScript identifier"), "{stderr}");
}

#[test]
fn invalid_kv_namespace_is_rejected_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let (status, logs) = Brink::start_expecting_failure(
        example("hello/worker.js"),
        &["--kv", "KV=not a valid/name", "--data-dir", data_dir],
    );
    assert!(!status.success());
    assert!(logs.to_lowercase().contains("namespace"), "{logs}");
}

#[test]
fn duplicate_binding_names_are_rejected() {
    let (status, logs) =
        Brink::start_expecting_failure(example("hello/worker.js"), &["--var", "X=1", "--kv", "X"]);
    assert!(!status.success());
    assert!(logs.contains("defined twice"), "{logs}");
}
