// Outbound fetch: to the URL in ?url=, optionally n times in a row.
export default {
  async fetch(request, env, ctx) {
    const params = new URL(request.url).searchParams;
    const target = params.get("url");
    const times = Number(params.get("n") ?? 1);
    try {
      let last;
      for (let i = 0; i < times; i++) {
        const response = await fetch(target, { method: params.get("method") ?? "GET" });
        last = `${response.status} ${response.redirected ? "redirected " : ""}${await response.text()}`;
      }
      return new Response(last);
    } catch (error) {
      return new Response(`fetch failed: ${error.message}`, { status: 502 });
    }
  },
};
