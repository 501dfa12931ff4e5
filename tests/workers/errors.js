// Every way a handler can go wrong.
function deeplyNested() {
  throw new Error("boom from the worker");
}

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    switch (pathname) {
      case "/ok":
        return new Response("ok");
      case "/throw":
        deeplyNested();
        break;
      case "/throw-sync":
        throw new TypeError("sync failure");
      case "/reject":
        await new Promise((r) => setTimeout(r, 1));
        return Promise.reject(new RangeError("rejected later"));
      case "/not-response":
        return { hello: "this is not a Response" };
      case "/undefined":
        return undefined;
      case "/loop":
        for (;;) {}
      case "/alloc": {
        const hog = [];
        for (;;) hog.push(new Array(1024 * 1024).fill(hog.length));
      }
      case "/slow": {
        await new Promise((r) => setTimeout(r, Number(new URL(request.url).searchParams.get("ms") ?? 1000)));
        return new Response("slow done");
      }
      case "/never":
        return new Promise(() => {});
      case "/env":
        return new Response(`${env.GREETING}|${env.OTHER}`);
    }
    return new Response("not found", { status: 404 });
  },
};
