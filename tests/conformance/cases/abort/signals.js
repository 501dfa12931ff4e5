// AbortController / AbortSignal: reasons, abort(), any(), timeout, events.
import { attempt, turns } from "../../harness.js";

export const cases = {
  "default-reason": () => {
    const ac = new AbortController();
    ac.abort();
    const r = ac.signal.reason;
    return [ac.signal.aborted, r instanceof DOMException, r.name];
  },
  "custom-reason": () => {
    const ac = new AbortController();
    ac.abort({ why: "me" });
    return ac.signal.reason;
  },
  "abort-twice-keeps-first": () => {
    const ac = new AbortController();
    ac.abort("first");
    ac.abort("second");
    return ac.signal.reason;
  },
  "event-fires-once": () => {
    const ac = new AbortController();
    const log = [];
    ac.signal.addEventListener("abort", (e) => log.push(`listener ${e.type} ${e.target === ac.signal}`));
    ac.signal.onabort = () => log.push("onabort");
    ac.abort();
    ac.abort();
    return log;
  },
  "throw-if-aborted": () => {
    const ac = new AbortController();
    const before = attempt(() => ac.signal.throwIfAborted());
    ac.abort(new RangeError("r"));
    return [before, attempt(() => ac.signal.throwIfAborted())];
  },
  "static-abort": () => {
    const s = AbortSignal.abort();
    const t = AbortSignal.abort("reason");
    return [s.aborted, s.reason.name, t.reason];
  },
  "any": () => {
    const a = new AbortController();
    const b = new AbortController();
    const s = AbortSignal.any([a.signal, b.signal]);
    const before = s.aborted;
    b.abort("from b");
    a.abort("from a");
    return [before, s.aborted, s.reason];
  },
  "any-already-aborted": () => {
    const s = AbortSignal.any([new AbortController().signal, AbortSignal.abort("pre")]);
    return [s.aborted, s.reason];
  },
  "any-empty": () => AbortSignal.any([]).aborted,
  "timeout": async () => {
    const s = AbortSignal.timeout(10);
    const before = s.aborted;
    await new Promise((r) => s.addEventListener("abort", r));
    return [before, s.aborted, s.reason.name, s.reason instanceof DOMException];
  },
  "timeout-invalid": () => [attempt(() => AbortSignal.timeout(-1)), attempt(() => AbortSignal.timeout("x").aborted)],
  "signal-constructor": () => attempt(() => new AbortSignal()),
  "request-signal-follows": async () => {
    const ac = new AbortController();
    const r = new Request("https://e.com/", { signal: ac.signal });
    ac.abort("gone");
    await turns(1);
    return [r.signal.aborted, r.signal.reason, r.signal === ac.signal];
  },
  "abort-listener-throws": () => {
    const ac = new AbortController();
    const log = [];
    ac.signal.addEventListener("abort", () => {
      throw new Error("in an abort listener");
    });
    ac.signal.addEventListener("abort", () => log.push("next listener ran"));
    ac.abort();
    log.push(`aborted: ${ac.signal.aborted}`);
    return log;
  },
  "listener-order": () => {
    const ac = new AbortController();
    const log = [];
    const dep = AbortSignal.any([ac.signal]);
    dep.addEventListener("abort", () => log.push("dependent"));
    ac.signal.addEventListener("abort", () => log.push("source"));
    ac.abort();
    return log;
  },
};
