// Outbound fetch: to the URL in ?url=, optionally n times in a row, or
// ?parallel=n times at once (Promise.all-style, every result reported).
export default {
  async fetch(request, env, ctx) {
    const params = new URL(request.url).searchParams;
    const target = params.get("url");
    if (params.has("parallel")) {
      const settled = await Promise.allSettled(
        Array.from({ length: Number(params.get("parallel")) }, () => fetch(target).then((response) => response.text())),
      );
      const refused = settled.filter((r) => r.status === "rejected").map((r) => `${r.reason.name}: ${r.reason.message}`);
      return Response.json({ ok: settled.length - refused.length, refused });
    }
    const times = Number(params.get("n") ?? 1);
    try {
      let last;
      for (let i = 0; i < times; i++) {
        const response = await fetch(target, { method: params.get("method") ?? "GET" });
        last = `${response.status} ${response.redirected ? "redirected " : ""}${await response.text()}`;
      }
      return new Response(last);
    } catch (error) {
      // deno_fetch puts a connection's own error (a refused DNS answer, say)
      // in `cause`; the tests read it.
      const cause = error.cause ? ` (${error.cause.message})` : "";
      return new Response(`fetch failed: ${error.message}${cause}`, { status: 502 });
    }
  },
};
