// WebSocket behaviours the tests in tests/tests/websocket.rs check.
export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const upgrade = request.headers.get("upgrade");
    switch (url.pathname) {
      case "/echo": {
        if (upgrade !== "websocket") return new Response("expected a WebSocket", { status: 426 });
        const [client, server] = Object.values(new WebSocketPair());
        server.accept();
        server.addEventListener("message", (event) => {
          if (typeof event.data === "string") {
            if (event.data === "close") server.close(4000, "asked to");
            else server.send(`echo:${event.data}`);
          } else {
            server.send(event.data);
          }
        });
        server.addEventListener("close", (event) => {
          console.log(`closed ${event.code} ${event.reason} ${event.wasClean}`);
        });
        server.send("hello");
        return new Response(null, { status: 101, webSocket: client });
      }
    }
    return new Response("not found", { status: 404 });
  },
};
