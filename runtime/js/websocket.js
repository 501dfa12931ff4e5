// WebSockets as in Workers: `WebSocketPair`, `WebSocket` (accept(), send(),
// close(), message/close/error events, binaryType), a 101 `Response`'s
// `webSocket`, and outbound sockets through `new WebSocket(url)` or
// `fetch()` with `Upgrade: websocket`. Framing, limits and the real socket
// live in src/api/websocket.rs (docs/websockets.md). Loaded on first use
// of any of these.
(function () {
const { core, primordials } = __bootstrap;
const {
  op_brink_count_subrequest,
  op_brink_respond_error,
  op_brink_ws_close,
  op_brink_ws_connect,
  op_brink_ws_next,
  op_brink_ws_respond,
  op_brink_ws_send_binary,
  op_brink_ws_send_text,
} = core.ops;
const {
  ArrayBufferIsView,
  ArrayPrototypePush,
  ArrayPrototypeShift,
  ObjectDefineProperty,
  ObjectPrototypeIsPrototypeOf,
  PromisePrototypeThen,
  Proxy,
  ReflectConstruct,
  String,
  TypeError,
  RangeError,
  WeakMap,
  WeakMapPrototypeGet,
  WeakMapPrototypeSet,
} = primordials;

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

// Close code meaning "no code": the close frame goes out without one.
const NO_STATUS = 1005;

// Filled in by initWebSockets.
let MessageEventClass;
let CloseEventClass;
let ErrorEventClass;
let EventTargetClass;
let DOMExceptionClass;
let BlobClass;
let ResponseClass;
let ResponsePrototype;

// A Response's WebSocket (`new Response(null, { status: 101, webSocket })`,
// or the answer of an outbound fetch() upgrade).
const responseSockets = new WeakMap();
// Internal constructor token: pair ends and outbound fetch() sockets are
// made without connecting anywhere.
const INTERNAL = Symbol("brink.webSocket.internal");

const encoder = new TextEncoder();

function isArrayBuffer(value) {
  return ObjectPrototypeIsPrototypeOf(ArrayBuffer.prototype, value);
}

let WebSocket;
// Functions that reach into sockets' private state, set by the class's
// static block.
let bindServerEnd;
let socketForResponse;
let openFetchedSocket;
let makePair;

function defineWebSocket() {
  return class WebSocket extends EventTargetClass {
    static CONNECTING = CONNECTING;
    static OPEN = OPEN;
    static CLOSING = CLOSING;
    static CLOSED = CLOSED;

    #state = OPEN;
    #accepted = false;
    #usedInResponse = false;
    // The other end of a WebSocketPair, while both ends are in this isolate.
    #peer = null;
    // The Rust socket (src/api/websocket.rs), once there is one.
    #rid = -1;
    // Events that arrived before accept().
    #queue = [];
    // The WebSocket standard's default, and workerd's at current
    // compatibility dates (a binary message is a Blob).
    #binaryType = "blob";
    #url = null;
    #protocol = "";
    #closeSent = false;
    #handlers = { __proto__: null };

    constructor(url, protocols = undefined) {
      super();
      if (url === INTERNAL) return;
      // `new WebSocket(url)`: an outbound socket, open once connected.
      let target;
      try {
        target = new URL(String(url));
      } catch {
        throw new DOMExceptionClass(`Invalid URL: ${url}`, "SyntaxError");
      }
      if (!["ws:", "wss:", "http:", "https:"].includes(target.protocol)) {
        throw new DOMExceptionClass(
          `WebSocket URL scheme must be ws or wss: ${target.href}`,
          "SyntaxError",
        );
      }
      if (target.hash !== "") {
        throw new DOMExceptionClass("WebSocket URL must not have a fragment", "SyntaxError");
      }
      const list = protocols === undefined ? [] : typeof protocols === "string" ? [protocols] : [...protocols];
      this.#url = target.href;
      this.#state = CONNECTING;
      this.#accepted = true;
      const id = core.getAsyncContext();
      const depth = op_brink_count_subrequest(typeof id === "number" ? id : 0);
      const connecting = depth < 0
        ? Promise.reject(
          new Error(
            depth === -1
              ? "Too many subrequests: this request reached its subrequest limit"
              : "WebSockets can only be opened while handling a request, and this request has ended",
          ),
        )
        : op_brink_ws_connect(
          typeof id === "number" ? id : 0,
          target.href,
          [["brink-subrequest-depth", `${depth}`]],
          list,
        );
      PromisePrototypeThen(connecting, (connected) => {
        if (connected.rid < 0) {
          this.#fail(`WebSocket handshake refused with status ${connected.status}`);
          return;
        }
        this.#rid = connected.rid;
        this.#protocol = connected.protocol;
        if (this.#closeSent) {
          // close() was called while connecting.
          op_brink_ws_close(this.#rid, NO_STATUS, "");
        } else {
          this.#state = OPEN;
          this.dispatchEvent(new Event("open"));
        }
        this.#pump();
      }, (error) => this.#fail(error?.message ?? String(error)));
    }

    #fail(message) {
      this.#state = CLOSED;
      this.dispatchEvent(new ErrorEventClass("error", { message }));
      this.dispatchEvent(new CloseEventClass("close", { code: 1006, reason: "", wasClean: false }));
    }

    static {
      bindServerEnd = (client, id, headers) => {
        const server = client.#peer;
        const rid = op_brink_ws_respond(id, headers);
        if (rid < 0) return;
        client.#usedInResponse = true;
        client.#peer = null;
        server.#peer = null;
        server.#rid = rid;
        // What the server end sent before the response went out.
        const pending = client.#queue;
        client.#queue = [];
        for (const event of pending) server.#sendToRust(event);
        if (server.#closeSent) op_brink_ws_close(rid, server.#closeCode, server.#closeReason);
        const previous = core.getAsyncContext();
        core.setAsyncContext(id);
        try {
          server.#pump();
        } finally {
          core.setAsyncContext(previous);
        }
      };
      socketForResponse = (socket, id) => {
        if (socket.#rid >= 0 || socket.#url !== null) {
          return "TypeError: returning an outbound WebSocket in a response (proxying it) is not supported";
        }
        if (socket.#usedInResponse) {
          return "TypeError: Can't return WebSocket that was already used in a response.";
        }
        if (socket.#accepted) {
          return "TypeError: Can't return WebSocket in a Response after calling accept().";
        }
        const server = socket.#peer;
        if (server === null || !server.#accepted) {
          return "TypeError: the server end of the WebSocketPair was never accepted: call server.accept() before returning the response";
        }
        return null;
      };
      openFetchedSocket = (rid, protocol, url) => {
        const socket = new WebSocket(INTERNAL);
        socket.#rid = rid;
        socket.#protocol = protocol;
        socket.#url = url;
        return socket;
      };
      makePair = () => {
        const client = new WebSocket(INTERNAL);
        const server = new WebSocket(INTERNAL);
        client.#peer = server;
        server.#peer = client;
        return [client, server];
      };
    }

    #closeCode = NO_STATUS;
    #closeReason = "";

    get readyState() {
      return this.#state;
    }
    get url() {
      return this.#url;
    }
    get protocol() {
      return this.#protocol;
    }
    get extensions() {
      return "";
    }
    get binaryType() {
      return this.#binaryType;
    }
    set binaryType(value) {
      // As in the spec, other values are ignored.
      if (value === "arraybuffer" || value === "blob") this.#binaryType = value;
    }

    accept(_options = undefined) {
      if (this.#usedInResponse) {
        throw new TypeError("Can't accept() WebSocket that was already used in a response.");
      }
      if (this.#accepted) {
        throw new DOMExceptionClass("The WebSocket was already accepted.", "InvalidStateError");
      }
      this.#accepted = true;
      if (this.#rid >= 0) {
        this.#pump();
        return;
      }
      // A pair end in this isolate: deliver what its peer already sent.
      if (this.#queue.length > 0) queueMicrotask(() => this.#drainQueue());
    }

    send(message) {
      if (this.#usedInResponse) {
        throw new TypeError("Can't call send() on a WebSocket that was used in a response.");
      }
      if (!this.#accepted) {
        throw new TypeError("You must call accept() on this WebSocket before sending messages.");
      }
      if (this.#state === CONNECTING) {
        throw new DOMExceptionClass("The WebSocket is still connecting.", "InvalidStateError");
      }
      if (this.#closeSent || this.#state !== OPEN) {
        throw new TypeError("Can't call WebSocket send() after close().");
      }
      let event;
      if (typeof message === "string") {
        event = { kind: "text", data: message };
      } else if (isArrayBuffer(message)) {
        event = { kind: "binary", data: new Uint8Array(message.slice(0)) };
      } else if (ArrayBufferIsView(message)) {
        const bytes = new Uint8Array(message.buffer, message.byteOffset, message.byteLength);
        event = { kind: "binary", data: bytes.slice() };
      } else {
        event = { kind: "text", data: String(message) };
      }
      if (this.#rid >= 0) {
        this.#sendToRust(event);
      } else if (this.#peer !== null) {
        this.#peer.#receive(event);
      }
    }

    #sendToRust(event) {
      if (event.kind === "text") op_brink_ws_send_text(this.#rid, event.data);
      else op_brink_ws_send_binary(this.#rid, event.data);
    }

    close(code = undefined, reason = undefined) {
      if (this.#usedInResponse) {
        throw new TypeError("Can't call close() on a WebSocket that was used in a response.");
      }
      if (code !== undefined) {
        code = Number(code);
        if (code !== 1000 && !(code >= 3000 && code <= 4999)) {
          throw new DOMExceptionClass(
            `Invalid WebSocket close code ${code}: use 1000 or 3000-4999`,
            "InvalidAccessError",
          );
        }
      }
      reason = reason === undefined ? "" : String(reason);
      if (encoder.encode(reason).byteLength > 123) {
        throw new DOMExceptionClass("WebSocket close reason is longer than 123 bytes", "SyntaxError");
      }
      if (this.#closeSent || this.#state === CLOSED) return;
      this.#closeSent = true;
      this.#closeCode = code ?? NO_STATUS;
      this.#closeReason = reason;
      if (this.#state === CONNECTING) return; // sent once connected
      this.#state = CLOSING;
      if (this.#rid >= 0) {
        op_brink_ws_close(this.#rid, this.#closeCode, reason);
      } else if (this.#peer !== null) {
        const event = { kind: "close", code: this.#closeCode, reason, clean: true };
        this.#peer.#receive(event);
        // The peer in this isolate answers at once.
        queueMicrotask(() => this.#deliver(event));
      }
    }

    // An event from the peer end of a pair in this isolate.
    #receive(event) {
      ArrayPrototypePush(this.#queue, event);
      if (this.#accepted && this.#queue.length === 1) {
        queueMicrotask(() => this.#drainQueue());
      }
    }

    #drainQueue() {
      while (this.#queue.length > 0) this.#deliver(ArrayPrototypeShift(this.#queue));
    }

    async #pump() {
      const rid = this.#rid;
      while (true) {
        let event;
        try {
          event = await op_brink_ws_next(rid);
        } catch {
          event = { kind: "close", code: 1006, reason: "", clean: false };
        }
        this.#deliver(event);
        if (event.kind === "close") {
          core.tryClose(rid);
          return;
        }
      }
    }

    #deliver(event) {
      if (this.#state === CLOSED) return;
      switch (event.kind) {
        case "text":
          this.dispatchEvent(new MessageEventClass("message", { data: event.data }));
          return;
        case "binary": {
          const bytes = event.data;
          const data = this.#binaryType === "blob"
            ? new BlobClass([bytes])
            : bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
            ? bytes.buffer
            : bytes.slice().buffer;
          this.dispatchEvent(new MessageEventClass("message", { data }));
          return;
        }
        case "close":
          this.#state = CLOSED;
          if (!event.clean) {
            this.dispatchEvent(new ErrorEventClass("error", { message: "the WebSocket connection was lost" }));
          }
          this.dispatchEvent(
            new CloseEventClass("close", { code: event.code, reason: event.reason, wasClean: event.clean }),
          );
          return;
      }
    }

    #setHandler(type, handler) {
      const previous = this.#handlers[type];
      if (previous !== undefined) this.removeEventListener(type, previous.listener);
      if (typeof handler !== "function") {
        delete this.#handlers[type];
        return;
      }
      const listener = (event) => handler.call(this, event);
      this.#handlers[type] = { handler, listener };
      this.addEventListener(type, listener);
    }

    #getHandler(type) {
      return this.#handlers[type]?.handler ?? null;
    }

    get onopen() {
      return this.#getHandler("open");
    }
    set onopen(handler) {
      this.#setHandler("open", handler);
    }
    get onmessage() {
      return this.#getHandler("message");
    }
    set onmessage(handler) {
      this.#setHandler("message", handler);
    }
    get onclose() {
      return this.#getHandler("close");
    }
    set onclose(handler) {
      this.#setHandler("close", handler);
    }
    get onerror() {
      return this.#getHandler("error");
    }
    set onerror(handler) {
      this.#setHandler("error", handler);
    }
  };
}

let Event;

class WebSocketPair {
  constructor() {
    const { 0: client, 1: server } = makePair();
    this[0] = client;
    this[1] = server;
  }
}

/**
 * `respond()` of the worker host, for a 101: joins the response's client
 * end to the real connection and starts the server end's events. The
 * request fails instead when there is no usable WebSocket.
 */
function respondWithWebSocket(id, response, headers) {
  const socket = WeakMapPrototypeGet(responseSockets, response);
  if (socket === undefined) {
    op_brink_respond_error(id, "TypeError: a 101 response needs a webSocket");
    return;
  }
  const problem = socketForResponse(socket, id);
  if (problem !== null) {
    op_brink_respond_error(id, problem);
    return;
  }
  const pairs = [];
  for (let i = 0; i < headers.length; i += 2) ArrayPrototypePush(pairs, [headers[i], headers[i + 1]]);
  bindServerEnd(socket, id, pairs);
}

/**
 * `fetch()` with `Upgrade: websocket`: connects (the subrequest is already
 * counted) and answers with a 101 whose `webSocket` the worker accepts, or
 * with the server's refusal as a plain response.
 */
async function fetchWebSocket(request, id) {
  const headers = [];
  for (const { 0: name, 1: value } of request.headers) ArrayPrototypePush(headers, [name, value]);
  const connected = await op_brink_ws_connect(id, request.url, headers, []);
  if (connected.rid < 0) {
    return new ResponseClass(connected.body ?? null, { status: connected.status, headers: connected.headers });
  }
  const socket = openFetchedSocket(connected.rid, connected.protocol, request.url);
  const response = ReflectConstruct(ResponseClass, [null, { status: 101, headers: connected.headers }]);
  WeakMapPrototypeSet(responseSockets, response, socket);
  return response;
}

/**
 * `new Response(body, { webSocket })` as in Workers: a WebSocket makes a
 * 101 response; a 101 needs one, and other statuses may not carry one.
 */
function webSocketResponse(Response) {
  return new Proxy(Response, {
    construct(target, args, newTarget) {
      const init = args[1];
      const socket = init !== null && typeof init === "object" ? init.webSocket : undefined;
      if (socket === undefined || socket === null) {
        if (init !== null && typeof init === "object" && Number(init.status) === 101) {
          throw new RangeError("A 101 response needs a webSocket: new Response(null, { status: 101, webSocket })");
        }
        return ReflectConstruct(target, args, newTarget);
      }
      if (!ObjectPrototypeIsPrototypeOf(WebSocket.prototype, socket)) {
        throw new TypeError("webSocket must be a WebSocket");
      }
      if (Number(init.status) !== 101) {
        throw new TypeError("Responses with a WebSocket must have status code 101.");
      }
      const response = ReflectConstruct(target, args, newTarget);
      WeakMapPrototypeSet(responseSockets, response, socket);
      return response;
    },
  });
}

/** Called by the bootstrap on first use of a WebSocket global. */
function initWebSockets({ event, response, DOMException, Blob }) {
  Event = event.Event;
  EventTargetClass = event.EventTarget;
  MessageEventClass = event.MessageEvent;
  CloseEventClass = event.CloseEvent;
  ErrorEventClass = event.ErrorEvent;
  DOMExceptionClass = DOMException;
  BlobClass = Blob;
  ResponseClass = response.Response;
  ResponsePrototype = ResponseClass.prototype;
  WebSocket = defineWebSocket();
  ObjectDefineProperty(ResponsePrototype, "webSocket", {
    __proto__: null,
    configurable: true,
    enumerable: true,
    get() {
      return WeakMapPrototypeGet(responseSockets, this) ?? null;
    },
  });
  ObjectDefineProperty(globalThis, "Response", {
    __proto__: null,
    value: webSocketResponse(ResponseClass),
    enumerable: false,
    configurable: true,
    writable: true,
  });
  return {
    WebSocket,
    WebSocketPair,
    MessageEvent: MessageEventClass,
    CloseEvent: CloseEventClass,
    respondWithWebSocket,
    fetchWebSocket,
  };
}

return { initWebSockets };
})();
