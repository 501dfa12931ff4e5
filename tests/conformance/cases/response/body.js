// Response: body reuse, clone, tee and reading the same body twice.
import { attempt } from "../../harness.js";

export const cases = {
  "text-twice": async () => {
    const r = new Response("once");
    return [await r.text(), r.bodyUsed, await attempt(() => r.text())];
  },
  "clone": async () => {
    const r = new Response("cl", { status: 201, headers: { a: "1" } });
    const c = r.clone();
    return [await r.text(), await c.text(), c.status, [...c.headers]];
  },
  "clone-after-use": async () => {
    const r = new Response("x");
    await r.text();
    return attempt(() => r.clone());
  },
  "clone-locked": () => {
    const r = new Response("x");
    r.body.getReader();
    return attempt(() => r.clone());
  },
  "body-locked-text": async () => {
    const r = new Response("x");
    r.body.getReader();
    return attempt(() => r.text());
  },
  "body-used-after-getreader": () => {
    const r = new Response("x");
    r.body.getReader();
    return [r.bodyUsed];
  },
  "body-used-after-read": async () => {
    const r = new Response("x");
    const reader = r.body.getReader();
    await reader.read();
    return [r.bodyUsed];
  },
  "empty-body-stream": async () => {
    const r = new Response("");
    return [r.body === null, await r.text()];
  },
  "null-body-reads": async () => {
    const r = new Response(null);
    return [r.body, await r.text(), await r.arrayBuffer(), r.bodyUsed];
  },
  "json-method-bad": async () => attempt(() => new Response("not json").json()),
  "formdata-urlencoded": async () => {
    const r = new Response("a=1&b=%20x", { headers: { "content-type": "application/x-www-form-urlencoded" } });
    return [...(await r.formData())];
  },
  "formdata-wrong-type": async () => attempt(() => new Response("a=1", { headers: { "content-type": "text/plain" } }).formData()),
  "blob-method": async () => {
    const b = await new Response("abc", { headers: { "content-type": "text/x-abc" } }).blob();
    return [b.size, b.type, await b.text()];
  },
  "stream-body-reuse-response": async () => {
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode("s"));
        c.close();
      },
    });
    const a = new Response(stream);
    return [await a.text(), await attempt(() => new Response(stream))];
  },
  "clone-stream-body": async () => {
    const r = new Response(
      new ReadableStream({
        start(c) {
          c.enqueue(new TextEncoder().encode("ab"));
          c.enqueue(new TextEncoder().encode("cd"));
          c.close();
        },
      }),
    );
    const c = r.clone();
    return [await c.text(), await r.text()];
  },
  "string-chunk-in-body-stream": {
    async fetch() {
      const body = new ReadableStream({
        start(c) {
          c.enqueue("not bytes");
          c.close();
        },
      });
      try {
        return new Response(await new Response(body).text());
      } catch (e) {
        return new Response(`threw ${e.name}`);
      }
    },
  },
};
