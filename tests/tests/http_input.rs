//! Malformed HTTP gets a clear error and does not disturb the server.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use brink_tests::{example, Brink};

fn raw(port: u16, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(request).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

#[test]
fn malformed_requests_get_400_and_the_server_keeps_serving() {
    let brink = Brink::start(example("hello/worker.js"), &[]);
    let garbage = raw(brink.port, b"THIS IS NOT HTTP\r\n\r\n");
    assert!(garbage.starts_with("HTTP/1.1 400"), "{garbage:?}");
    let bad_header = raw(brink.port, b"GET / HTTP/1.1\r\nHost: x\r\nBad Header Without Colon\r\n\r\n");
    assert!(bad_header.starts_with("HTTP/1.1 400"), "{bad_header:?}");
    let ok = raw(brink.port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok:?}");
    assert!(ok.ends_with("Hello from Brink!\n"));
}

#[test]
fn missing_host_header_is_a_400() {
    let brink = Brink::start(example("hello/worker.js"), &[]);
    let response = raw(brink.port, b"GET / HTTP/1.0\r\n\r\n");
    assert!(response.starts_with("HTTP/1.0 400") || response.starts_with("HTTP/1.1 400"), "{response:?}");
}

#[test]
fn a_client_that_never_finishes_its_request_head_is_cut_off() {
    let brink = Brink::start(example("hello/worker.js"), &["--header-timeout-ms", "300"]);
    let mut stream = TcpStream::connect(("127.0.0.1", brink.port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    let started = std::time::Instant::now();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    // The server closed the connection (possibly after a 408) instead of
    // waiting for the rest of the head forever.
    assert!(started.elapsed() < Duration::from_secs(10), "connection was held open");
    let text = String::from_utf8_lossy(&response);
    assert!(text.is_empty() || text.starts_with("HTTP/1.1 408"), "{text:?}");
    // Well-behaved clients are unaffected.
    let ok = raw(brink.port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok:?}");
}
