//! WebSockets as in Workers: the ops behind `WebSocketPair`, `new
//! WebSocket(url)` and `fetch()` with `Upgrade: websocket`
//! (`js/websocket.js`), and the pump that moves messages between a real
//! socket and the isolate (docs/websockets.md).
//!
//! A socket crosses between threads as a [`SocketEnd`] (the pump's side,
//! on a gateway thread or the isolate's own runtime for outbound sockets)
//! and a [`SocketResource`] (the worker's side, in the isolate's resource
//! table), joined by two channels:
//!
//! - client → worker is bounded to one message: the pump stops reading the
//!   socket while the worker is busy, so a fast sender is held back by TCP,
//!   not buffered;
//! - worker → client is unbounded because `send()` is synchronous, so the
//!   bytes queued there are counted per socket and per isolate, and a
//!   socket whose peer does not read is dropped once over the cap.
//!
//! An open socket keeps its request's context alive (it is exempt from the
//! wall-clock deadline, idle sockets are pinged and dropped instead), and
//! every message delivered to the worker starts a fresh CPU and subrequest
//! budget for that context, as a new request would.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashSet;
use std::future::Future;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use deno_core::{op2, AsyncRefCell, ByteString, JsBuffer, OpState, RcRef, Resource, ResourceId, ToJsBuffer};
use deno_error::JsErrorBox;
use futures::{SinkExt, StreamExt};
use http::{HeaderName, HeaderValue, Response, StatusCode};
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, Notify};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig as FramingConfig};
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use crate::body::ResponseBody;
use crate::context::{ContextTable, RequestId};
use crate::error::WorkerError;
use crate::isolate::WorkerCounters;
use crate::supervisor::{IsolateWatch, Termination};

/// Settings every WebSocket in the process uses.
#[derive(Clone, Debug)]
pub struct WebSocketConfig {
    /// Largest message (all its fragments together) either side may send;
    /// a larger incoming one closes the socket with 1009. Workers: 1 MiB.
    pub max_message_bytes: usize,
    /// Most sockets open at once in one isolate (inbound and outbound).
    pub max_open_per_isolate: usize,
    /// Bytes a worker may have queued for one socket that the peer has not
    /// read yet; past it the socket is dropped (the peer is not reading).
    pub max_buffered_bytes: usize,
    /// Bytes queued over every socket of one isolate, likewise.
    pub max_buffered_bytes_per_isolate: usize,
    /// A socket with no traffic for this long is pinged; one that stays
    /// silent for as long again is dropped.
    pub ping_interval: Duration,
    /// How long a closing handshake may take before the socket is dropped.
    pub close_timeout: Duration,
}

impl Default for WebSocketConfig {
    fn default() -> Self {
        WebSocketConfig {
            max_message_bytes: 1024 * 1024,
            max_open_per_isolate: 1000,
            max_buffered_bytes: 16 * 1024 * 1024,
            max_buffered_bytes_per_isolate: 64 * 1024 * 1024,
            ping_interval: Duration::from_secs(30),
            close_timeout: Duration::from_secs(10),
        }
    }
}

static CONFIG: OnceLock<WebSocketConfig> = OnceLock::new();

/// Sets the process's WebSocket settings; false if they were already set
/// (or already read). Call before serving.
pub fn configure(config: WebSocketConfig) -> bool {
    CONFIG.set(config).is_ok()
}

/// The process's WebSocket settings.
pub fn config() -> &'static WebSocketConfig {
    CONFIG.get_or_init(WebSocketConfig::default)
}

/// tungstenite's settings for a socket: frames and messages bounded by the
/// message limit, small read buffers (there may be thousands of sockets),
/// and every write flushed, so a peer that does not read holds back the
/// writer instead of growing a buffer.
pub fn framing_config() -> FramingConfig {
    let max = config().max_message_bytes;
    FramingConfig::default()
        .max_message_size(Some(max))
        .max_frame_size(Some(max))
        .read_buffer_size(16 * 1024)
        .write_buffer_size(0)
}

static OPEN_SOCKETS: AtomicUsize = AtomicUsize::new(0);

/// WebSockets open in this process now (inbound and outbound), for the
/// metrics gauge.
pub fn open_sockets() -> usize {
    OPEN_SOCKETS.load(Ordering::Relaxed)
}

