// requests: [{"path": "/a?b=c"}, {"method": "POST", "path": "/p", "body": "sw body"}]
// The service-worker format: bindings are globals, respondWith takes a promise.
addEventListener("fetch", (event) => {
  event.respondWith(
    (async () => {
      const r = event.request;
      return Response.json({
        greeting: GREETING,
        method: r.method,
        url: r.url,
        body: await r.text(),
        type: event.type,
        hasWaitUntil: typeof event.waitUntil,
      });
    })(),
  );
});
