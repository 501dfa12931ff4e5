// Counts requests running at once in this isolate, so a test can see how
// many streams of one connection reached the worker together.
let running = 0;
let peak = 0;

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/peak") return new Response(String(peak));
    running++;
    peak = Math.max(peak, running);
    await new Promise((resolve) => setTimeout(resolve, Number(url.searchParams.get("ms") ?? 200)));
    running--;
    return new Response(String(peak));
  },
};
