// Service-worker format: no exports, bindings are globals.
addEventListener("fetch", (event) => {
  event.respondWith(handle(event.request));
});

async function handle(request) {
  const url = new URL(request.url);
  return new Response(`service worker saw ${request.method} ${url.pathname}, GREETING=${GREETING}`, {
    headers: { "x-format": "service-worker" },
  });
}
