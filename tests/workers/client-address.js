// The client's address as a worker and its origin see it (brink dev
// --origin): /seen answers with the forwarding headers of the incoming
// request; /worker-sets passes the request on after setting its own
// CF-Connecting-IP and X-Forwarded-For; /throw passes through to the
// origin; anything else passes the request on as it is.
export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname === "/seen") {
      const seen = {};
      for (const name of ["cf-connecting-ip", "x-forwarded-for", "x-real-ip", "forwarded"]) {
        seen[name] = request.headers.get(name);
      }
      return Response.json(seen);
    }
    if (url.pathname === "/throw") {
      ctx.passThroughOnException();
      throw new Error("worker bug");
    }
    const upstream = new Request(request);
    if (url.pathname === "/worker-sets") {
      upstream.headers.set("cf-connecting-ip", "6.6.6.6");
      upstream.headers.set("x-forwarded-for", "10.1.1.1");
      upstream.headers.set("x-real-ip", "6.6.6.6");
    }
    return fetch(upstream);
  },
};
