// Streams the request body straight back, and reports what it saw.
export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/count") {
      // Reads the body chunk by chunk without keeping it.
      let bytes = 0;
      const reader = request.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        bytes += value.byteLength;
      }
      return Response.json({ bytes });
    }
    if (url.pathname === "/generate") {
      // A streamed response produced chunk by chunk.
      const chunks = Number(url.searchParams.get("chunks") ?? 10);
      const chunk = new Uint8Array(64 * 1024).fill(97);
      let sent = 0;
      const body = new ReadableStream({
        pull(controller) {
          if (sent++ < chunks) controller.enqueue(chunk);
          else controller.close();
        },
      });
      return new Response(body, { headers: { "content-type": "application/octet-stream" } });
    }
    return new Response(request.body, {
      status: 200,
      headers: {
        "content-type": request.headers.get("content-type") ?? "application/octet-stream",
        "x-method": request.method,
        "x-url": request.url,
      },
    });
  },
};
