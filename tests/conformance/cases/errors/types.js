// Error types and messages that workers branch on.
import { attempt } from "../../harness.js";

export const cases = {
  "dom-exception-names-codes": () =>
    ["AbortError", "TimeoutError", "NotSupportedError", "InvalidStateError", "DataError", "OperationError", "SyntaxError", "Custom"].map(
      (n) => {
        const e = new DOMException("m", n);
        return [e.name, e.code, e.message];
      },
    ),
  "dom-exception-defaults": () => {
    const e = new DOMException();
    return [e.name, e.message, e.code, e instanceof Error, Object.prototype.toString.call(e)];
  },
  "dom-exception-constants": () => [DOMException.ABORT_ERR, DOMException.TIMEOUT_ERR, DOMException.DATA_CLONE_ERR],
  "json-parse-error": () => attempt(() => JSON.parse("{")),
  "abort-error-from-signal": async () => {
    const ac = new AbortController();
    ac.abort();
    return [ac.signal.reason.name, ac.signal.reason.code, ac.signal.reason.message];
  },
  "timeout-reason-message": async () => {
    const s = AbortSignal.timeout(1);
    await new Promise((r) => s.addEventListener("abort", r));
    return [s.reason.name, s.reason.code, s.reason.message];
  },
  "headers-type-error": () => {
    try {
      new Headers([["bad name", "v"]]);
    } catch (e) {
      return [e.constructor.name, e instanceof TypeError];
    }
  },
  "response-status-range-error": () => {
    try {
      new Response(null, { status: 1000 });
    } catch (e) {
      return [e.constructor.name, e instanceof RangeError];
    }
  },
  "body-used-error-type": async () => {
    const r = new Response("x");
    await r.text();
    try {
      await r.text();
    } catch (e) {
      return [e.constructor.name, e instanceof TypeError];
    }
  },
  "crypto-error-names": async () => {
    const k = await crypto.subtle.importKey("raw", new Uint8Array(16), "AES-GCM", false, ["encrypt", "decrypt"]);
    const bad = await attempt(() => crypto.subtle.decrypt({ name: "AES-GCM", iv: new Uint8Array(12) }, k, new Uint8Array(32)));
    const nonExtractable = await attempt(() => crypto.subtle.exportKey("raw", k));
    const unknownAlgo = await attempt(() => crypto.subtle.digest("NOPE", new Uint8Array()));
    return [bad, nonExtractable, unknownAlgo];
  },
  "error-stack-is-string": () => typeof new Error("x").stack,
  "error-cause": () => {
    const e = new Error("outer", { cause: new TypeError("inner") });
    return [e.cause.name, "cause" in new Error("x")];
  },
  "aggregate-error": () => {
    const e = new AggregateError([new Error("a")], "agg");
    return [e.name, e.errors.length, e.message];
  },
  "structured-clone-error-name": () => attempt(() => structuredClone(() => {})),
  "url-error-type": () => {
    try {
      new URL("nope");
    } catch (e) {
      return [e.constructor.name, e.name];
    }
  },
};
