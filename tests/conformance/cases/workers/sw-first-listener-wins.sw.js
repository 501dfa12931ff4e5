// Two listeners: the first one's respondWith answers.
addEventListener("fetch", (event) => event.respondWith(new Response("first listener")));
addEventListener("fetch", () => {});
