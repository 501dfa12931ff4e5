// What a service-worker script sees globally.
addEventListener("fetch", (event) => {
  event.respondWith(
    Response.json({
      self: self === globalThis,
      greeting: typeof GREETING,
      env: typeof env,
      fetchEvent: typeof FetchEvent,
      eventClass: event.constructor.name,
    }),
  );
});
