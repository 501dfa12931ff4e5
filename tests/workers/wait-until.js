// Responds at once; the waitUntil work reports to the origin later.
export default {
  fetch(request, env, ctx) {
    const { searchParams } = new URL(request.url);
    if (searchParams.has("forever")) {
      // Never settles, and a live interval keeps the event loop busy.
      ctx.waitUntil(new Promise(() => setInterval(() => {}, 50)));
      return new Response("waiting forever in the background");
    }
    const delay = Number(searchParams.get("delay") ?? 300);
    ctx.waitUntil(
      (async () => {
        await new Promise((resolve) => setTimeout(resolve, delay));
        await fetch(`${env.ORIGIN}/waited?tag=${searchParams.get("tag")}`, { method: "POST", body: "done" });
      })(),
    );
    return new Response("responded before the background work");
  },
};
