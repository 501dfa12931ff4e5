// URLSearchParams: parsing, serialisation, sorting and mutation.
import { attempt } from "../../harness.js";

export const cases = {
  "parse-and-get": () => {
    const p = new URLSearchParams("?a=1&b=2&a=3&c&=e&d=");
    return [p.get("a"), p.getAll("a"), p.get("c"), p.get(""), p.get("d"), p.get("zz"), p.size];
  },
  "plus-and-percent": () => [...new URLSearchParams("a=b+c&d=%2B%20&e=%zz&f=%E9")],
  "serialise": () => new URLSearchParams({ a: "b c", "d&e": "=", é: "~*'()!" }).toString(),
  "init-from-pairs": () => new URLSearchParams([["a", "1"], ["a", "2"]]).toString(),
  "init-bad-pair": () => attempt(() => new URLSearchParams([["a"]])),
  "init-from-record": () => new URLSearchParams({ b: "2", a: "1" }).toString(),
  "sort-stable": () => {
    const p = new URLSearchParams("c=1&a=2&b=3&a=1");
    p.sort();
    return p.toString();
  },
  "delete-with-value": () => {
    const p = new URLSearchParams("a=1&a=2&b=1");
    p.delete("a", "2");
    return p.toString();
  },
  "has-with-value": () => {
    const p = new URLSearchParams("a=1");
    return [p.has("a"), p.has("a", "1"), p.has("a", "2")];
  },
  "set-collapses": () => {
    const p = new URLSearchParams("a=1&b=2&a=3");
    p.set("a", "x");
    return p.toString();
  },
  "iteration": () => {
    const p = new URLSearchParams("x=1&y=2");
    const f = [];
    p.forEach((v, k) => f.push(k + v));
    return [[...p.keys()], [...p.values()], [...p.entries()], f];
  },
  "unicode-roundtrip": () => {
    const p = new URLSearchParams();
    p.append("k", "😀 ü \u00a0");
    return [p.toString(), new URLSearchParams(p.toString()).get("k")];
  },
  "lone-surrogate": () => {
    const p = new URLSearchParams();
    p.append("k", "\ud800");
    return p.toString();
  },
  "leading-question-mark": () => [new URLSearchParams("??a=1").toString(), new URLSearchParams("?").toString()],
};
