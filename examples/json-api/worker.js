// A small JSON API, the kind of worker people put in front of a database.
//
//   GET  /api/users/:id  -> a user object built per request (nested array included)
//   POST /api/echo       -> the request's JSON body, plus a few fields the worker adds
//   anything else        -> 404 (or 405 on a known path with the wrong method), as JSON
//
// Only standard Web APIs (URL, Request, Response, JSON) are used, so the same file
// runs unchanged on Brink, workerd, `deno serve` and Bun. bench/run.sh uses it as
// its "json" workload.

const ROLES = ["reader", "editor", "admin"];

function json(body, status = 200) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8" },
  });
}

function userById(id) {
  const orders = [];
  for (let i = 1; i <= 3; i++) {
    orders.push({
      id: id * 100 + i,
      sku: `SKU-${(id * 7 + i) % 1000}`,
      quantity: ((id + i) % 5) + 1,
      priceCents: 499 + ((id * i) % 50) * 100,
    });
  }
  return {
    id,
    name: `User ${id}`,
    email: `user${id}@example.com`,
    role: ROLES[id % ROLES.length],
    active: id % 2 === 0,
    orders,
    totalCents: orders.reduce((sum, o) => sum + o.quantity * o.priceCents, 0),
  };
}

async function echo(request) {
  let payload;
  try {
    payload = await request.json();
  } catch {
    return json({ error: "request body is not valid JSON" }, 400);
  }
  return json({
    received: payload,
    method: request.method,
    contentType: request.headers.get("content-type"),
    echoedAt: new Date().toISOString(),
  });
}

export default {
  async fetch(request, env, ctx) {
    const { pathname } = new URL(request.url);

    const user = /^\/api\/users\/(\d{1,9})$/.exec(pathname);
    if (user) {
      if (request.method !== "GET") return json({ error: "method not allowed" }, 405);
      return json(userById(Number(user[1])));
    }

    if (pathname === "/api/echo") {
      if (request.method !== "POST") return json({ error: "method not allowed" }, 405);
      return echo(request);
    }

    return json({ error: "not found", path: pathname }, 404);
  },
};
