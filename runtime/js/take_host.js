// Hands the worker host's functions to Rust and removes them from the
// global object, so worker code cannot call them.
(() => {
  const key = Symbol.for("brink.host");
  const host = globalThis[key];
  delete globalThis[key];
  return host;
})();