/// Bytes a worker has queued for a socket and the pump has not written.
struct Backlog {
    bytes: AtomicUsize,
    isolate: Arc<AtomicUsize>,
    overflowed: AtomicBool,
    overflow: Notify,
}

impl Backlog {
    fn release(&self, bytes: usize) {
        self.bytes.fetch_sub(bytes, Ordering::Relaxed);
        self.isolate.fetch_sub(bytes, Ordering::Relaxed);
    }
}

impl Drop for Backlog {
    fn drop(&mut self) {
        // Whatever was never written no longer counts against the isolate.
        self.isolate.fetch_sub(*self.bytes.get_mut(), Ordering::Relaxed);
    }
}

/// The pump's side of a socket: messages to the worker, messages from it.
pub struct SocketEnd {
    to_worker: mpsc::Sender<Message>,
    from_worker: mpsc::UnboundedReceiver<Message>,
    backlog: Arc<Backlog>,
}

impl Drop for SocketEnd {
    fn drop(&mut self) {
        OPEN_SOCKETS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The extension a `101` response carries to the gateway: the socket the
/// worker returned, to be joined to the upgraded connection.
#[derive(Clone)]
pub struct WebSocketUpgrade(Arc<Mutex<Option<SocketEnd>>>);

impl WebSocketUpgrade {
    /// The socket, once (later calls get `None`).
    pub fn take(&self) -> Option<SocketEnd> {
        self.0.lock().ok().and_then(|mut end| end.take())
    }
}

/// The open sockets of one isolate (kept in its `OpState`).
#[derive(Default)]
pub struct SocketRegistry {
    open: HashSet<u64>,
    next: u64,
    /// Senders of the open sockets, to close them all when the isolate
    /// drains (a new version took over).
    closers: std::collections::HashMap<u64, mpsc::UnboundedSender<Message>>,
    buffered: Arc<AtomicUsize>,
}

impl SocketRegistry {
    /// Sockets open in this isolate.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    /// True when no socket is open.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }
}

/// Closes every open socket of the isolate with `code` (1012 when a new
/// version replaces the worker): the pumps tell the peers, and each
/// peer's answer ends the socket, and with it its hold on its request.
pub fn close_all(state: &mut OpState, code: u16, reason: &str) {
    let Some(registry) = state.try_borrow_mut::<SocketRegistry>() else { return };
    for closer in registry.closers.values() {
        let _ = closer.send(close_message(code, reason));
    }
}

fn close_message(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame { code: CloseCode::from(code), reason: reason.to_string().into() }))
}

/// The worker's side of a socket, in the isolate's resource table.
pub struct SocketResource {
    incoming: AsyncRefCell<mpsc::Receiver<Message>>,
    outgoing: mpsc::UnboundedSender<Message>,
    backlog: Arc<Backlog>,
    /// The request whose context the socket keeps alive.
    context: RequestId,
    key: u64,
    ended: std::cell::Cell<bool>,
}

impl Resource for SocketResource {
    fn name(&self) -> Cow<'_, str> {
        "webSocket".into()
    }
}

/// Why a socket could not be opened in this isolate.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The isolate has as many open sockets as it may.
    #[error("too many open WebSockets in this worker (the limit is {0})")]
    TooMany(usize),
    /// The request the socket would belong to has ended.
    #[error("WebSockets can only be opened while handling a request, and this request has ended")]
    NoRequest,
}

/// Opens a socket pair for request `id`: the resource goes into the
/// isolate's table, the pump's end is returned.
fn open_socket(state: &mut OpState, id: RequestId) -> Result<(ResourceId, SocketEnd), OpenError> {
    let limit = config().max_open_per_isolate;
    if !state.has::<SocketRegistry>() {
        state.put(SocketRegistry::default());
    }
    let (key, isolate_bytes) = {
        let registry = state.borrow_mut::<SocketRegistry>();
        if registry.open.len() >= limit {
            return Err(OpenError::TooMany(limit));
        }
        registry.next += 1;
        (registry.next, registry.buffered.clone())
    };
    if !state.borrow_mut::<ContextTable>().websocket_opened(id) {
        return Err(OpenError::NoRequest);
    }
    let (to_worker, incoming) = mpsc::channel(1);
    let (outgoing, from_worker) = mpsc::unbounded_channel();
    let backlog = Arc::new(Backlog {
        bytes: AtomicUsize::new(0),
        isolate: isolate_bytes,
        overflowed: AtomicBool::new(false),
        overflow: Notify::new(),
    });
    let registry = state.borrow_mut::<SocketRegistry>();
    registry.open.insert(key);
    registry.closers.insert(key, outgoing.clone());
    OPEN_SOCKETS.fetch_add(1, Ordering::Relaxed);
    let resource = SocketResource {
        incoming: AsyncRefCell::new(incoming),
        outgoing,
        backlog: backlog.clone(),
        context: id,
        key,
        ended: std::cell::Cell::new(false),
    };
    let rid = state.resource_table.add(resource);
    Ok((rid, SocketEnd { to_worker, from_worker, backlog }))
}

