// EventTarget, Event and CustomEvent: dispatch order, once, signals.
import { attempt } from "../../harness.js";

export const cases = {
  "dispatch-order": () => {
    const t = new EventTarget();
    const log = [];
    t.addEventListener("x", () => log.push(1));
    t.addEventListener("x", { handleEvent: () => log.push(2) });
    t.addEventListener("x", () => log.push(3));
    const r = t.dispatchEvent(new Event("x"));
    return [log, r];
  },
  "once-and-remove": () => {
    const t = new EventTarget();
    const log = [];
    const f = () => log.push("f");
    t.addEventListener("x", () => log.push("once"), { once: true });
    t.addEventListener("x", f);
    t.addEventListener("x", f);
    t.dispatchEvent(new Event("x"));
    t.removeEventListener("x", f);
    t.dispatchEvent(new Event("x"));
    return log;
  },
  "prevent-default": () => {
    const t = new EventTarget();
    t.addEventListener("x", (e) => e.preventDefault());
    const a = t.dispatchEvent(new Event("x", { cancelable: true }));
    const b = t.dispatchEvent(new Event("x"));
    return [a, b];
  },
  "stop-immediate": () => {
    const t = new EventTarget();
    const log = [];
    t.addEventListener("x", (e) => {
      log.push(1);
      e.stopImmediatePropagation();
    });
    t.addEventListener("x", () => log.push(2));
    t.dispatchEvent(new Event("x"));
    return log;
  },
  "listener-signal": () => {
    const t = new EventTarget();
    const ac = new AbortController();
    const log = [];
    t.addEventListener("x", () => log.push("hit"), { signal: ac.signal });
    t.dispatchEvent(new Event("x"));
    ac.abort();
    t.dispatchEvent(new Event("x"));
    return log;
  },
  "custom-event-detail": () => {
    const e = new CustomEvent("c", { detail: { a: 1 } });
    return [e.type, e.detail, e.bubbles, e.cancelable, e instanceof Event];
  },
  "event-props": () => {
    const e = new Event("t", { bubbles: true, cancelable: true });
    return [e.type, e.bubbles, e.cancelable, e.defaultPrevented, e.eventPhase, e.isTrusted, e.composed];
  },
  "dispatch-twice": () => {
    const t = new EventTarget();
    const e = new Event("x");
    t.addEventListener("x", () => attempt(() => t.dispatchEvent(e)));
    t.dispatchEvent(e);
    return attempt(() => t.dispatchEvent(e));
  },
  "listener-throws-continues": () => {
    const t = new EventTarget();
    const log = [];
    t.addEventListener("x", () => {
      throw new Error("listener");
    });
    t.addEventListener("x", () => log.push("second ran"));
    t.dispatchEvent(new Event("x"));
    return log;
  },
};
