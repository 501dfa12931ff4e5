// The compute workload of bench/authoring.sh, the same in every runtime: the
// 64-bit FNV-1a hash of 1 MiB in examples/wasm-hash/hash.wasm (GET /hash),
// and (GET /wasm-cost?n=N) the time to compile a ~1 MiB module from its
// bytes ("cold") and to instantiate the module compiled at load ("cached").
// The entry files differ only in how they get the compiled modules.

export function makeHandler(hashModule, bigModule, bigBytes) {
  const { memory, fnv1a64 } = new WebAssembly.Instance(hashModule, {}).exports;
  const size = 1024 * 1024;
  if (memory.buffer.byteLength < size + 8) {
    memory.grow(Math.ceil((size + 8 - memory.buffer.byteLength) / 65536));
  }
  new Uint8Array(memory.buffer, 8, size).set(new Uint8Array(size).map((_, i) => (i * 31) & 0xff));

  return {
    async fetch(request) {
      const url = new URL(request.url);
      if (url.pathname === "/hash") {
        fnv1a64(8, size);
        const digest = new DataView(memory.buffer).getBigUint64(0, true);
        return new Response(digest.toString(16).padStart(16, "0") + "\n");
      }
      if (url.pathname === "/wasm-cost") {
        const n = Math.min(Number(url.searchParams.get("n") ?? 5), 50);
        let started = Date.now();
        let compileMs = null;
        try {
          for (let i = 0; i < n; i++) new WebAssembly.Module(bigBytes);
          compileMs = (Date.now() - started) / n;
        } catch (error) {
          // workerd refuses to compile WebAssembly at run time: only modules
          // uploaded with the worker exist there.
          compileMs = String(error.message ?? error);
        }
        started = Date.now();
        for (let i = 0; i < n; i++) new WebAssembly.Instance(bigModule, {});
        const instantiateMs = (Date.now() - started) / n;
        return Response.json({ bytes: bigBytes.byteLength, compileMs, instantiateMs });
      }
      return new Response("GET /hash or /wasm-cost?n=N\n");
    },
  };
}
