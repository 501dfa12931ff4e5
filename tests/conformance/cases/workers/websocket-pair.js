// WebSocketPair: Workers' in-process pair of connected WebSockets.
import { attempt } from "../../harness.js";

export const cases = {
  "pair-shape": () =>
    attempt(() => {
      const pair = new WebSocketPair();
      return [Object.keys(pair), pair[0] instanceof WebSocket, pair[1] instanceof WebSocket, pair[0].readyState, pair[0].binaryType];
    }),
  "pair-messages": async () =>
    attempt(async () => {
      const [client, server] = Object.values(new WebSocketPair());
      client.accept();
      server.accept();
      const got = [];
      const done = new Promise((resolve) => {
        server.addEventListener("message", (e) => {
          got.push(typeof e.data === "string" ? e.data : [e.data?.constructor?.name, e.data.byteLength ?? e.data.size]);
          if (got.length === 2) resolve();
        });
      });
      client.send("text");
      client.send(new Uint8Array([1, 2]).buffer);
      await done;
      return got;
    }),
  "pair-close": async () =>
    attempt(async () => {
      const [client, server] = Object.values(new WebSocketPair());
      client.accept();
      server.accept();
      const closed = new Promise((resolve) => server.addEventListener("close", (e) => resolve([e.code, e.reason, e.wasClean])));
      client.close(4000, "bye");
      return await closed;
    }),
  "send-before-accept": () =>
    attempt(() => {
      const [client] = Object.values(new WebSocketPair());
      client.send("too early");
      return "sent";
    }),
  "upgrade-response-needs-upgrade-request": {
    fetch() {
      const [client, server] = Object.values(new WebSocketPair());
      server.accept();
      try {
        return new Response(null, { status: 101, webSocket: client });
      } catch (e) {
        return new Response(`threw ${e.name}`);
      }
    },
  },
};
