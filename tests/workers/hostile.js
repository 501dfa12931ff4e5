// Hostile behaviours, one per path. Each must be stopped without hurting the
// process or the well-behaved "/ok" path.
const burn = (ms) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {}
};
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    switch (url.pathname) {
      case "/ok":
        return new Response("ok");
      case "/microtask-flood": {
        const f = () => {
          queueMicrotask(f);
          queueMicrotask(f);
        };
        f();
        return new Promise(() => {});
      }
      case "/microtask-flood-after-response": {
        const f = () => {
          queueMicrotask(f);
          queueMicrotask(f);
        };
        setTimeout(f, 0);
        return new Response("flooding in the background");
      }
      case "/promise-flood": {
        const f = () => {
          Promise.resolve().then(f);
          Promise.resolve().then(f);
        };
        f();
        return new Promise(() => {});
      }
      case "/catches-termination": {
        // Catching the termination and looping again must not save it.
        for (;;) {
          try {
            for (;;) {}
          } catch {
            // keep going
          }
        }
      }
      case "/many-turns": {
        // No single turn is long, but together they exceed the CPU limit.
        for (let i = 0; i < 40; i++) {
          burn(30);
          await tick();
        }
        return new Response("finished all turns");
      }
      case "/wait-until-burn": {
        ctx.waitUntil((async () => {
          for (let i = 0; i < 40; i++) {
            burn(30);
            await tick();
          }
          console.log("wait-until-burn finished");
        })());
        return new Response("responded");
      }
      case "/interval-burn": {
        setInterval(() => burn(100), 10);
        return new Response("interval scheduled");
      }
      case "/wait-until-fetches": {
        ctx.waitUntil((async () => {
          for (let i = 0; i < 10; i++) {
            try {
              await fetch(`${env.ORIGIN}/from-wait-until?i=${i}`);
            } catch (error) {
              console.log(`waitUntil fetch ${i} refused: ${error.message}`);
            }
          }
        })());
        return new Response("responded");
      }
      case "/self-loop": {
        console.log(`self-loop depth ${request.headers.get("brink-subrequest-depth") ?? "hidden"}`);
        const inner = await fetch(request.url);
        return new Response(await inner.text(), { status: inner.status });
      }
      case "/blob-hoard": {
        // Blob bytes live outside the JS heap; they must count anyway.
        const hoard = [];
        const chunk = new Uint8Array(4 * 1024 * 1024);
        for (let i = 0; i < 200; i++) {
          hoard.push(new Blob([chunk]));
          await tick();
        }
        return new Response(`held ${hoard.length} blobs`);
      }
      case "/buffer-hoard": {
        // Buffers that ops hand back (encoded text, blob and body reads).
        const hoard = [];
        const text = "x".repeat(4 * 1024 * 1024);
        for (let i = 0; i < 200; i++) {
          hoard.push(new TextEncoder().encode(text));
          hoard.push(await new Blob([text]).arrayBuffer());
          await tick();
        }
        return new Response(`held ${hoard.length} buffers`);
      }
      case "/cpu-loop":
        for (;;) {}
      default:
        return new Response("not found", { status: 404 });
    }
  },
};
