// A hostile tenant for tests/tests/hostile_neighbours.rs: the attack is
// chosen by env.ATTACK. A well-behaved tenant runs in the same process.
const burn = (ms) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {}
};

export default {
  async fetch(request, env) {
    switch (env.ATTACK) {
      case "loop":
        for (;;) {}
      case "burn":
        // CPU-bound but finite: one long turn.
        burn(Number(new URL(request.url).searchParams.get("ms") ?? 300));
        return new Response("burnt");
      case "memory": {
        const hoard = [];
        for (;;) hoard.push(new Array(100000).fill(hoard.length));
      }
      case "recursion": {
        const deep = (n) => deep(n + 1) + 1;
        try {
          deep(0);
        } catch (error) {
          // Then try native recursion too: a deeply nested JSON document.
          try {
            JSON.parse("[".repeat(1_000_000) + "]".repeat(1_000_000));
          } catch (second) {
            return new Response(`survived: ${error.name} / ${second.name}`);
          }
        }
        return new Response("no stack limit?");
      }
      case "timers": {
        for (let i = 0; i < 10000; i++) setTimeout(() => burn(1), 0);
        return new Response("timers scheduled");
      }
      case "stream": {
        let n = 0;
        const padding = "x".repeat(16 * 1024);
        const body = new ReadableStream({
          pull(controller) {
            burn(1);
            controller.enqueue(new TextEncoder().encode(`chunk ${n++} ${padding}\n`));
          },
        });
        return new Response(body);
      }
      case "catch": {
        for (;;) {
          try {
            for (;;) {}
          } catch {
            // swallow the termination and go on
          }
        }
      }
      case "snoop": {
        // Everything a tenant might try to reach that is not its own.
        const found = {
          globalSecret: typeof globalThis.SECRET,
          globalGood: typeof globalThis.GOOD_STATE,
          envKeys: Object.keys(env).sort().join(","),
        };
        for (const target of [env.ADMIN_URL + "/v1/workers", env.PUBLIC_URL + "/"]) {
          try {
            const response = await fetch(target, { headers: { authorization: "Bearer guess", host: "good.test" } });
            found[target] = `reached: ${response.status}`;
          } catch (error) {
            found[target] = `refused: ${error.message}`;
          }
        }
        return Response.json(found);
      }
    }
    return new Response("no attack");
  },
};