/// The socket ended (closed by either side, or dropped): it no longer
/// holds its request's context nor counts against the isolate's cap.
fn socket_ended(state: &mut OpState, socket: &SocketResource) {
    if socket.ended.replace(true) {
        return;
    }
    if let Some(registry) = state.try_borrow_mut::<SocketRegistry>() {
        registry.open.remove(&socket.key);
        registry.closers.remove(&socket.key);
    }
    state.borrow_mut::<ContextTable>().websocket_closed(socket.context);
}

/// The worker answered request `id` with `101` and the client end of a
/// pair: sends the response head with the socket attached, and returns
/// the resource id of the server end's socket, or -1 when the request
/// failed instead (too many sockets).
#[op2]
pub fn op_brink_ws_respond(state: &mut OpState, #[smi] id: u32, #[serde] headers: Vec<(ByteString, ByteString)>) -> i32 {
    let (rid, end) = match open_socket(state, id) {
        Ok(opened) => opened,
        Err(error) => {
            tracing::warn!(error = %error, "WebSocket refused");
            state.borrow_mut::<ContextTable>().respond(id, Err(WorkerError::Exception(format!("Error: {error}"))));
            return -1;
        }
    };
    let mut response = Response::new(ResponseBody::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    for (name, value) in &headers {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
            response.headers_mut().append(name, value);
        }
    }
    response.extensions_mut().insert(WebSocketUpgrade(Arc::new(Mutex::new(Some(end)))));
    state.borrow_mut::<ContextTable>().respond(id, Ok(response));
    rid as i32
}

fn socket(state: &OpState, rid: ResourceId) -> Result<Rc<SocketResource>, JsErrorBox> {
    state
        .resource_table
        .get::<SocketResource>(rid)
        .map_err(|_| JsErrorBox::new("DOMExceptionInvalidStateError", "the WebSocket is closed"))
}

/// Queues one message from the worker, unless that would put more than
/// the limits' bytes in flight to a peer that is not reading: then the
/// socket is dropped and `send()` throws.
fn queue(state: &mut OpState, rid: ResourceId, message: Message, length: usize) -> Result<(), JsErrorBox> {
    let settings = config();
    if length > settings.max_message_bytes {
        return Err(JsErrorBox::range_error(format!(
            "WebSocket message of {length} bytes is larger than the limit of {} bytes",
            settings.max_message_bytes
        )));
    }
    let socket = socket(state, rid)?;
    let backlog = &socket.backlog;
    if backlog.overflowed.load(Ordering::Relaxed) {
        return Err(JsErrorBox::new("DOMExceptionInvalidStateError", "the WebSocket was closed: its peer was not reading"));
    }
    let queued = backlog.bytes.fetch_add(length, Ordering::Relaxed) + length;
    let isolate = backlog.isolate.fetch_add(length, Ordering::Relaxed) + length;
    if queued > settings.max_buffered_bytes || isolate > settings.max_buffered_bytes_per_isolate {
        backlog.release(length);
        backlog.overflowed.store(true, Ordering::Relaxed);
        backlog.overflow.notify_one();
        tracing::warn!(queued, isolate, "WebSocket dropped: its peer is not reading what the worker sends");
        return Err(JsErrorBox::new(
            "DOMExceptionInvalidStateError",
            "the WebSocket was closed: its peer is not reading, and too much data is waiting for it",
        ));
    }
    if socket.outgoing.send(message).is_err() {
        backlog.release(length);
    }
    Ok(())
}

