// A tenant worker for tests/tests/serve.rs. It answers `WHO:V PATH`, so a
// test can tell which worker and which version served each request.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const tag = `${env.WHO}:${env.V}`;
    switch (url.pathname) {
      case "/log":
        console.log(`${env.WHO} says ${url.searchParams.get("m")}`);
        return new Response("logged\n");
      case "/secret":
        // Proves the secret arrived without ever echoing it.
        return new Response(env.SECRET === undefined ? "no secret" : `secret of length ${env.SECRET.length}`);
      case "/count": {
        const n = Number((await env.COUNTS.get("n")) ?? 0) + 1;
        await env.COUNTS.put("n", String(n));
        return new Response(String(n));
      }
      case "/slow":
        await new Promise((resolve) => setTimeout(resolve, Number(url.searchParams.get("ms") ?? 300)));
        return new Response(tag);
      case "/busy": {
        // CPU-bound work in short turns (a long turn would be demoted to the
        // idle scheduling class): keeps the isolate's thread busy.
        let sum = 0;
        for (let slice = Number(url.searchParams.get("slices") ?? 100); slice > 0; slice--) {
          for (let i = 0; i < 20000; i++) sum += i;
          await new Promise((resolve) => setTimeout(resolve, 0));
        }
        return new Response(sum >= 0 ? tag : "");
      }
      case "/throw":
        throw new Error(`${env.WHO} failed on purpose`);
    }
    return new Response(`${tag} ${url.pathname}`);
  },
};
