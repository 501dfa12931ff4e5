// A worker in front of an origin (brink dev --origin): it passes the
// incoming request on, modified, and marks the answer; some paths throw,
// with and without ctx.passThroughOnException().
export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    switch (url.pathname) {
      case "/throw":
        ctx.passThroughOnException();
        throw new Error("worker bug");
      case "/throw-async":
        ctx.passThroughOnException();
        await new Promise((resolve) => setTimeout(resolve, 1));
        throw new Error("async worker bug");
      case "/throw-no-pass":
        throw new Error("worker bug, no pass-through");
      case "/elsewhere":
        // Not the worker's own host: not sent to the origin (and refused,
        // being private).
        return fetch("http://10.255.255.1/x").then(() => new Response("reached"), (e) => new Response(e.message));
    }
    const modified = new Request(request);
    modified.headers.set("x-edge", "brink");
    const answer = await fetch(modified);
    const response = new Response(answer.body, answer);
    response.headers.set("x-proxied", "yes");
    return response;
  },
};