/// `send(string)`.
#[op2(fast)]
pub fn op_brink_ws_send_text(state: &mut OpState, #[smi] rid: ResourceId, #[string] text: String) -> Result<(), JsErrorBox> {
    let length = text.len();
    queue(state, rid, Message::Text(text.into()), length)
}

/// `send(ArrayBuffer | ArrayBufferView)`.
#[op2]
pub fn op_brink_ws_send_binary(state: &mut OpState, #[smi] rid: ResourceId, #[buffer] data: JsBuffer) -> Result<(), JsErrorBox> {
    let length = data.len();
    queue(state, rid, Message::Binary(Bytes::copy_from_slice(&data)), length)
}

/// `close(code, reason)`: starts the closing handshake (JS has checked the
/// code and the reason's length).
#[op2(fast)]
pub fn op_brink_ws_close(state: &mut OpState, #[smi] rid: ResourceId, #[smi] code: u32, #[string] reason: String) {
    if let Ok(socket) = socket(state, rid) {
        let _ = socket.outgoing.send(close_message(u16::try_from(code).unwrap_or(1000), &reason));
    }
}

/// What the worker's side of a socket receives next.
#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum SocketEvent {
    /// A text message.
    Text {
        /// The text.
        data: String,
    },
    /// A binary message.
    Binary {
        /// The bytes.
        data: ToJsBuffer,
    },
    /// The socket closed; nothing follows.
    Close {
        /// The close code (1005 when the peer gave none, 1006 when the
        /// connection was lost without a close frame).
        code: u16,
        /// The peer's reason.
        reason: String,
        /// Whether a close frame was received.
        clean: bool,
    },
}

/// The next event of socket `rid`. Each message starts a new CPU and
/// subrequest budget for the socket's request; the close (or loss) of the
/// socket releases the request.
#[op2]
#[serde]
pub async fn op_brink_ws_next(state: Rc<RefCell<OpState>>, #[smi] rid: ResourceId) -> Result<SocketEvent, JsErrorBox> {
    let socket = socket(&state.borrow(), rid)?;
    let received = {
        let mut incoming = RcRef::map(&socket, |s| &s.incoming).borrow_mut().await;
        incoming.recv().await
    };
    let event = match received {
        Some(Message::Text(text)) => SocketEvent::Text { data: text.as_str().to_string() },
        Some(Message::Binary(bytes)) => SocketEvent::Binary { data: bytes.to_vec().into() },
        Some(Message::Close(Some(frame))) => {
            SocketEvent::Close { code: frame.code.into(), reason: frame.reason.as_str().to_string(), clean: true }
        }
        Some(Message::Close(None)) => SocketEvent::Close { code: 1005, reason: String::new(), clean: true },
        // Pings and pongs are the pump's business and never sent here.
        Some(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {
            SocketEvent::Close { code: 1011, reason: String::new(), clean: false }
        }
        None => SocketEvent::Close { code: 1006, reason: String::new(), clean: false },
    };
    let mut state = state.borrow_mut();
    match event {
        SocketEvent::Close { .. } => socket_ended(&mut state, &socket),
        _ => start_event(&mut state, socket.context),
    }
    Ok(event)
}

/// A message is about to run request `id`'s handlers with a whole CPU
/// limit. Several messages may be handled in one turn of the event loop,
/// so the turn is split here: what ran before is charged as usual, and
/// the watchdog gives the rest of the turn a fresh budget.
fn start_event(state: &mut OpState, id: RequestId) {
    let watch = state.try_borrow::<Arc<IsolateWatch>>().cloned();
    let counters = state.try_borrow::<Arc<WorkerCounters>>().cloned();
    let table = state.borrow_mut::<ContextTable>();
    let Some(watch) = watch else {
        table.websocket_event(id);
        return;
    };
    let used = watch.split_turn(u64::MAX);
    if let Some(counters) = counters {
        counters.cpu_ns.fetch_add(used, Ordering::Relaxed);
    }
    let overrun = table.charge_shared_cpu(used);
    table.websocket_event(id);
    watch.split_turn(table.shared_budget());
    if overrun.is_some() {
        watch.terminate(Termination::CpuTime);
    }
}

/// How the pump's writer stopped.
enum WriterEnd {
    /// It sent a close frame (the worker's or the gateway's).
    SentClose,
    /// The worker's side went away without closing (its isolate ended).
    WorkerGone,
    /// Writing to the socket failed.
    Failed,
}

async fn write_loop<S>(
    mut sink: futures::stream::SplitSink<WebSocketStream<S>, Message>,
    mut from_worker: mpsc::UnboundedReceiver<Message>,
    mut control: mpsc::Receiver<Message>,
    backlog: Arc<Backlog>,
) -> WriterEnd
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        let (message, from_worker_bytes) = tokio::select! {
            biased;
            Some(message) = control.recv() => (message, None),
            message = from_worker.recv() => match message {
                Some(message) => {
                    let length = payload_length(&message);
                    (message, Some(length))
                }
                None => {
                    // The isolate is gone: its limit was hit or it was
                    // replaced without draining.
                    let _ = sink.send(close_message(1011, "the worker ended")).await;
                    return WriterEnd::WorkerGone;
                }
            },
        };
        let closing = matches!(message, Message::Close(_));
        let sent = sink.send(message).await;
        if let Some(length) = from_worker_bytes {
            backlog.release(length);
        }
        match sent {
            Ok(()) if closing => return WriterEnd::SentClose,
            Ok(()) => {}
            Err(_) => return WriterEnd::Failed,
        }
    }
}

