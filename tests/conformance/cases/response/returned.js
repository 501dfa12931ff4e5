// Response: what reaches the client for the responses a worker returns.
export const cases = {
  "status-and-text": { fetch: () => new Response("made", { status: 201, statusText: "Created Thing" }) },
  "custom-status-599": { fetch: () => new Response("x", { status: 599 }) },
  "no-content": { fetch: () => new Response(null, { status: 204, headers: { "x-a": "1" } }) },
  "not-modified": { fetch: () => new Response(null, { status: 304, headers: { etag: '"v1"' } }) },
  "redirect": { fetch: () => Response.redirect("https://example.com/there", 307) },
  "json": { fetch: () => Response.json({ ok: true }) },
  "error-response": {
    fetch: () => Response.error(),
  },
  "stream-body": {
    fetch() {
      const enc = new TextEncoder();
      let i = 0;
      return new Response(
        new ReadableStream({
          pull(c) {
            if (i === 3) return c.close();
            c.enqueue(enc.encode(`chunk${i++};`));
          },
        }),
        { headers: { "content-type": "text/plain" } },
      );
    },
  },
  // The error comes a while after the first chunk, so that the head and
  // the chunk are on the wire whatever the machine's load.
  "stream-error-midway": {
    fetch() {
      return new Response(
        new ReadableStream({
          start(c) {
            c.enqueue(new TextEncoder().encode("first;"));
            setTimeout(() => c.error(new Error("boom")), 100);
          },
        }),
      );
    },
  },
  "empty-string": { fetch: () => new Response("") },
  "binary": { fetch: () => new Response(new Uint8Array([0, 255, 128, 10])) },
  "handler-throws": {
    fetch() {
      throw new Error("thrown by the handler");
    },
  },
  "handler-returns-string": { fetch: () => "not a response" },
  "head-with-body": {
    requests: [{ method: "HEAD" }],
    fetch: () => new Response("ignored body", { headers: { "x-head": "1" } }),
  },
  "head-with-stream-body": {
    requests: [{ method: "HEAD" }],
    fetch: () =>
      new Response(
        new ReadableStream({
          start(c) {
            c.enqueue(new TextEncoder().encode("never sent"));
            c.close();
          },
        }),
      ),
  },
  "head-with-declared-length": {
    requests: [{ method: "HEAD" }],
    fetch: () => new Response(null, { headers: { "content-length": "1234" } }),
  },
  "latin1-header-value": { fetch: () => new Response("x", { headers: { "x-latin1": "caf\u00e9" } }) },
  "many-headers": {
    fetch: () => new Response("x", { headers: Array.from({ length: 100 }, (_, i) => [`x-h${String(i).padStart(3, "0")}`, String(i)]) }),
  },
  "content-length-kept": {
    fetch: () => new Response("12345", { headers: { "content-length": "5" } }),
  },
  "multiple-same-headers": {
    fetch() {
      const h = new Headers();
      h.append("x-multi", "a");
      h.append("x-multi", "b");
      return new Response("m", { headers: h });
    },
  },
  "status-text-empty": { fetch: () => new Response("x", { status: 200, statusText: "" }) },
};
