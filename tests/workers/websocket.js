// WebSocket behaviours the tests in tests/tests/websocket.rs check.

function pair() {
  const [client, server] = Object.values(new WebSocketPair());
  return { client, server };
}

function upgraded(client) {
  return new Response(null, { status: 101, webSocket: client });
}

function burn(ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {}
}

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    switch (url.pathname) {
      case "/echo": {
        if (request.headers.get("upgrade") !== "websocket") {
          return new Response("expected a WebSocket", { status: 426 });
        }
        const { client, server } = pair();
        server.accept();
        // The default ("blob") is reported; the echo wants the bytes.
        const defaultBinaryType = server.binaryType;
        server.binaryType = "arraybuffer";
        server.addEventListener("message", (event) => {
          if (typeof event.data === "string") {
            if (event.data === "close") server.close(4000, "asked to");
            else if (event.data === "state") server.send(`state:${server.readyState}:${defaultBinaryType}`);
            else server.send(`echo:${event.data}`);
          } else {
            server.send(event.data);
          }
        });
        server.addEventListener("close", (event) => {
          console.log(`closed ${event.code} ${event.reason || "-"} ${event.wasClean}`);
        });
        server.send("hello");
        return upgraded(client);
      }
      case "/cpu": {
        // Every message burns CPU: each must get a fresh CPU budget.
        const { client, server } = pair();
        server.accept();
        server.onmessage = (event) => {
          if (event.data === "forever") while (true) {}
          burn(Number(event.data));
          server.send(`burned ${event.data}`);
        };
        return upgraded(client);
      }
      case "/flood": {
        // Sends until send() refuses: the peer is not reading.
        const { client, server } = pair();
        server.accept();
        const chunk = new Uint8Array(64 * 1024);
        server.addEventListener("message", () => {
          const timer = setInterval(() => {
            try {
              for (let i = 0; i < 16; i++) server.send(chunk);
            } catch (error) {
              clearInterval(timer);
              console.log(`flood stopped: ${error.message}`);
            }
          }, 1);
        });
        server.addEventListener("close", (event) => console.log(`flood closed ${event.code}`));
        return upgraded(client);
      }
      case "/never-accepted": {
        const { client } = pair();
        return upgraded(client);
      }
      case "/101-without-socket":
        return new Response(null, { status: 101 });
      case "/socket-on-200": {
        const { client, server } = pair();
        server.accept();
        return new Response(null, { status: 200, webSocket: client });
      }
      case "/misuse": {
        // The errors Workers throws for misuse, as text.
        const { client, server } = pair();
        const errors = [];
        const attempt = (name, f) => {
          try {
            f();
            errors.push(`${name}: ok`);
          } catch (error) {
            errors.push(`${name}: ${error.name}`);
          }
        };
        attempt("send before accept", () => server.send("x"));
        server.accept();
        attempt("accept twice", () => server.accept());
        attempt("close code 1001", () => server.close(1001));
        attempt("long reason", () => server.close(1000, "x".repeat(124)));
        client.accept();
        const received = new Promise((resolve) => client.addEventListener("message", (e) => resolve(e.data)));
        server.send("local");
        const data = await received;
        server.close(1000, "done");
        attempt("send after close", () => server.send("x"));
        return new Response(`${errors.join("\n")}\nlocal pair: ${data}\nreadyState: ${server.readyState}`);
      }
      case "/outbound": {
        // An outbound socket: new WebSocket(url), or fetch() with Upgrade.
        const target = url.searchParams.get("target");
        try {
          let socket;
          if (url.searchParams.get("via") === "fetch") {
            const response = await fetch(target, { headers: { Upgrade: "websocket" } });
            if (response.status !== 101) return new Response(`status ${response.status}`);
            socket = response.webSocket;
            socket.accept();
          } else {
            socket = new WebSocket(target);
            await new Promise((resolve, reject) => {
              socket.addEventListener("open", resolve);
              socket.addEventListener("error", (event) => reject(new Error(event.message)));
            });
          }
          const reply = new Promise((resolve) => socket.addEventListener("message", (e) => resolve(e.data)));
          socket.send("ping from worker");
          const text = await reply;
          socket.close(1000, "thanks");
          return new Response(`outbound got: ${text}`);
        } catch (error) {
          return new Response(`outbound failed: ${error.message}`, { status: 502 });
        }
      }
    }
    return new Response("not found", { status: 404 });
  },
};
