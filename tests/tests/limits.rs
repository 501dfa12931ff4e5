//! Per-worker limits beyond CPU time: heap, request body and response body
//! size. Each is overridable per deploy, ends only the offending request
//! with a status and a body naming the limit, and is counted by limit in
//! `/metrics`.

use std::time::Duration;

use brink_tests::{client, worker, Brink, BrinkServe, SERVE_TOKEN};

async fn get(brink: &Brink, path: &str) -> (u16, String) {
    let response = client().get(brink.url(path)).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn response_bodies_over_the_limit_are_refused_or_cut_off() {
    let brink = Brink::start(worker("limits.js"), &["--max-response-body-bytes", "100000"]);
    let (status, body) = get(&brink, "/full?bytes=100000").await;
    assert_eq!((status, body.len()), (200, 100_000));
    let (status, body) = get(&brink, "/stream?bytes=100000").await;
    assert_eq!((status, body.len()), (200, 100_000));

    // Known to be too long before the head goes out: a 503 naming the limit.
    for path in ["/full?bytes=100001", "/declared?bytes=300000"] {
        let (status, body) = get(&brink, path).await;
        assert_eq!(status, 503, "{path}");
        assert_eq!(body, "Worker exceeded its response body size limit\n", "{path}");
    }
    // Streamed past the limit: the head is out, so the body is cut off and
    // the client sees a broken response, never more than the limit.
    // (When the cut comes before hyper flushed the head, the connection
    // closes with no response at all.)
    if let Ok(response) = client().get(brink.url("/stream?bytes=1000000")).send().await {
        assert_eq!(response.status(), 200);
        if let Ok(bytes) = response.bytes().await {
            panic!("a cut-off body arrived whole ({} bytes)", bytes.len());
        }
    }
    assert!(brink.wait_for_log("response body size limit", Duration::from_secs(5)), "{}", brink.logs());
    // The worker is unharmed.
    assert_eq!(get(&brink, "/").await, (200, "ok".to_string()));
}

async fn post(serve: &BrinkServe, host: &str, path: &str, body: Vec<u8>) -> (u16, String) {
    let response = client().post(serve.url(path)).header("host", host).body(body).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn metrics(serve: &BrinkServe) -> String {
    let response = client().get(format!("{}/metrics", serve.admin)).bearer_auth(SERVE_TOKEN).send().await.unwrap();
    response.text().await.unwrap()
}

#[tokio::test]
async fn a_deploy_lowers_heap_and_body_limits_for_its_worker_only() {
    let serve = BrinkServe::start(&[]);
    serve.deploy(
        worker("limits.js"),
        "small",
        &["--route", "small.test", "--heap-mib", "16", "--max-request-body-bytes", "1000", "--max-response-body-bytes", "5000"],
    );
    serve.deploy(worker("limits.js"), "roomy", &["--route", "roomy.test"]);

    // 40 MiB of strings: over the small worker's 16 MiB, well under the
    // server's 128 MiB that its pooled isolate was built with.
    assert_eq!(serve.get("small.test", "/alloc?mib=4").await, (200, "held 4 MiB".to_string()));
    let (status, body) = serve.get("small.test", "/alloc?mib=40").await;
    assert_eq!((status, body.as_str()), (503, "Worker exceeded its memory limit\n"), "{}", serve.logs());
    assert_eq!(serve.get("roomy.test", "/alloc?mib=40").await, (200, "held 40 MiB".to_string()));
    // The small worker gets a fresh isolate, with its own limit again.
    assert_eq!(serve.get("small.test", "/alloc?mib=4").await, (200, "held 4 MiB".to_string()));
    let (status, _) = serve.get("small.test", "/alloc?mib=40").await;
    assert_eq!(status, 503);

    let (status, body) = post(&serve, "small.test", "/upload", vec![b'a'; 5000]).await;
    assert_eq!(status, 413);
    assert_eq!(body, "Request body exceeds the limit of 1000 bytes\n");
    assert_eq!(post(&serve, "roomy.test", "/upload", vec![b'a'; 5000]).await, (200, "received 5000".to_string()));
    assert_eq!(post(&serve, "small.test", "/upload", vec![b'a'; 1000]).await, (200, "received 1000".to_string()));

    let (status, body) = serve.get("small.test", "/full?bytes=6000").await;
    assert_eq!((status, body.as_str()), (503, "Worker exceeded its response body size limit\n"));
    assert_eq!(serve.get("roomy.test", "/full?bytes=6000").await.0, 200);

    let text = metrics(&serve).await;
    for line in [
        "brink_limit_terminations_total{worker=\"small\",limit=\"memory\"} 2",
        "brink_limit_terminations_total{worker=\"small\",limit=\"request_body\"} 1",
        "brink_limit_terminations_total{worker=\"small\",limit=\"response_body\"} 1",
        "brink_limit_terminations_total{worker=\"roomy\",limit=\"memory\"} 0",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line}:\n{text}");
    }
}

#[tokio::test]
async fn body_limits_in_a_deploy_must_be_positive() {
    let serve = BrinkServe::start(&[]);
    for flag in ["--max-request-body-bytes", "--max-response-body-bytes"] {
        let output = serve.cli(&["deploy", &worker("limits.js").display().to_string(), "--name", "bad", flag, "0"]);
        assert!(!output.status.success(), "{flag} 0 was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(&flag[2..].replace('-', "_")), "{flag}: {stderr}");
    }
}
