// A tenant that lies about its responses' framing, for the gateway's
// framing tests: every `content-length`, `transfer-encoding` and hop-by-hop
// header below is one the gateway must not pass through as given.

// Bytes that, if written past the end of the declared body, a client would
// read as the response to its next pipelined request.
const SMUGGLED = "HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nforged";

function stream(chunks) {
  const encoder = new TextEncoder();
  let next = 0;
  return new ReadableStream({
    pull(controller) {
      if (next < chunks.length) controller.enqueue(encoder.encode(chunks[next++]));
      else controller.close();
    },
  });
}

function withHeaders(pairs) {
  const headers = new Headers();
  for (const [name, value] of pairs) headers.append(name, value);
  return headers;
}

export default {
  async fetch(request) {
    const url = new URL(request.url);
    switch (url.pathname) {
      case "/ok":
        return new Response(`ok ${url.host}`);
      // Bodies known in full.
      case "/full-short":
        return new Response("hello" + SMUGGLED, { headers: { "content-length": "5" } });
      case "/full-long":
        return new Response("hello", { headers: { "content-length": "200" } });
      case "/full-te":
        return new Response("hello", { headers: { "transfer-encoding": "chunked" } });
      case "/full-te-cl":
        return new Response("hello", { headers: { "transfer-encoding": "chunked", "content-length": "5" } });
      case "/full-duplicate-cl":
        return new Response("hello" + SMUGGLED, { headers: withHeaders([["content-length", "5"], ["content-length", "5"]]) });
      case "/hop-by-hop":
        return new Response("hello", {
          headers: {
            connection: "close",
            "keep-alive": "timeout=1",
            "proxy-connection": "close",
            te: "trailers",
            trailer: "x-checksum",
            upgrade: "websocket",
            "x-kept": "yes",
          },
        });
      // Streamed bodies.
      case "/stream-exact":
        return new Response(stream(["hel", "lo"]), { headers: { "content-length": "5" } });
      case "/stream-short":
        return new Response(stream(["hello", SMUGGLED]), { headers: { "content-length": "5" } });
      case "/stream-short-one-chunk":
        return new Response(stream(["hello" + SMUGGLED]), { headers: { "content-length": "5" } });
      case "/stream-long":
        return new Response(stream(["hello"]), { headers: { "content-length": "200" } });
      case "/stream-te":
        // A body pre-framed as chunked, as if the worker could frame it.
        return new Response(stream(["5\r\nhello\r\n0\r\n\r\n", SMUGGLED]), {
          headers: { "transfer-encoding": "chunked" },
        });
      case "/stream-te-cl":
        return new Response(stream(["hello"]), { headers: { "transfer-encoding": "chunked", "content-length": "5" } });
      case "/stream-duplicate-cl":
        return new Response(stream(["hello"]), { headers: withHeaders([["content-length", "2"], ["content-length", "5"]]) });
      case "/stream-list-cl":
        return new Response(stream(["hello"]), { headers: { "content-length": "5, 5" } });
      case "/stream-plus-cl":
        return new Response(stream(["hello"]), { headers: { "content-length": "+5" } });
      // Statuses without a body.
      case "/no-content":
        return new Response(null, { status: 204, headers: { "content-length": "5" } });
      case "/not-modified":
        return new Response(null, { status: 304, headers: { "content-length": "5" } });
      // A request that runs longer than the idle timeout used in the tests.
      case "/slow":
        await new Promise((resolve) => setTimeout(resolve, 1500));
        return new Response("slow done");
      // Log forging.
      case "/forge-log":
        console.log("hello\n2026-01-01T00:00:00Z  INFO brink: fake console line");
        console.error("\r2026-01-01T00:00:00Z  INFO brink: fake after a carriage return");
        console.warn("\u001b[2K\u001b[1Gerased\u2028 2026-01-01T00:00:00Z  INFO brink: fake after a line separator");
        return new Response("logged");
      case "/forge-exception":
        throw new Error("boom\n2026-01-01T00:00:00Z  INFO brink: fake exception line");
      default:
        return new Response("not found", { status: 404 });
    }
  },
};
