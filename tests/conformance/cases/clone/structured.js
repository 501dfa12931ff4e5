// structuredClone: every type workers can clone, and the ones they cannot.
import { attempt } from "../../harness.js";

const sc = (v) => attempt(() => structuredClone(v));

export const cases = {
  "primitives": () => sc([1, -0, NaN, Infinity, "s", true, null, undefined, 10n]),
  "plain-object-and-array": () => sc({ a: [1, { b: 2 }], c: "d" }),
  "cycles": () =>
    attempt(() => {
      const o = { name: "o" };
      o.self = o;
      const c = structuredClone(o);
      return [c !== o, c.self === c];
    }),
  "shared-references": () =>
    attempt(() => {
      const x = { v: 1 };
      const c = structuredClone([x, x]);
      return c[0] === c[1];
    }),
  "date": () => sc(new Date(Date.UTC(2020, 1, 2, 3, 4, 5))),
  "regexp": () => attempt(() => String(structuredClone(/ab+c/gi))),
  "map-and-set": () => sc(new Map([["k", new Set([1, 2])]])),
  "arraybuffer": () => sc(new Uint8Array([1, 2, 3]).buffer),
  "typed-arrays": () => sc([new Int16Array([-1, 2]), new Float64Array([0.5]), new BigInt64Array([5n])]),
  "typed-array-view-offset": () =>
    attempt(() => {
      const c = structuredClone(new Uint8Array([1, 2, 3, 4]).subarray(1, 3));
      return [c.byteOffset, c.length, c.buffer.byteLength];
    }),
  "dataview": () =>
    attempt(() => {
      const c = structuredClone(new DataView(new Uint8Array([1, 2, 3]).buffer, 1));
      return [c.constructor.name, c.byteOffset, c.byteLength, c.getUint8(0)];
    }),
  "sparse-array": () =>
    attempt(() => {
      const a = [1, , 3];
      a[10] = 11;
      const c = structuredClone(a);
      return [c.length, 1 in c, c[10], Object.keys(c)];
    }),
  "array-extra-props": () =>
    attempt(() => {
      const a = [1];
      a.extra = "x";
      return structuredClone(a).extra;
    }),
  "error": () =>
    attempt(() => {
      const c = structuredClone(new Error("msg"));
      return [c instanceof Error, c.name, c.message];
    }),
  "error-subtypes": () =>
    attempt(() =>
      [new TypeError("t"), new RangeError("r"), new SyntaxError("s"), new ReferenceError("re"), new EvalError("e"), new URIError("u")].map(
        (e) => {
          const c = structuredClone(e);
          return [c.constructor.name, c.name, c.message];
        },
      ),
    ),
  "error-cause": () =>
    attempt(() => {
      const c = structuredClone(new Error("m", { cause: "why" }));
      return [c.message, c.cause];
    }),
  "error-custom-name": () =>
    attempt(() => {
      const e = new Error("m");
      e.name = "CustomError";
      const c = structuredClone(e);
      return [c.constructor.name, c.name];
    }),
  "dom-exception": () =>
    attempt(() => {
      const c = structuredClone(new DOMException("gone", "AbortError"));
      return [c instanceof DOMException, c.name, c.message, c.code];
    }),
  "function-fails": () => sc({ f() {} }),
  "symbol-fails": () => sc(Symbol("s")),
  "weakmap-fails": () => sc(new WeakMap()),
  "class-instance-loses-prototype": () =>
    attempt(() => {
      class P {
        constructor() {
          this.x = 1;
        }
      }
      const c = structuredClone(new P());
      return [c.constructor.name, c.x];
    }),
  "getters-are-read": () =>
    attempt(() =>
      structuredClone({
        get g() {
          return "computed";
        },
      }),
    ),
  "boxed-primitives": () =>
    attempt(() => {
      const c = structuredClone([new Number(3), new String("s"), new Boolean(false)]);
      return c.map((x) => [typeof x, x.valueOf()]);
    }),
  "blob": async () =>
    attempt(async () => {
      const c = structuredClone(new Blob(["bl"], { type: "a/b" }));
      return [c.constructor.name, c.type, await c.text()];
    }),
  "transfer": () =>
    attempt(() => {
      const buf = new Uint8Array([1, 2]).buffer;
      const c = structuredClone(buf, { transfer: [buf] });
      return [buf.byteLength, c.byteLength];
    }),
  "no-argument": () => attempt(() => structuredClone()),
};
