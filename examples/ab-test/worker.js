// A/B testing by cookie. A visitor without an `ab` cookie is assigned a
// group at random and keeps it: the group picks which origin path serves
// the page (/a/... or /b/...), and the cookie is set on the way back.
//
//   brink dev examples/ab-test/worker.js --var ORIGIN=https://origin.example
const COOKIE = "ab";

function groupFrom(cookieHeader) {
  for (const part of (cookieHeader ?? "").split(";")) {
    const [name, value] = part.trim().split("=");
    if (name === COOKIE && (value === "a" || value === "b")) return value;
  }
  return null;
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const known = groupFrom(request.headers.get("cookie"));
    const group = known ?? (crypto.getRandomValues(new Uint8Array(1))[0] < 128 ? "a" : "b");
    const upstream = await fetch(`${env.ORIGIN}/${group}${url.pathname}${url.search}`, {
      method: request.method,
      headers: request.headers,
      body: request.body,
    });
    const response = new Response(upstream.body, upstream);
    response.headers.set("x-ab-group", group);
    if (known === null) {
      response.headers.append("set-cookie", `${COOKIE}=${group}; Path=/; Max-Age=2592000; SameSite=Lax`);
    }
    return response;
  },
};
