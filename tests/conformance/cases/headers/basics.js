import { json } from "../../harness.js";

export const cases = {
  "lowercase-names": () => [...new Headers({ "X-Foo": "1", "Content-Type": "text/plain" })],
  "trim-values": () => new Headers({ a: " \t v \t " }).get("a"),
  "invalid-name": () => new Headers({ "a b": "1" }),
  "response-headers": {
    requests: [{ path: "/x" }, { method: "POST", path: "/y", body: "hello", headers: { "content-type": "text/plain" } }],
    async fetch(request) {
      return json({ url: request.url, method: request.method, body: await request.text() }, { headers: { "X-Case": "Yes" } });
    },
  },
};
