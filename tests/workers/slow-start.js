// Top-level code that takes ~1.5 s of CPU, so replacing an isolate is slow.
const end = Date.now() + 1500;
while (Date.now() < end) {}

export default {
  fetch(request) {
    if (new URL(request.url).pathname === "/cpu-loop") {
      for (;;) {}
    }
    return new Response("ok");
  },
};
