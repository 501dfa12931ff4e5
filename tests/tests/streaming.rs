//! Bodies stream in both directions; nothing is buffered whole.

use brink_tests::{client, worker, Brink};
use futures::StreamExt;

const MIB: usize = 1024 * 1024;

fn body_stream(total: usize) -> reqwest::Body {
    let chunk = bytes::Bytes::from(vec![b'x'; MIB]);
    let chunks = total / MIB;
    reqwest::Body::wrap_stream(futures::stream::iter((0..chunks).map(move |_| Ok::<_, std::io::Error>(chunk.clone()))))
}

#[tokio::test]
async fn large_upload_is_echoed_back_streaming() {
    let brink = Brink::start(worker("echo.js"), &["--max-body-bytes", "2000000000"]);
    let total = 512 * MIB;
    let response = client().post(brink.url("/echo")).body(body_stream(total)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let mut received = 0usize;
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        assert!(chunk.iter().all(|&b| b == b'x'));
        received += chunk.len();
    }
    assert_eq!(received, total);
    // The whole body never sat in memory: peak RSS stays far below 512 MiB.
    let peak = brink.peak_rss();
    assert!(peak < 200 * MIB as u64, "peak RSS {peak} bytes suggests the body was buffered");
}

#[tokio::test]
async fn worker_reads_a_streamed_request_body() {
    let brink = Brink::start(worker("echo.js"), &[]);
    let total = 64 * MIB;
    let response = client().post(brink.url("/count")).body(body_stream(total)).send().await.unwrap();
    let json: serde_json::Value = response.json().await.unwrap();
    assert_eq!(json["bytes"], total);
}

#[tokio::test]
async fn worker_streams_a_generated_response() {
    let brink = Brink::start(worker("echo.js"), &[]);
    let bytes = client().get(brink.url("/generate?chunks=100")).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(bytes.len(), 100 * 64 * 1024);
}

#[tokio::test]
async fn oversized_body_is_refused_with_413() {
    let brink = Brink::start(worker("echo.js"), &["--max-body-bytes", "1000"]);
    let response = client().post(brink.url("/echo")).body(vec![b'a'; 5000]).send().await.unwrap();
    assert_eq!(response.status(), 413);
    assert!(response.text().await.unwrap().contains("limit of 1000 bytes"));
    // A streamed body without content-length is cut off at the limit too.
    let response = client().post(brink.url("/count")).body(body_stream(4 * MIB)).send().await;
    match response {
        Ok(response) => assert_ne!(response.status(), 200),
        Err(_) => {} // the connection was closed mid-upload: also a refusal
    }
    // And the server still serves.
    let ok = client().post(brink.url("/echo")).body("small").send().await.unwrap();
    assert_eq!(ok.text().await.unwrap(), "small");
}

#[tokio::test]
async fn h2c_upload_is_echoed_back_streaming() {
    let brink = Brink::start(worker("echo.js"), &[]);
    let h2 = reqwest::Client::builder().no_proxy().http2_prior_knowledge().build().unwrap();
    let total = 32 * MIB;
    let response = h2.post(brink.url("/echo")).body(body_stream(total)).send().await.unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    let bytes = response.bytes().await.unwrap();
    assert_eq!(bytes.len(), total);
    assert!(bytes.iter().all(|&b| b == b'x'));
}
