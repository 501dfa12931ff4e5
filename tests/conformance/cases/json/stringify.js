// JSON.stringify: what it writes and when it calls getters, toJSON and a
// replacer. APIs answer with it on every request, so its fast path is
// checked here against workerd case by case.
import { attempt } from "../../harness.js";

class Point {
  #secret = 1;
  constructor(x, y) {
    this.x = x;
    this.y = y;
  }
}

export const cases = {
  "plain-object-key-order": () => JSON.stringify({ b: 1, a: 2, 10: "ten", 2: "two", "-1": "m", c: { z: 1, y: 2 } }),
  "index-like-keys-first": () => JSON.stringify({ x: 1, 4294967294: "max index", 4294967295: "not an index", 0: "zero" }),
  "numbers": () => JSON.stringify([0, -0, 1.5, -1e21, 1e21, 5e-7, 123456789012345680000, NaN, Infinity, -Infinity, 2 ** 31, -(2 ** 31), 0.1 + 0.2]),
  "primitives-and-holes": () => JSON.stringify([true, false, null, undefined, () => 1, Symbol("s"), , "end"]),
  "top-level-values": () => [JSON.stringify(undefined), JSON.stringify(() => 1), JSON.stringify(Symbol()), JSON.stringify("s"), JSON.stringify(7), JSON.stringify(null)],
  "skipped-properties": () => JSON.stringify({ u: undefined, f() {}, s: Symbol("x"), [Symbol("k")]: 1, kept: 1 }),
  "escapes": () => JSON.stringify("quote \" backslash \\ slash / \b\f\n\r\t \u0000 \u0001 \u001f \u007f é ü ÿ"),
  "escapes-in-keys": () => JSON.stringify({ "a\"b": 1, "c\\d": 2, "e\nf": 3, "\u0002": 4, "ü": 5 }),
  "wide-strings": () => JSON.stringify({ "日本": "語 😀 \u2028 \u2029", emoji: "😀😀", mixed: "a\u0100b\"" }),
  "lone-surrogates": () => JSON.stringify(["\ud800", "\udc00", "a\ud83dz", "\ude00\ud83d", "ok \ud83d\ude00", "\ud83d\ud83d\ude00"]),
  "boxed-primitives": () => JSON.stringify([new String("s"), new Number(3), new Boolean(false), Object(1n) instanceof BigInt]),
  "nested-arrays-and-objects": () => JSON.stringify({ a: [1, [2, [3, { b: [] }]], {}], c: { d: { e: { f: null } } } }),
  "class-instance-with-private-field": () => JSON.stringify(new Point(1, 2)),
  "non-enumerable-and-inherited": () => {
    const proto = { inherited: 1 };
    const o = Object.create(proto);
    Object.defineProperty(o, "hidden", { value: 1, enumerable: false });
    o.shown = 2;
    return JSON.stringify(o);
  },
  "getters-called-in-order": () => {
    const calls = [];
    const o = {
      get a() {
        calls.push("a");
        return 1;
      },
      b: 2,
      get c() {
        calls.push("c");
        return undefined;
      },
    };
    return [JSON.stringify(o), calls.join(",")];
  },
  "getter-deletes-a-later-key": () => {
    const o = {
      get a() {
        delete this.b;
        this.late = 1;
        return "a";
      },
      b: "b",
      c: "c",
    };
    return JSON.stringify(o);
  },
  "to-json-receives-its-key": () => {
    const seen = [];
    const v = { toJSON(k) { seen.push(JSON.stringify(k)); return k; } };
    const out = JSON.stringify({ name: v, list: [v, v], 7: v });
    return [out, seen.join(" ")];
  },
  "to-json-on-prototype": () => {
    Object.prototype.toJSON = function () { return "from prototype"; };
    try {
      return JSON.stringify({ a: 1 });
    } finally {
      delete Object.prototype.toJSON;
    }
  },
  "date-to-json": () => JSON.stringify({ when: new Date(0), bad: new Date(NaN) }),
  "to-json-mutates-the-array": () => {
    const a = [1, { toJSON() { a.length = 2; return "cut"; } }, 3, 4];
    return JSON.stringify(a);
  },
  "to-json-grows-the-array": () => {
    const a = [{ toJSON() { a.push("more"); return "first"; } }, 2];
    return JSON.stringify(a);
  },
  "replacer-function": () => {
    const calls = [];
    const out = JSON.stringify({ a: 1, b: [1, 2], c: { d: "x" } }, function (k, v) {
      calls.push(`${JSON.stringify(k)}:${typeof v}:${this === undefined ? "no holder" : Array.isArray(this) ? "array" : "object"}`);
      return typeof v === "number" ? v * 10 : v;
    });
    return [out, calls.join(" ")];
  },
  "replacer-array": () => JSON.stringify({ b: 1, a: 2, 1: "one", c: { a: 3, z: 4 } }, ["a", 1, new String("c"), "a", {}, "missing"]),
  "replacer-top-level-holder": () => {
    let holder;
    JSON.stringify(5, function (k, v) {
      if (k === "") holder = Object.keys(this).length + ":" + JSON.stringify(Object.getOwnPropertyNames(this));
      return v;
    });
    return holder;
  },
  "space-argument": () => [
    JSON.stringify({ a: [1, { b: 2 }], c: [] , d: {} }, null, 2),
    JSON.stringify([1, 2], null, "--"),
    JSON.stringify({ a: 1 }, null, "12345678901234"),
    JSON.stringify({ a: 1 }, null, 20),
    JSON.stringify({ a: 1 }, null, new Number(1)),
    JSON.stringify({ a: 1 }, null, ""),
  ],
  "circular-object": () => {
    const o = { a: 1 };
    o.self = o;
    return attempt(() => JSON.stringify(o));
  },
  "circular-through-array": () => {
    const a = [];
    a.push({ back: a });
    return attempt(() => JSON.stringify(a));
  },
  "shared-not-circular": () => {
    const shared = { s: 1 };
    return JSON.stringify({ a: shared, b: shared, c: [shared, shared] });
  },
  "bigint-throws": () => [attempt(() => JSON.stringify({ n: 1n })), attempt(() => JSON.stringify(Object(2n)))],
  "bigint-with-to-json": () => {
    BigInt.prototype.toJSON = function () { return this.toString() + "n"; };
    try {
      return JSON.stringify({ n: 12n });
    } finally {
      delete BigInt.prototype.toJSON;
    }
  },
  "proxy-object": () => {
    const p = new Proxy({ a: 1, b: 2 }, {
      ownKeys: () => ["b", "a", "ghost"],
      get: (t, k) => (k === "ghost" ? "boo" : t[k]),
      getOwnPropertyDescriptor: (t, k) => ({ value: t[k], enumerable: k !== "a", configurable: true }),
    });
    return JSON.stringify(p);
  },
  "proxy-array": () => JSON.stringify(new Proxy([1, 2, 3], {})),
  "array-subclass-and-extra-props": () => {
    class List extends Array {}
    const l = List.from([1, 2]);
    l.extra = "not written";
    return JSON.stringify(l);
  },
  "sparse-and-slow-arrays": () => {
    const a = [1, 2];
    a[5] = 6;
    Object.defineProperty(a, 1, { get: () => "getter" });
    return JSON.stringify(a);
  },
  "typed-arrays-maps-sets": () => JSON.stringify({ u8: new Uint8Array([1, 2]), map: new Map([[1, 2]]), set: new Set([1]), re: /x/g, err: new Error("e") }),
  "arguments-object": () => (function () { return JSON.stringify(arguments); })(1, "two"),
  "raw-json": () => (typeof JSON.rawJSON === "function" ? JSON.stringify({ big: JSON.rawJSON("12345678901234567890"), list: [JSON.rawJSON("1e400")] }) : "no JSON.rawJSON"),
  "deep-nesting": () => {
    let v = "leaf";
    for (let i = 0; i < 1000; i++) v = { v: [v] };
    return JSON.stringify(v).length;
  },
  "rope-strings": () => {
    let s = "";
    for (let i = 0; i < 50; i++) s += "ab\"" + i;
    return JSON.stringify({ [s.slice(0, 20) + "k"]: s }).length;
  },
  "to-json-throws": () => attempt(() => JSON.stringify({ a: { toJSON() { throw new RangeError("no"); } } })),
  "getter-throws": () => attempt(() => JSON.stringify({ get a() { throw new SyntaxError("no"); } })),
};
