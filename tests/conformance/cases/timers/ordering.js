// Timers and microtasks: ordering, arguments, clearing, and ids.
import { attempt } from "../../harness.js";

const until = (log, n) =>
  new Promise((resolve) => {
    const check = () => (log.length >= n ? resolve(log) : setTimeout(check, 1));
    check();
  });

export const cases = {
  "microtask-before-timeout": async () => {
    const log = [];
    setTimeout(() => log.push("timeout"), 0);
    queueMicrotask(() => log.push("microtask"));
    Promise.resolve().then(() => log.push("promise"));
    log.push("sync");
    return until(log, 4);
  },
  "timeouts-in-delay-order": async () => {
    const log = [];
    setTimeout(() => log.push(30), 30);
    setTimeout(() => log.push(0), 0);
    setTimeout(() => log.push(10), 10);
    return until(log, 3);
  },
  "same-delay-in-order": async () => {
    const log = [];
    for (let i = 0; i < 5; i++) setTimeout(() => log.push(i), 5);
    return until(log, 5);
  },
  "timeout-args": async () => new Promise((resolve) => setTimeout((a, b) => resolve([a, b]), 0, "x", 2)),
  "clear-timeout": async () => {
    const log = [];
    const id = setTimeout(() => log.push("cleared one ran"), 0);
    clearTimeout(id);
    setTimeout(() => log.push("other"), 1);
    return until(log, 1);
  },
  "interval": async () => {
    const log = [];
    let n = 0;
    const id = setInterval(() => {
      log.push(++n);
      if (n === 3) clearInterval(id);
    }, 1);
    await until(log, 3);
    await new Promise((r) => setTimeout(r, 10));
    return log;
  },
  "nested-microtasks": async () => {
    const log = [];
    Promise.resolve().then(() => {
      log.push("a1");
      Promise.resolve().then(() => log.push("a2"));
    });
    Promise.resolve().then(() => log.push("b1"));
    queueMicrotask(() => log.push("q1"));
    await new Promise((r) => setTimeout(r, 0));
    return log;
  },
  "await-ordering": async () => {
    const log = [];
    (async () => {
      log.push("f start");
      await null;
      log.push("f after await");
    })();
    Promise.resolve().then(() => log.push("then"));
    log.push("sync end");
    await new Promise((r) => setTimeout(r, 0));
    return log;
  },
  "timer-id-type": () => {
    const id = setTimeout(() => {}, 1000);
    clearTimeout(id);
    return [typeof id === "number" || typeof id === "object", attempt(() => clearTimeout(undefined))];
  },
  "string-callback": () => attempt(() => setTimeout("1 + 1", 0)),
  "queue-microtask-non-function": () => attempt(() => queueMicrotask(42)),
  "timeout-coerces-delay": async () => {
    const log = [];
    setTimeout(() => log.push("neg"), -5);
    setTimeout(() => log.push("nan"), NaN);
    setTimeout(() => log.push("str"), "2");
    return until(log, 3);
  },
  "scheduler-wait": async () =>
    attempt(async () => {
      const r = await scheduler.wait(5);
      return ["resolved", r];
    }),
  "unhandled-rejection-not-fatal": {
    async fetch() {
      Promise.reject(new Error("nobody catches this"));
      await new Promise((r) => setTimeout(r, 5));
      return new Response("still here");
    },
  },
};
