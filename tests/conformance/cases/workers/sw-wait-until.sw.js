// event.waitUntil takes promises and other values, and returns nothing.
addEventListener("fetch", (event) => {
  const out = [];
  for (const v of [Promise.resolve(1), 42]) {
    try {
      out.push(event.waitUntil(v) === undefined ? "accepted" : "returned a value");
    } catch (e) {
      out.push(e.name);
    }
  }
  event.respondWith(Response.json(out));
});
