// Security headers on every response from the origin, and headers that
// leak the origin's software removed.
//
//   brink dev examples/security-headers/worker.js --var ORIGIN=https://origin.example
const SECURITY_HEADERS = {
  "strict-transport-security": "max-age=63072000; includeSubDomains; preload",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "strict-origin-when-cross-origin",
  "permissions-policy": "camera=(), microphone=(), geolocation=()",
  "content-security-policy": "default-src 'self'; img-src 'self' https:; object-src 'none'; frame-ancestors 'none'",
};
const LEAKY_HEADERS = ["x-powered-by", "server", "x-aspnet-version"];

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const upstream = await fetch(`${env.ORIGIN}${url.pathname}${url.search}`, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      redirect: "manual",
    });
    const response = new Response(upstream.body, upstream);
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) response.headers.set(name, value);
    for (const name of LEAKY_HEADERS) response.headers.delete(name);
    return response;
  },
};
