// Behaviour that goes through the gateway and must match workerd
// (tests/tests/workers_conformance.rs): reason phrases, a Response returned
// twice, an empty POST body, listener exceptions, a 101 without an upgrade,
// a header appended twice and a FixedLengthStream's length.
let shared;

export default {
  async fetch(request) {
    const url = new URL(request.url);
    switch (url.pathname) {
      case "/status-text":
        return new Response("made", { status: 201, statusText: "Created Thing" });
      case "/status-text-empty":
        return new Response("x", { status: 200, statusText: "" });
      case "/status-text-stream":
        return new Response(new Blob(["streamed"]).stream(), { status: 202, statusText: "Queued Up" });
      case "/status-599":
        return new Response("x", { status: 599 });
      case "/status-203":
        return new Response("x", { status: 203 });
      case "/plain":
        return new Response("plain");
      case "/shared":
        shared ??= new Response("made once");
        return shared;
      case "/read-then-returned": {
        const response = new Response("read by the worker");
        await response.text();
        return response;
      }
      case "/body":
        return Response.json({ hasBody: request.body !== null, text: await request.text() });
      case "/listener-throws": {
        const seen = [];
        const target = new EventTarget();
        target.addEventListener("ping", () => {
          throw new Error("listener boom");
        });
        target.addEventListener("ping", () => seen.push("second ran"));
        target.dispatchEvent(new Event("ping"));
        return Response.json(seen);
      }
      case "/hostile-dispatch": {
        // A worker that breaks the global's dispatchEvent cannot make a
        // listener's exception kill the request.
        globalThis.dispatchEvent = () => {
          throw new Error("hijacked");
        };
        const controller = new AbortController();
        let after = false;
        controller.signal.addEventListener("abort", () => {
          throw new Error("abort listener boom");
        });
        controller.signal.addEventListener("abort", () => (after = true));
        controller.abort();
        return Response.json({ after });
      }
      case "/error-listener-throws": {
        // An "error" listener on the global that throws again is reported
        // once more, not recursively.
        const onError = () => {
          throw new Error("error listener boom");
        };
        addEventListener("error", onError);
        const target = new EventTarget();
        target.addEventListener("ping", () => {
          throw new Error("first boom");
        });
        target.dispatchEvent(new Event("ping"));
        removeEventListener("error", onError);
        return new Response("still here");
      }
      case "/upgrade-without-request": {
        const { 0: client, 1: server } = new WebSocketPair();
        server.accept();
        return new Response(null, { status: 101, webSocket: client });
      }
      case "/appended-twice": {
        const headers = new Headers();
        headers.append("x-multi", "a");
        headers.append("x-multi", "b");
        headers.append("set-cookie", "a=1");
        headers.append("set-cookie", "b=2");
        return new Response(headers.get("x-multi"), { headers });
      }
      case "/fixed-length": {
        const { readable, writable } = new FixedLengthStream(5);
        const writer = writable.getWriter();
        writer.write(new TextEncoder().encode("12345"));
        writer.close();
        return new Response(readable);
      }
      case "/fixed-length-short": {
        const { readable, writable } = new FixedLengthStream(10);
        const writer = writable.getWriter();
        writer.write(new TextEncoder().encode("12345"));
        writer.close().catch(() => {});
        return new Response(readable);
      }
      default:
        return new Response("not found", { status: 404 });
    }
  },
};