fn payload_length(message: &Message) -> usize {
    match message {
        Message::Text(text) => text.len(),
        Message::Binary(bytes) => bytes.len(),
        _ => 0,
    }
}

/// The close code for a read error, if the peer should get one.
fn close_code_for(error: &WsError) -> Option<(u16, &'static str)> {
    match error {
        WsError::Capacity(_) => Some((1009, "message too big")),
        WsError::Utf8(_) => Some((1007, "invalid UTF-8 in a text message")),
        // A peer that hung up without a close frame gets none either.
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => None,
        WsError::Protocol(_) => Some((1002, "protocol error")),
        _ => None,
    }
}

/// Moves messages between `socket` and the worker until either side closes,
/// the connection is lost, or `shutdown` resolves (then the peer gets 1001).
/// Pings a silent peer and drops one that stays silent; drops a peer that
/// does not read while the worker has too much queued for it.
pub async fn pump<S>(socket: WebSocketStream<S>, end: SocketEnd, shutdown: impl Future<Output = ()>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let settings = config();
    let mut end = end;
    let from_worker = std::mem::replace(&mut end.from_worker, mpsc::unbounded_channel().1);
    let to_worker = &end.to_worker;
    let backlog = end.backlog.clone();
    let (sink, mut stream) = socket.split();
    let (control, control_rx) = mpsc::channel::<Message>(4);
    let writer = write_loop(sink, from_worker, control_rx, backlog.clone());
    tokio::pin!(writer);
    tokio::pin!(shutdown);
    let mut writer_done = false;
    let mut shutting_down = false;
    // A message read from the socket, waiting for the worker to take it.
    let mut inbound: Option<Message> = None;
    let mut last_heard = tokio::time::Instant::now();
    let mut pinged = false;
    // Set once either side started closing: the rest must happen by then.
    let mut closing_by: Option<tokio::time::Instant> = None;
    let idle = tokio::time::sleep(settings.ping_interval);
    tokio::pin!(idle);
    loop {
        let wake = closing_by.unwrap_or(last_heard + settings.ping_interval);
        if idle.deadline() != wake {
            idle.as_mut().reset(wake);
        }
        tokio::select! {
            received = stream.next(), if inbound.is_none() => {
                last_heard = tokio::time::Instant::now();
                pinged = false;
                match received {
                    Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => inbound = Some(message),
                    Some(Ok(message @ Message::Close(_))) => {
                        // tungstenite answers the close frame itself.
                        closing_by.get_or_insert(last_heard + settings.close_timeout);
                        inbound = Some(message);
                    }
                    Some(Ok(_)) => {} // ping (answered by tungstenite), pong
                    Some(Err(error)) => {
                        if let Some((code, reason)) = close_code_for(&error) {
                            tracing::debug!(%error, code, "closing a WebSocket after a bad frame");
                            let _ = control.try_send(close_message(code, reason));
                            let _ = to_worker.try_send(close_message(code, reason));
                            // Give the writer the time to send the close frame.
                            let _ = tokio::time::timeout(settings.close_timeout, async {
                                if !writer_done {
                                    (&mut writer).await;
                                }
                            })
                            .await;
                        }
                        return;
                    }
                    None => return,
                }
            }
            permit = to_worker.reserve(), if inbound.is_some() => {
                let Ok(permit) = permit else { return }; // the worker's side is gone
                if let Some(message) = inbound.take() {
                    let closed = matches!(message, Message::Close(_));
                    permit.send(message);
                    if closed && writer_done {
                        return;
                    }
                }
            }
            ended = &mut writer, if !writer_done => {
                writer_done = true;
                match ended {
                    // Wait (bounded) for the peer's close frame, for the worker.
                    WriterEnd::SentClose | WriterEnd::WorkerGone => {
                        closing_by.get_or_insert(tokio::time::Instant::now() + settings.close_timeout);
                    }
                    WriterEnd::Failed => return,
                }
            }
            _ = &mut shutdown, if !shutting_down => {
                shutting_down = true;
                let _ = control.try_send(close_message(1001, "the server is shutting down"));
                closing_by.get_or_insert(tokio::time::Instant::now() + settings.close_timeout);
            }
            _ = backlog.overflow.notified() => return,
            _ = &mut idle => {
                if closing_by.is_some() || pinged {
                    return; // the peer is gone, or never finished closing
                }
                pinged = true;
                last_heard = tokio::time::Instant::now();
                let _ = control.try_send(Message::Ping(Bytes::new()));
            }
        }
    }
}

