// The Cache API's surface and what `put`, `match` and `delete` refuse
// before they reach the cache. Nothing that reaches the cache is compared:
// workerd keeps no entries itself (it sends every such operation to a cache
// service configured behind it, and without one rejects it with "No Cache
// was configured"), so a miss, a put and a delete that get past the checks
// are not comparable here. Brink's own tests check what stored entries
// answer against the HTTP rules (tests/tests/cache.rs).
import { attempt } from "../../harness.js";

const URL_A = "https://cache.conformance.test/a";

// The error a call rejects with, name and message: workers branch on both.
async function failure(fn) {
  try {
    const value = await fn();
    return { resolved: value === undefined ? "undefined" : String(value) };
  } catch (e) {
    return { name: e?.name, message: e?.message };
  }
}

export const cases = {
  "shape": async () => {
    const opened = await caches.open("named");
    return {
      cachesType: typeof caches,
      defaultIsCache: caches.default instanceof Cache,
      openedIsCache: opened instanceof Cache,
      defaultIsStable: caches.default === caches.default,
      methods: ["match", "put", "delete"].map((m) => typeof caches.default[m]),
      matchAll: typeof caches.default.matchAll,
      keys: typeof caches.default.keys,
      add: typeof caches.default.add,
    };
  },
  "put-non-get": () =>
    failure(() => caches.default.put(new Request(URL_A, { method: "POST", body: "x" }), new Response("x"))),
  "put-head": () => failure(() => caches.default.put(new Request(URL_A, { method: "HEAD" }), new Response("x"))),
  "put-206": () => failure(() => caches.default.put(URL_A, new Response("x", { status: 206 }))),
  "put-vary-star": () =>
    failure(() => caches.default.put(URL_A, new Response("x", { headers: { vary: "*" } }))),
  "put-vary-list-with-star": () =>
    failure(() => caches.default.put(URL_A, new Response("x", { headers: { vary: "Accept, *" } }))),
  "put-error-response": () => failure(() => caches.default.put(URL_A, Response.error())),
  "put-not-a-response": () => failure(() => caches.default.put(URL_A, "x")),
  "put-relative-url": () => failure(() => caches.default.put("/relative", new Response("x"))),
  "put-used-body": async () => {
    const response = new Response("x");
    await response.text();
    return failure(() => caches.default.put(URL_A, response));
  },
  "match-relative-url": () => failure(() => caches.default.match("/relative")),
  "match-non-get": () => failure(() => caches.default.match(new Request(URL_A, { method: "POST", body: "x" }))),
  "delete-non-get": () => failure(() => caches.default.delete(new Request(URL_A, { method: "POST", body: "x" }))),
  "open-name-types": async () => [
    await attempt(async () => typeof (await caches.open(""))),
    await attempt(async () => typeof (await caches.open(42))),
  ],
  "unsupported-methods": async () => ({
    matchAll: await failure(() => caches.default.matchAll()),
    keys: await failure(() => caches.default.keys()),
    add: await failure(() => caches.default.add(URL_A)),
    addAll: await failure(() => caches.default.addAll([URL_A])),
  }),
  "open-long-name": async () => ({
    n100: await failure(async () => typeof (await caches.open("x".repeat(100)))),
    n255: await failure(async () => typeof (await caches.open("x".repeat(255)))),
    n256: await failure(async () => typeof (await caches.open("x".repeat(256)))),
    n512: await failure(async () => typeof (await caches.open("x".repeat(512)))),
    n1023: await failure(async () => typeof (await caches.open("x".repeat(1023)))),
    n1024: await failure(async () => typeof (await caches.open("x".repeat(1024)))),
  }),
  "key-kinds": async () => ({
    number: await failure(() => caches.default.match(42)),
    object: await failure(() => caches.default.match({})),
    empty: await failure(() => caches.default.match("")),
    spaces: await failure(() => caches.default.put("not a url", new Response("x"))),
  }),
};
