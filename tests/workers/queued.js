// Answers each request with its own number, in one of four ways, so a test
// can send many at once to one isolate and check every answer is its own:
// at once, after a microtask, after a timer, and with a header set by a
// microtask queued before the handler returned (taken only after the
// handler's microtasks ran, as on workerd).
export default {
  fetch(request) {
    const n = Number(new URL(request.url).searchParams.get("n"));
    switch (n % 4) {
      case 0:
        return new Response(`now ${n}`);
      case 1:
        return Promise.resolve().then(() => new Response(`microtask ${n}`));
      case 2:
        return new Promise((resolve) => setTimeout(() => resolve(new Response(`timer ${n}`)), 1));
      default: {
        const response = new Response(`late header ${n}`);
        queueMicrotask(() => response.headers.set("x-late", String(n)));
        return response;
      }
    }
  },
};