/// What an outbound connection attempt gives JS: an open socket (`rid` >=
/// 0, status 101), or the server's refusal as a plain response.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Connected {
    rid: i32,
    status: u16,
    headers: Vec<(String, String)>,
    protocol: String,
    body: Option<ToJsBuffer>,
}

/// How long an outbound connection may take, handshakes included.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Headers a worker may not set on an outbound WebSocket handshake: the
/// handshake's own, which tungstenite writes.
fn is_handshake_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(name.as_str(), "host" | "connection" | "upgrade" | "content-length" | "transfer-encoding")
        || name.starts_with("sec-websocket-")
}

/// Opens an outbound WebSocket for request `id` to `url` (ws, wss, http or
/// https; already parsed and normalised by the URL parser): the same
/// address checks as `fetch()` (the URL's host, then every DNS answer),
/// counted against the isolate's socket cap and kept open by the request's
/// context. JS has charged the subrequest.
#[op2]
#[serde]
pub async fn op_brink_ws_connect(
    state: Rc<RefCell<OpState>>,
    #[smi] id: u32,
    #[string] url: String,
    #[serde] headers: Vec<(String, String)>,
    #[serde] protocols: Vec<String>,
) -> Result<Connected, JsErrorBox> {
    let uri: http::Uri = url.parse().map_err(|_| JsErrorBox::type_error(format!("invalid WebSocket URL: {url}")))?;
    let secure = match uri.scheme_str() {
        Some("wss" | "https") => true,
        Some("ws" | "http") => false,
        _ => return Err(JsErrorBox::new("DOMExceptionSyntaxError", format!("WebSocket URL must be ws(s) or http(s): {url}"))),
    };
    let host = uri.host().ok_or_else(|| JsErrorBox::type_error("WebSocket URL has no host"))?.to_string();
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    crate::api::outbound_fetch::check_target(&host, port)?;
    {
        // Refuse early (before connecting) when the socket could not be kept.
        let state = state.borrow();
        let open = state.try_borrow::<SocketRegistry>().map(SocketRegistry::len).unwrap_or(0);
        if open >= config().max_open_per_isolate {
            return Err(JsErrorBox::generic(OpenError::TooMany(config().max_open_per_isolate).to_string()));
        }
    }
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let target = format!("{}://{}{}", if secure { "wss" } else { "ws" }, uri.authority().map(|a| a.as_str()).unwrap_or(&host), path);
    let mut request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(target.as_str())
        .map_err(|error| JsErrorBox::type_error(format!("invalid WebSocket URL: {error}")))?;
    for (name, value) in headers.iter().filter(|(name, _)| !is_handshake_header(name)) {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
            request.headers_mut().append(name, value);
        }
    }
    if !protocols.is_empty() {
        let value = HeaderValue::from_str(&protocols.join(", "))
            .map_err(|_| JsErrorBox::new("DOMExceptionSyntaxError", "invalid WebSocket subprotocol"))?;
        request.headers_mut().insert("sec-websocket-protocol", value);
    }
    let connecting = connect(host, port, secure, request);
    let outcome = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
        .await
        .map_err(|_| JsErrorBox::new("TimedOut", format!("WebSocket connection to {url} timed out")))??;
    let (socket, response) = match outcome {
        Handshake::Refused(response) => {
            let (parts, body) = response.into_parts();
            return Ok(Connected {
                rid: -1,
                status: parts.status.as_u16(),
                headers: header_strings(&parts.headers),
                protocol: String::new(),
                body: body.map(Into::into),
            });
        }
        Handshake::Open(socket, response) => (socket, response),
    };
    let (rid, end) = open_socket(&mut state.borrow_mut(), id).map_err(|error| JsErrorBox::generic(error.to_string()))?;
    let protocol = response
        .headers()
        .get("sec-websocket-protocol")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string();
    // The pump runs on the isolate's own runtime: it ends with the isolate.
    tokio::spawn(pump(socket, end, std::future::pending()));
    Ok(Connected {
        rid: rid as i32,
        status: response.status().as_u16(),
        headers: header_strings(response.headers()),
        protocol,
        body: None,
    })
}

