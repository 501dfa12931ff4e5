// Headers, Request and Response header inits: the WebIDL conversions a
// native conversion of a plain object or an array must keep.
import { attempt } from "../../harness.js";

export const cases = {
  "init-map-iterable": () => attempt(() => [...new Headers(new Map([["a", "1"], ["b", "2"]]))]),
  "init-generator": () =>
    attempt(() => [
      ...new Headers(
        (function* () {
          yield ["g", "1"];
          yield new Set(["h", "2"]);
        })(),
      ),
    ]),
  "init-invalid-types": () => [null, 42, "a=b", true].map((init) => attempt(() => [...new Headers(init)])),
  "init-undefined": () => [...new Headers(undefined)],
  "init-pair-not-iterable": () => attempt(() => new Headers([{ 0: "a", 1: "b", length: 2 }])),
  "init-values-stringified": () =>
    attempt(() => [...new Headers({ a: { toString: () => "obj" }, b: [1, 2], c: undefined, d: 1.5 })]),
  "init-record-only-own-enumerable": () => {
    const proto = { inherited: "no" };
    const init = Object.create(proto);
    init.own = "yes";
    Object.defineProperty(init, "hidden", { value: "no", enumerable: false });
    return [...new Headers(init)];
  },
  "init-record-getter-order": () => {
    const log = [];
    const init = {};
    for (const k of ["b", "a", "c"]) {
      Object.defineProperty(init, k, {
        enumerable: true,
        get() {
          log.push(k);
          return k.toUpperCase();
        },
      });
    }
    return [[...new Headers(init)], log];
  },
  "init-record-symbol-key-ignored": () => attempt(() => [...new Headers({ [Symbol("s")]: "v", a: "1" })]),
  "init-record-throwing-getter": () =>
    attempt(() =>
      new Headers({
        get a() {
          throw new RangeError("getter");
        },
      }),
    ),
  "init-record-proxy": () => {
    const log = [];
    const p = new Proxy(
      { x: "1", y: "2" },
      {
        ownKeys(t) {
          log.push("ownKeys");
          return Reflect.ownKeys(t);
        },
        getOwnPropertyDescriptor(t, k) {
          log.push(`gopd ${String(k)}`);
          return Reflect.getOwnPropertyDescriptor(t, k);
        },
        get(t, k) {
          log.push(`get ${String(k)}`);
          return Reflect.get(t, k);
        },
      },
    );
    return [[...new Headers(p)], log];
  },
  "init-array-patched-iterator": () => {
    const original = Array.prototype[Symbol.iterator];
    let used = false;
    Array.prototype[Symbol.iterator] = function () {
      used = true;
      return original.call(this);
    };
    try {
      return [[...new Headers([["a", "1"]])].length, used];
    } finally {
      Array.prototype[Symbol.iterator] = original;
    }
  },
  "init-duplicate-record-keys-case": () => [...new Headers({ "X-A": "1", "x-a": "2" })],
  "response-init-headers-types": () => [
    attempt(() => [...new Response(null, { headers: [["x", "1"]] }).headers]),
    attempt(() => [...new Response(null, { headers: { x: "2" } }).headers]),
    attempt(() => new Response(null, { headers: "x: 3" })),
  ],
  "request-init-headers-record": () => [...new Request("https://e.com/", { headers: { "X-One": " 1 ", two: "2" } }).headers],
  "response-init-status-coercion": () => ["201", 202.0, { valueOf: () => 203 }].map((status) => attempt(() => new Response(null, { status }).status)),
  "response-init-statustext-coercion": () => attempt(() => new Response(null, { statusText: 42 }).statusText),
  "response-init-not-object": () => attempt(() => new Response("x", "not a dict")),
  "headers-append-after-response": () => {
    const h = new Headers({ a: "1" });
    const r = new Response("x", { headers: h });
    h.set("a", "changed");
    return [r.headers.get("a"), r.headers === h];
  },
};
