// Headers: how names and values are normalised, sorted and validated.
import { attempt } from "../../harness.js";

export const cases = {
  "names-lowercased": () => [...new Headers({ "X-Foo": "1", "Content-Type": "text/plain" })],
  "values-trimmed": () => new Headers({ a: " \t v \t " }).get("a"),
  "inner-whitespace-kept": () => new Headers({ a: "x  \t y" }).get("a"),
  "iteration-sorted": () => [...new Headers([["b", "2"], ["a", "1"], ["C", "3"]])].map(([k]) => k),
  "append-combines": () => {
    const h = new Headers();
    h.append("Accept", "a");
    h.append("accept", "b");
    return [h.get("accept"), [...h]];
  },
  "set-replaces": () => {
    const h = new Headers([["x", "1"], ["x", "2"]]);
    h.set("X", "3");
    return [...h];
  },
  "delete-case-insensitive": () => {
    const h = new Headers({ "X-A": "1", "x-b": "2" });
    h.delete("x-a");
    h.delete("X-B");
    return [...h];
  },
  "has-and-get-missing": () => {
    const h = new Headers({ a: "1" });
    return [h.has("A"), h.has("b"), h.get("b")];
  },
  "invalid-name": () => attempt(() => new Headers({ "a b": "1" })),
  "invalid-name-empty": () => attempt(() => new Headers({ "": "1" })),
  "invalid-value-newline": () => attempt(() => new Headers({ a: "x\ny" })),
  "invalid-value-nul": () => attempt(() => new Headers({ a: "x\0y" })),
  "non-latin1-value": () => attempt(() => new Headers({ a: "\u0100" })),
  "latin1-value-kept": () => new Headers({ a: "caf\u00e9" }).get("a"),
  "init-from-array-bad-pair": () => attempt(() => new Headers([["a", "1", "2"]])),
  "init-from-headers": () => [...new Headers(new Headers({ a: "1", b: "2" }))],
  "init-from-record-order": () => [...new Headers({ z: "1", y: "2", x: "3" })],
  "numeric-value-stringified": () => new Headers({ a: 42, b: true, c: null }).get("a") + "," + new Headers({ b: true }).get("b") + "," + new Headers({ c: null }).get("c"),
  "foreach-order": () => {
    const out = [];
    new Headers({ b: "2", a: "1" }).forEach((v, k) => out.push(`${k}=${v}`));
    return out;
  },
  "keys-values-entries": () => {
    const h = new Headers({ b: "2", a: "1" });
    return [[...h.keys()], [...h.values()], [...h.entries()]];
  },
  "mutation-during-iteration": () => {
    const h = new Headers({ a: "1", b: "2", c: "3" });
    const seen = [];
    for (const [k] of h) {
      seen.push(k);
      if (k === "a") h.delete("b");
    }
    return seen;
  },
};
