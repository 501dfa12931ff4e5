// Redirects from a KV map: the key is a path, the value the target (an
// absolute URL or a path), optionally prefixed by the status ("302 /new").
// Paths without an entry go to the origin.
//
//   brink kv put /old-page "/new-page" --namespace REDIRECTS
//   brink dev examples/kv-redirects/worker.js --kv REDIRECTS --var ORIGIN=https://origin.example
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const entry = await env.REDIRECTS.get(url.pathname, { cacheTtl: 60 });
    if (entry !== null) {
      const match = /^(301|302|307|308)\s+(.*)$/.exec(entry.trim());
      const status = match ? Number(match[1]) : 301;
      const target = new URL(match ? match[2] : entry.trim(), url);
      target.search ||= url.search;
      return Response.redirect(target.toString(), status);
    }
    return fetch(`${env.ORIGIN}${url.pathname}${url.search}`, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      redirect: "manual",
    });
  },
};
