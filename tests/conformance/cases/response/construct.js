// Response: constructor, statuses, static constructors and body types.
import { attempt, describeResponse } from "../../harness.js";

export const cases = {
  "defaults": () => describeResponse(new Response()),
  "string-body": () => describeResponse(new Response("hi")),
  "status-text": () => describeResponse(new Response("x", { status: 201, statusText: "Made It" })),
  "status-too-low": () => attempt(() => new Response("x", { status: 199 })),
  "status-too-high": () => attempt(() => new Response("x", { status: 600 })),
  "status-non-integer": () => attempt(() => new Response(null, { status: 200.5 }).status),
  "status-text-invalid": () => attempt(() => new Response("x", { statusText: "a\nb" })),
  "null-body-204-with-body": () => attempt(() => new Response("x", { status: 204 })),
  "null-body-205-with-body": () => attempt(() => new Response("x", { status: 205 })),
  "null-body-304-with-body": () => attempt(() => new Response("x", { status: 304 })),
  "null-body-204-null": () => describeResponse(new Response(null, { status: 204 })),
  "null-body-empty-string": () => attempt(() => new Response("", { status: 204 }).status),
  "error": () => {
    const r = Response.error();
    return { type: r.type, status: r.status, statusText: r.statusText, ok: r.ok, body: r.body, headers: [...r.headers] };
  },
  "redirect": () => describeResponse(Response.redirect("https://example.com/next?x=1")),
  "redirect-statuses": () =>
    [301, 302, 303, 307, 308, 200, 304].map((s) => attempt(() => Response.redirect("https://e.com/", s).status)),
  "redirect-relative": () => attempt(() => Response.redirect("/relative").headers.get("location")),
  "redirect-normalises-url": () => Response.redirect("HTTPS://E.com/a b").headers.get("location"),
  "json": () => describeResponse(Response.json({ a: [1, "two", null] })),
  "json-init": () => describeResponse(Response.json([1], { status: 202, headers: { "content-type": "application/vnd+json", x: "1" } })),
  "json-unserialisable": () => attempt(() => Response.json(undefined)),
  "json-bigint": () => attempt(() => Response.json({ n: 1n })),
  "arraybuffer-body": async () => new Uint8Array(await new Response(new Uint8Array([1, 2, 3]).buffer).arrayBuffer()),
  "typed-array-view-body": async () => new Response(new Uint8Array([0, 1, 2, 3, 4]).subarray(1, 3)).arrayBuffer(),
  "urlsearchparams-body": () => describeResponse(new Response(new URLSearchParams({ a: "1 2", b: "&" }))),
  "blob-body-type": () => describeResponse(new Response(new Blob(["blob"], { type: "text/x-blob" }))),
  "blob-body-no-type": () => describeResponse(new Response(new Blob(["blob"]))),
  "bytes-method": async () => attempt(async () => await new Response("ab").bytes()),
  "ok-range": () => [199, 200, 299, 300].map((s) => (s < 200 ? null : new Response(null, { status: s }).ok)),
  "headers-init-types": () => [
    [...new Response("", { headers: [["a", "1"]] }).headers],
    [...new Response("", { headers: new Headers({ b: "2" }) }).headers],
  ],
  "type-default": () => [new Response().type, new Response().url, new Response().redirected],
  "body-object-stringified": async () => new Response({ toString: () => "custom" }).text(),
  "body-number-stringified": async () => new Response(123).text(),
};
