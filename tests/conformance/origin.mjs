// The origin server that outbound-fetch cases reach (on 127.0.0.1, started by
// run.mjs). Its answers are deterministic and show only what every runtime
// sends the same way: a runtime's own request headers (user-agent,
// accept-encoding, cf-*) are left out of /echo unless they start with x-.

import http from "node:http";
import net from "node:net";

function echo(req, body) {
  const headers = {};
  // Sorted: the order a runtime writes headers in is its own business.
  for (const [name, value] of Object.entries(req.headers).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (name.startsWith("x-") || name === "content-type" || name === "cookie" || name === "authorization") {
      headers[name] = value;
    }
  }
  return JSON.stringify({
    method: req.method,
    path: req.url,
    headers,
    body: body.toString("utf8"),
  });
}

function handle(req, res, body) {
  const url = new URL(req.url, "http://origin");
  const parts = url.pathname.split("/").filter(Boolean);
  switch (parts[0]) {
    case "echo":
      res.writeHead(200, { "content-type": "application/json", "x-origin": "yes" });
      return res.end(echo(req, body));
    case "status": {
      const code = Number(parts[1]);
      res.writeHead(code, { "x-origin": "yes" });
      return res.end(code === 204 || code === 304 ? undefined : `status ${code}`);
    }
    case "redirect": {
      // /redirect/<code>/<n>: n more hops, then /echo.
      const code = Number(parts[1]);
      const left = Number(parts[2] ?? 1);
      const next = left > 1 ? `/redirect/${code}/${left - 1}` : "/echo";
      res.writeHead(code, { location: next });
      return res.end();
    }
    case "cookies":
      res.writeHead(200, [
        ["set-cookie", "a=1; Path=/"],
        ["set-cookie", "b=2; Expires=Wed, 21 Oct 2015 07:28:00 GMT"],
        ["content-type", "text/plain"],
      ]);
      return res.end("cookies");
    case "chunks":
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("one,");
      setTimeout(() => {
        res.write("two,");
        setTimeout(() => res.end("three"), 10);
      }, 10);
      return undefined;
    case "slow":
      // Answers after a while unless the client goes away first.
      setTimeout(() => {
        if (!res.destroyed) {
          res.writeHead(200);
          res.end("slow");
        }
      }, 3000);
      return undefined;
    case "bytes":
      res.writeHead(200, { "content-type": "application/octet-stream" });
      return res.end(Buffer.from([0, 1, 2, 253, 254, 255]));
    default:
      res.writeHead(404, { "content-type": "text/plain" });
      return res.end("no such origin path");
  }
}

// A server on a free port of 127.0.0.1 that closes every connection as
// soon as it is accepted: fetch() to it fails.
export function startResetServer() {
  const server = net.createServer((socket) => socket.destroy());
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
}

// Starts the origin on a free port of 127.0.0.1 and resolves to its server.
export function startOrigin() {
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => handle(req, res, Buffer.concat(chunks)));
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
}
