//! WebSockets as in Workers (docs/websockets.md), driven by a real client
//! (tokio-tungstenite) over real sockets: echo of text and binary, ping,
//! close codes both ways, the message limit (1009, fragmented too), invalid
//! UTF-8 (1007), misuse of `WebSocketPair` and 101 responses, the
//! per-isolate cap, a peer that never reads, a fresh CPU limit per message,
//! shutdown (1001), a new version (1012), wss over TLS, and outbound
//! sockets under fetch()'s address rules.

use std::time::Duration;

use brink_tests::tls::{connect, tls_address, TestCa};
use brink_tests::{worker, Brink, BrinkServe};
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// A plain or TLS connection.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

type Socket = WebSocketStream<Box<dyn Io>>;

const WAIT: Duration = Duration::from_secs(20);

async fn open(brink: &Brink, path: &str) -> Socket {
    try_open(brink.port, path).await.expect("WebSocket handshake")
}

async fn try_open(port: u16, path: &str) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    let stream = TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
    let url = format!("ws://localhost:{port}{path}");
    let (socket, _) = tokio_tungstenite::client_async(url, Box::new(stream) as Box<dyn Io>).await?;
    Ok(socket)
}

/// The next text, binary or close message (pings and pongs skipped).
async fn next(socket: &mut Socket) -> Message {
    loop {
        let message = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a message in time")
            .expect("the socket is open")
            .expect("a valid message");
        if !matches!(message, Message::Ping(_) | Message::Pong(_)) {
            return message;
        }
    }
}

fn text(message: &Message) -> &str {
    match message {
        Message::Text(text) => text.as_str(),
        other => panic!("expected text, got {other:?}"),
    }
}

