// Hashes bytes in WebAssembly: the 64-bit FNV-1a digest of a POSTed body,
// of `?text=...`, or (GET /bench) of a fixed 1 MiB buffer, which
// bench/authoring.sh uses to compare runtimes on the same .wasm.
//
//   brink dev examples/wasm-hash/worker.ts
//   curl --data-binary @some-file http://127.0.0.1:8787/
//
// The .wasm import is a compiled WebAssembly.Module (Workers' CompiledWasm
// rule); it is instantiated once per isolate, at load.
import hashModule from "./hash.wasm";

interface HashExports {
  memory: WebAssembly.Memory;
  fnv1a64(ptr: number, len: number): void;
}

/** Largest input hashed, in bytes. */
const MAX_INPUT = 16 * 1024 * 1024;
/** The digest sits at 0..8; inputs are copied in from here. */
const INPUT_AT = 8;

const instance = await WebAssembly.instantiate(hashModule, {});
const { memory, fnv1a64 } = instance.exports as unknown as HashExports;

function fnv1a(bytes: Uint8Array): string {
  const needed = INPUT_AT + bytes.length;
  if (needed > memory.buffer.byteLength) {
    memory.grow(Math.ceil((needed - memory.buffer.byteLength) / 65536));
  }
  new Uint8Array(memory.buffer, INPUT_AT, bytes.length).set(bytes);
  fnv1a64(INPUT_AT, bytes.length);
  return new DataView(memory.buffer).getBigUint64(0, true).toString(16).padStart(16, "0");
}

// GET /bench hashes this: 1 MiB of a repeating pattern, made once.
const benchInput = new Uint8Array(1024 * 1024).map((_, i) => (i * 31) & 0xff);

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    let input: Uint8Array;
    if (url.pathname === "/bench") {
      input = benchInput;
    } else if (request.method === "POST") {
      const declared = Number(request.headers.get("content-length") ?? 0);
      if (declared > MAX_INPUT) {
        return new Response("body too large\n", { status: 413 });
      }
      input = new Uint8Array(await request.arrayBuffer());
      if (input.length > MAX_INPUT) {
        return new Response("body too large\n", { status: 413 });
      }
    } else if (url.searchParams.has("text")) {
      input = new TextEncoder().encode(url.searchParams.get("text") ?? "");
    } else {
      return new Response("POST bytes or GET /?text=... to get their 64-bit FNV-1a hash\n");
    }
    return new Response(`${fnv1a(input)}\n`, {
      headers: { "content-type": "text/plain; charset=utf-8", "x-input-bytes": String(input.length) },
    });
  },
} satisfies ExportedHandler;
