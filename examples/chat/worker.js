// A chat room over WebSockets: every message a member sends goes to every
// member connected to this isolate. Run it with `brink dev examples/chat/worker.js`
// and connect with any WebSocket client to ws://localhost:8787/room
// (`?name=ada` picks a name). See docs/websockets.md.

// The room lives in the isolate: members connected to other isolates (or
// other POPs) do not see each other. A room shared across isolates would
// need a coordinator, which Brink does not have.
const members = new Map();

function broadcast(text) {
  for (const socket of members.keys()) {
    try {
      socket.send(text);
    } catch {
      // A member that stopped reading is dropped by Brink; its close
      // event removes it.
    }
  }
}

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname !== "/room") {
      return new Response("Connect a WebSocket to /room?name=YOU\n", { status: 404 });
    }
    if (request.headers.get("upgrade") !== "websocket") {
      return new Response("This is a WebSocket endpoint\n", { status: 426, headers: { upgrade: "websocket" } });
    }
    const name = (url.searchParams.get("name") || "anonymous").slice(0, 32);
    const [client, server] = Object.values(new WebSocketPair());
    server.accept();
    members.set(server, name);
    server.send(`welcome ${name}: ${members.size} here`);
    broadcast(`${name} joined`);
    server.addEventListener("message", (event) => {
      const text = typeof event.data === "string" ? event.data : "(binary)";
      broadcast(`${name}: ${text.slice(0, 1000)}`);
    });
    server.addEventListener("close", () => {
      members.delete(server);
      broadcast(`${name} left`);
    });
    return new Response(null, { status: 101, webSocket: client });
  },
};
