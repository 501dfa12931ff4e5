// respondWith called twice: the second call throws.
addEventListener("fetch", (event) => {
  event.respondWith(new Response("first"));
  let second;
  try {
    event.respondWith(new Response("second"));
    second = "accepted";
  } catch (e) {
    second = e.name;
  }
  globalThis.second = second;
});
addEventListener("fetch", (event) => {
  event.respondWith(new Response(`second listener ${globalThis.second}`));
});
