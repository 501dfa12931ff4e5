// Headers: Set-Cookie is never combined, and getSetCookie() lists each.
import { attempt } from "../../harness.js";

export const cases = {
  "get-set-cookie": () => {
    const h = new Headers();
    h.append("Set-Cookie", "a=1");
    h.append("set-cookie", "b=2, c=3");
    return [h.getSetCookie(), h.get("set-cookie")];
  },
  "set-cookie-iterates-separately": () => {
    const h = new Headers([["set-cookie", "a=1"], ["set-cookie", "b=2"], ["x", "y"]]);
    return [...h];
  },
  "get-set-cookie-empty": () => new Headers({ a: "1" }).getSetCookie(),
  "set-cookie-on-response": {
    async fetch() {
      const h = new Headers();
      h.append("set-cookie", "a=1; Path=/");
      h.append("set-cookie", "b=2; HttpOnly");
      return new Response("ok", { headers: h });
    },
  },
  "set-cookie-set-replaces-all": () => {
    const h = new Headers([["set-cookie", "a=1"], ["set-cookie", "b=2"]]);
    h.set("set-cookie", "c=3");
    return h.getSetCookie();
  },
  "get-all-missing": () => attempt(() => typeof new Headers().getAll),
};