/// The close code the server sent, reading past anything before it.
async fn close_code(socket: &mut Socket) -> u16 {
    loop {
        match tokio::time::timeout(WAIT, socket.next()).await.expect("a close in time") {
            Some(Ok(Message::Close(Some(frame)))) => return frame.code.into(),
            Some(Ok(Message::Close(None))) => return 1005,
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

async fn http_get(port: u16, path: &str) -> (u16, String) {
    let response = brink_tests::client().get(format!("http://127.0.0.1:{port}{path}")).send().await.expect("GET");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

#[tokio::test]
async fn text_binary_ping_and_close_codes_both_ways() {
    let brink = Brink::start(worker("websocket.js"), &[]);
    let mut socket = open(&brink, "/echo").await;
    assert_eq!(text(&next(&mut socket).await), "hello", "sent before the response");
    socket.send(Message::text("hi")).await.unwrap();
    assert_eq!(text(&next(&mut socket).await), "echo:hi");
    socket.send(Message::text("state")).await.unwrap();
    // binaryType defaults to "blob", as on workerd at current compatibility dates.
    assert_eq!(text(&next(&mut socket).await), "state:1:blob");
    socket.send(Message::binary(vec![0u8, 1, 2, 255])).await.unwrap();
    assert_eq!(next(&mut socket).await, Message::binary(vec![0u8, 1, 2, 255]));
    socket.send(Message::Ping(b"p".to_vec().into())).await.unwrap();
    let pong = tokio::time::timeout(WAIT, socket.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(pong, Message::Pong(b"p".to_vec().into()));
    // The worker closes with its code and reason.
    socket.send(Message::text("close")).await.unwrap();
    match next(&mut socket).await {
        Message::Close(Some(frame)) => assert_eq!((u16::from(frame.code), frame.reason.as_str()), (4000, "asked to")),
        other => panic!("expected the worker's close, got {other:?}"),
    }
    // The client closes: the worker's close event has its code and reason.
    let mut socket = open(&brink, "/echo").await;
    next(&mut socket).await;
    socket.close(Some(CloseFrame { code: CloseCode::from(3001), reason: "bye".into() })).await.unwrap();
    assert!(brink.wait_for_log("closed 3001 bye true", WAIT), "{}", brink.logs());
    // A client that just disconnects: 1006, not clean.
    let socket = open(&brink, "/echo").await;
    drop(socket);
    assert!(brink.wait_for_log("closed 1006 - false", WAIT), "{}", brink.logs());
}

#[tokio::test]
async fn a_10_mib_message_and_fragments_past_the_limit_close_with_1009() {
    let brink = Brink::start(worker("websocket.js"), &[]);
    // A message just under the 1 MiB limit goes through.
    let mut socket = open(&brink, "/echo").await;
    next(&mut socket).await;
    let big = vec![7u8; 1024 * 1024 - 16];
    socket.send(Message::binary(big.clone())).await.unwrap();
    assert_eq!(next(&mut socket).await, Message::binary(big));
    // 10 MiB in one frame.
    let mut socket = open(&brink, "/echo").await;
    next(&mut socket).await;
    let _ = socket.send(Message::binary(vec![1u8; 10 * 1024 * 1024])).await;
    assert_eq!(close_code(&mut socket).await, 1009);
    assert!(brink.wait_for_log("closed 1009", WAIT), "{}", brink.logs());
    // Small fragments that add up to more than the limit.
    let mut socket = open(&brink, "/echo").await;
    next(&mut socket).await;
    let piece = vec![2u8; 256 * 1024];
    socket.send(Message::Frame(Frame::message(piece.clone(), OpCode::Data(Data::Binary), false))).await.unwrap();
    for _ in 0..5 {
        if socket.send(Message::Frame(Frame::message(piece.clone(), OpCode::Data(Data::Continue), false))).await.is_err() {
            break;
        }
    }
    assert_eq!(close_code(&mut socket).await, 1009);
    // The server still serves.
    let mut socket = open(&brink, "/echo").await;
    assert_eq!(text(&next(&mut socket).await), "hello");
}

#[tokio::test]
async fn invalid_utf8_in_a_text_message_closes_with_1007() {
    let brink = Brink::start(worker("websocket.js"), &[]);
    let mut socket = open(&brink, "/echo").await;
    next(&mut socket).await;
    let bad = Frame::message(vec![b'a', 0xff, 0xfe], OpCode::Data(Data::Text), true);
    socket.send(Message::Frame(bad)).await.unwrap();
    assert_eq!(close_code(&mut socket).await, 1007);
}

#[tokio::test]
async fn misused_pairs_and_101_responses_fail_clearly() {
    let brink = Brink::start(worker("websocket.js"), &[]);
    for path in ["/never-accepted", "/101-without-socket", "/socket-on-200"] {
        let error = try_open(brink.port, path).await.err().unwrap_or_else(|| panic!("{path} must not upgrade"));
        assert!(error.to_string().contains("500"), "{path}: {error}");
    }
    // A WebSocket response to a request that is not an upgrade.
    let (status, body) = http_get(brink.port, "/never-accepted").await;
    assert_eq!(status, 500, "{body}");
    let logs = brink.logs();
    assert!(logs.contains("never accepted"), "{logs}");
    assert!(logs.contains("101 response needs a webSocket"), "{logs}");
    assert!(logs.contains("must have status code 101"), "{logs}");
    // Workers' errors for misuse, and a pair used inside the isolate.
    let (status, body) = http_get(brink.port, "/misuse").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        "send before accept: TypeError\naccept twice: InvalidStateError\nclose code 1001: InvalidAccessError\n\
         long reason: SyntaxError\nsend after close: TypeError\nlocal pair: local\nreadyState: 2"
    );
    let mut socket = open(&brink, "/echo").await;
    assert_eq!(text(&next(&mut socket).await), "hello");
}

#[tokio::test]
async fn sockets_per_isolate_are_capped_and_freed_on_close() {
    let brink = Brink::start(worker("websocket.js"), &["--websocket-max-per-isolate", "20"]);
    let mut open_sockets = Vec::new();
    for _ in 0..20 {
        let mut socket = open(&brink, "/echo").await;
        assert_eq!(text(&next(&mut socket).await), "hello");
        open_sockets.push(socket);
    }
    // A tenant opening many more: each is refused, nothing breaks.
    let mut refused = 0;
    for _ in 0..200 {
        if try_open(brink.port, "/echo").await.is_err() {
            refused += 1;
        }
    }
    assert_eq!(refused, 200);
    assert!(brink.logs().contains("too many open WebSockets"), "{}", brink.logs());
    // Closing one makes room for one.
    let mut first = open_sockets.remove(0);
    first.close(None).await.unwrap();
    assert_eq!(close_code(&mut first).await, 1005);
    let mut socket = tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(socket) = try_open(brink.port, "/echo").await {
                return socket;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("a socket once one closed");
    assert_eq!(text(&next(&mut socket).await), "hello");
    for socket in &mut open_sockets {
        socket.send(Message::text("still")).await.unwrap();
        assert_eq!(text(&next(socket).await), "echo:still");
    }
}

#[tokio::test]
async fn a_peer_that_never_reads_is_dropped_instead_of_buffered() {
    let brink = Brink::start(worker("websocket.js"), &["--websocket-max-buffered-bytes", "1048576"]);
    let mut socket = open(&brink, "/flood").await;
    socket.send(Message::text("go")).await.unwrap();
    // Never read again: the worker's send() must start failing, and the
    // socket end, rather than Brink holding what the worker sends.
    assert!(brink.wait_for_log("flood stopped:", WAIT), "{}", brink.logs());
    assert!(brink.wait_for_log("flood closed 1006", WAIT), "{}", brink.logs());
    let logs = brink.logs();
    assert!(logs.contains("peer is not reading"), "{logs}");
    drop(socket);
    let mut socket = open(&brink, "/echo").await;
    assert_eq!(text(&next(&mut socket).await), "hello");
}

#[tokio::test]
async fn a_silent_peer_is_pinged_then_dropped_while_a_live_one_stays() {
    let brink = Brink::start(worker("websocket.js"), &["--websocket-ping-secs", "1"]);
    // A peer that completed the handshake and then went silent (it neither
    // reads nor answers pings).
    let silent = open(&brink, "/echo").await;
    // A peer whose client answers pings.
    let mut live = open(&brink, "/echo").await;
    assert_eq!(text(&next(&mut live).await), "hello");
    // Keep reading the live one (its client answers pings as it reads)
    // until the silent one has been dropped.
    let mut pinged = false;
    let deadline = tokio::time::Instant::now() + WAIT;
    while !brink.logs().contains("closed 1006 - false") {
        assert!(tokio::time::Instant::now() < deadline, "the silent peer was not dropped: {}", brink.logs());
        if let Ok(message) = tokio::time::timeout(Duration::from_millis(100), live.next()).await {
            let message = message.expect("the live socket stays open").expect("a valid message");
            pinged |= matches!(message, Message::Ping(_));
        }
    }
    assert!(pinged, "the live peer was pinged");
    live.send(Message::text("after")).await.unwrap();
    assert_eq!(text(&next(&mut live).await), "echo:after");
    drop(silent);
}

#[tokio::test]
async fn each_message_gets_a_fresh_cpu_limit_and_a_runaway_one_ends_the_socket() {
    let brink = Brink::start(worker("websocket.js"), &["--cpu-ms", "400"]);
    let mut socket = open(&brink, "/cpu").await;
    // Five messages of 100 ms each: 500 ms in all, past one limit, while
    // each leaves room for a busy machine (the first one shares its turn
    // with the upgrade and the WebSocket API's first use).
    for _ in 0..5 {
        socket.send(Message::text("100")).await.unwrap();
        assert_eq!(text(&next(&mut socket).await), "burned 100");
    }
    socket.send(Message::text("forever")).await.unwrap();
    assert_eq!(close_code(&mut socket).await, 1011);
    assert!(brink.wait_for_log("worker exceeded a limit", WAIT), "{}", brink.logs());
    // The worker is replaced and serves new sockets.
    let mut socket = open(&brink, "/cpu").await;
    socket.send(Message::text("1")).await.unwrap();
    assert_eq!(text(&next(&mut socket).await), "burned 1");
}

#[tokio::test]
async fn shutdown_closes_open_sockets_with_1001() {
    let mut brink = Brink::start(worker("websocket.js"), &[]);
    let mut socket = open(&brink, "/echo").await;
    next(&mut socket).await;
    brink.terminate();
    assert_eq!(close_code(&mut socket).await, 1001);
    assert!(brink.wait_exit(WAIT).is_some(), "brink exits once its sockets closed");
}

#[tokio::test]
async fn wss_on_the_tls_listener_and_1012_when_a_new_version_takes_over() {
    let serve = BrinkServe::start(&["--tls-listen", "127.0.0.1:0"]);
    assert!(serve.wait_for_log("TLS listener on https://", WAIT), "{}", serve.logs());
    let address = tls_address(&serve.logs()).expect("TLS address");
    serve.deploy(worker("websocket.js"), "sockets", &["--route", "ws.test"]);
    let ca = TestCa::new();
    let issued = ca.issue(&["ws.test"]);
    let (cert, key) = issued.write(serve.scratch(), "ws");
    let output = serve.cli(&["certs", "put", "ws.test", "--cert", cert.to_str().unwrap(), "--key", key.to_str().unwrap()]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    let tls = connect(address, "ws.test", ca.client_config(&[b"http/1.1"])).await.expect("TLS handshake");
    let (mut socket, _) = tokio_tungstenite::client_async("wss://ws.test/echo", Box::new(tls) as Box<dyn Io>)
        .await
        .expect("wss handshake");
    assert_eq!(text(&next(&mut socket).await), "hello");
    socket.send(Message::text("secure")).await.unwrap();
    assert_eq!(text(&next(&mut socket).await), "echo:secure");
    let metrics = brink_tests::client()
        .get(format!("{}/metrics", serve.admin))
        .bearer_auth(brink_tests::SERVE_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("brink_websockets_open 1"), "{metrics}");

    // A new version: the old one's sockets are told the service restarts.
    serve.deploy(worker("websocket.js"), "sockets", &["--route", "ws.test"]);
    assert_eq!(close_code(&mut socket).await, 1012);
}

/// A plain WebSocket echo server for outbound tests; returns its port.
async fn echo_server() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else { return };
                while let Some(Ok(message)) = socket.next().await {
                    if let Message::Text(text) = message {
                        let _ = socket.send(Message::text(format!("server echo: {text}"))).await;
                    }
                }
            });
        }
    });
    port
}

