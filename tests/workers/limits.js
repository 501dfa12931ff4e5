// Exercises the per-worker limits: heap, request body, response body.
const CHUNK = 64 * 1024;

function bytes(url) {
  return Number(url.searchParams.get("bytes") ?? 0);
}

function streamOf(total) {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= total) return controller.close();
      const size = Math.min(CHUNK, total - sent);
      controller.enqueue(new Uint8Array(size).fill(120));
      sent += size;
    },
  });
}

export default {
  async fetch(request) {
    const url = new URL(request.url);
    switch (url.pathname) {
      case "/alloc": {
        // Holds `mib` MiB of distinct strings on the JS heap at once.
        const mib = Number(url.searchParams.get("mib") ?? 1);
        const held = [];
        for (let i = 0; i < mib; i++) held.push(String(i).padEnd(1024 * 1024, "x"));
        return new Response(`held ${held.length} MiB`);
      }
      case "/full":
        return new Response("x".repeat(bytes(url)));
      case "/stream":
        return new Response(streamOf(bytes(url)));
      case "/declared":
        return new Response(streamOf(bytes(url)), { headers: { "content-length": String(bytes(url)) } });
      case "/upload": {
        const body = await request.arrayBuffer();
        return new Response(`received ${body.byteLength}`);
      }
    }
    return new Response("ok");
  },
};