fn header_strings(headers: &http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| (name.as_str().to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect()
}

/// A duplex byte stream, plain or TLS.
trait Duplex: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Duplex for T {}

enum Handshake {
    Open(WebSocketStream<Box<dyn Duplex>>, tokio_tungstenite::tungstenite::handshake::client::Response),
    Refused(http::Response<Option<Vec<u8>>>),
}

/// Connects to the first address of `host` the guarded resolver gives
/// (private addresses only where the policy allows), with TLS for `wss`,
/// and does the WebSocket handshake.
async fn connect(
    host: String,
    port: u16,
    secure: bool,
    request: tokio_tungstenite::tungstenite::handshake::client::Request,
) -> Result<Handshake, JsErrorBox> {
    use deno_fetch::dns::Resolve;
    let name: hyper_util::client::legacy::connect::dns::Name = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|_| JsErrorBox::type_error(format!("invalid host {host}")))?;
    let addresses = crate::api::outbound_fetch::thread_resolver()
        .resolve(name)
        .await
        .map_err(|error| JsErrorBox::new("ConnectionRefused", error.to_string()))?;
    let mut last_error = None;
    let mut tcp = None;
    for mut address in addresses {
        address.set_port(port);
        match tokio::net::TcpStream::connect(address).await {
            Ok(stream) => {
                tcp = Some(stream);
                break;
            }
            Err(error) => last_error = Some(error),
        }
    }
    let tcp = tcp.ok_or_else(|| {
        JsErrorBox::new(
            "ConnectionRefused",
            format!("WebSocket connection to {host}:{port} failed: {}", last_error.map(|e| e.to_string()).unwrap_or_default()),
        )
    })?;
    let _ = tcp.set_nodelay(true);
    let stream: Box<dyn Duplex> = if secure {
        let tls = deno_tls::create_client_config(deno_tls::TlsClientConfigOptions {
            root_cert_store: Some(deno_tls::create_default_root_cert_store()),
            socket_use: deno_tls::SocketUse::Http1Only,
            ..Default::default()
        })
        .map_err(|error| JsErrorBox::generic(error.to_string()))?;
        let server_name = tokio_rustls::rustls::pki_types::ServerName::try_from(host.trim_start_matches('[').trim_end_matches(']').to_string())
            .map_err(|_| JsErrorBox::type_error(format!("invalid TLS server name {host}")))?;
        let stream = tokio_rustls::TlsConnector::from(Arc::new(tls))
            .connect(server_name, tcp)
            .await
            .map_err(|error| JsErrorBox::new("ConnectionRefused", format!("TLS handshake with {host} failed: {error}")))?;
        Box::new(stream)
    } else {
        Box::new(tcp)
    };
    match tokio_tungstenite::client_async_with_config(request, stream, Some(framing_config())).await {
        Ok((socket, response)) => Ok(Handshake::Open(socket, response)),
        Err(WsError::Http(response)) => Ok(Handshake::Refused(*response)),
        Err(error) => Err(JsErrorBox::new("ConnectionRefused", format!("WebSocket handshake with {host} failed: {error}"))),
    }
}