#[tokio::test]
async fn outbound_sockets_follow_fetch_rules() {
    let port = echo_server().await;
    let target = format!("ws://127.0.0.1:{port}/");
    // Loopback is refused unless allowed, for both ways of connecting.
    let brink = Brink::start(worker("websocket.js"), &[]);
    for via in ["socket", "fetch"] {
        let (status, body) = http_get(brink.port, &format!("/outbound?via={via}&target={target}")).await;
        assert_eq!(status, 502, "{body}");
        assert!(body.contains("private and loopback addresses"), "{via}: {body}");
    }
    for sneaky in ["ws://2130706433:1/", "ws://[::ffff:127.0.0.1]:1/", "ws://localhost:1/"] {
        let (status, body) = http_get(brink.port, &format!("/outbound?target={sneaky}")).await;
        assert_eq!(status, 502, "{sneaky}: {body}");
        assert!(body.contains("refused"), "{sneaky}: {body}");
    }
    drop(brink);

    let allowed = format!("127.0.0.1:{port}");
    let brink = Brink::start(worker("websocket.js"), &["--allow-private-host", &allowed, "--subrequests", "1"]);
    for via in ["socket", "fetch"] {
        let (status, body) = http_get(brink.port, &format!("/outbound?via={via}&target={target}")).await;
        assert_eq!((status, body.as_str()), (200, "outbound got: server echo: ping from worker"), "{via}");
    }
    // Each socket is a subrequest of the request that opens it.
    let brink_once = Brink::start(worker("websocket.js"), &["--allow-private-host", &allowed, "--subrequests", "0"]);
    let (status, body) = http_get(brink_once.port, &format!("/outbound?target={target}")).await;
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("Too many subrequests"), "{body}");
}

#[tokio::test]
async fn the_chat_example_relays_messages_between_members() {
    let brink = Brink::start(brink_tests::example("chat/worker.js"), &[]);
    let mut ada = open(&brink, "/room?name=ada").await;
    assert_eq!(text(&next(&mut ada).await), "welcome ada: 1 here");
    assert_eq!(text(&next(&mut ada).await), "ada joined");
    let mut bob = open(&brink, "/room?name=bob").await;
    assert_eq!(text(&next(&mut bob).await), "welcome bob: 2 here");
    assert_eq!(text(&next(&mut ada).await), "bob joined");
    assert_eq!(text(&next(&mut bob).await), "bob joined");
    bob.send(Message::text("hi ada")).await.unwrap();
    assert_eq!(text(&next(&mut ada).await), "bob: hi ada");
    assert_eq!(text(&next(&mut bob).await), "bob: hi ada");
    bob.close(None).await.unwrap();
    assert_eq!(text(&next(&mut ada).await), "bob left");
    let (status, _) = http_get(brink.port, "/room").await;
    assert_eq!(status, 426);
}
