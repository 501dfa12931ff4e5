// requests: [{"path": "/a"}]
addEventListener("fetch", (event) => {
  event.respondWith(new Response(`${GREETING} ${event.request.url}`));
});
