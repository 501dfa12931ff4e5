// A tenant that attacks the runtime through WebAssembly. Its modules are
// built here, byte by byte, so each attack's size comes from the query:
//   /exports?n=25000           a module with n exported functions
//   /grow?pages=N&step=S       grows an exported memory S pages at a time,
//                              touching every page, until a grow fails
//   /grow-opcode?pages=N       the same with the memory.grow instruction
//   /instances?pages=P&n=N     keeps N instances of a module with P pages
//   /big-initial?pages=P       one module whose memory starts at P pages
//   /churn?pages=P&n=N         instantiates N times, dropping each instance
//                              (&cycle=1: each one in a reference cycle)
//   /loop                      a wasm function that never returns
//   /fake-global?ptr=N         imports a plain object dressed as a Global
//                              that points at address N
//   /ok                        a small module, answered correctly

const uleb = (n) => {
  const out = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
};

const sleb = (n) => {
  const out = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
};

const name = (text) => {
  const bytes = new TextEncoder().encode(text);
  return [...uleb(bytes.length), ...bytes];
};

// A section: id, then its contents' length, then the contents (an array
// of byte arrays, concatenated without spreading thousands of arguments).
function section(id, parts) {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = [id, ...uleb(length)];
  for (const part of parts) for (const byte of part) out.push(byte);
  return out;
}

function module(sections) {
  const bytes = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  for (const s of sections) for (const byte of s) bytes.push(byte);
  return new Uint8Array(bytes);
}

const I32 = 0x7f;

// n functions `() -> i32` returning their index, exported as f0..f(n-1).
function manyExports(n) {
  const funcs = [uleb(n)];
  const exports = [uleb(n)];
  const bodies = [uleb(n)];
  for (let i = 0; i < n; i++) {
    funcs.push([0]);
    exports.push([...name(`f${i}`), 0x00, ...uleb(i)]);
    const body = [0x00, 0x41, ...sleb(i), 0x0b];
    bodies.push([...uleb(body.length), ...body]);
  }
  return module([
    section(1, [[1, 0x60, 0, 1, I32]]),
    section(3, funcs),
    section(7, exports),
    section(10, bodies),
  ]);
}

// A memory of `pages` pages (at most `max`), exported as "mem", and
// grow(delta) -> previous size (or -1) through the memory.grow instruction.
function memoryModule(pages, max) {
  const limits = max === undefined ? [0x00, ...uleb(pages)] : [0x01, ...uleb(pages), ...uleb(max)];
  const grow = [0x00, 0x20, 0x00, 0x40, 0x00, 0x0b];
  return module([
    section(1, [[1, 0x60, 1, I32, 1, I32]]),
    section(3, [[1, 0]]),
    section(5, [[1, ...limits]]),
    section(7, [[2, ...name("mem"), 0x02, 0, ...name("grow"), 0x00, 0]]),
    section(10, [[1, ...uleb(grow.length), ...grow]]),
  ]);
}

// spin(): loop forever.
const spinModule = () =>
  module([
    section(1, [[1, 0x60, 0, 0]]),
    section(3, [[1, 0]]),
    section(7, [[1, ...name("spin"), 0x00, 0]]),
    section(10, [[1, 7, 0x00, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b]]),
  ]);

// get() -> the imported global env.g (an immutable i32).
const globalImportModule = () =>
  module([
    section(1, [[1, 0x60, 0, 1, I32]]),
    section(2, [[1, ...name("env"), ...name("g"), 0x03, I32, 0x00]]),
    section(3, [[1, 0]]),
    section(7, [[1, ...name("get"), 0x00, 0]]),
    section(10, [[1, 4, 0x00, 0x23, 0x00, 0x0b]]),
  ]);

const MIB = 1024 * 1024;
const PAGE = 65536;

// Writes one byte per 4 KiB page so the memory is really resident.
function touch(memory) {
  const view = new Uint8Array(memory.buffer);
  for (let i = 0; i < view.length; i += 4096) view[i] = 1;
}

function describe(error) {
  return `${error?.constructor?.name ?? typeof error}: ${error?.message ?? error}`;
}

const attacks = {
  exports(params) {
    const n = Number(params.get("n") ?? 25000);
    const started = Date.now();
    const compiled = new WebAssembly.Module(manyExports(n));
    const instance = new WebAssembly.Instance(compiled, {});
    const last = instance.exports[`f${n - 1}`]();
    return { exports: Object.keys(instance.exports).length, last, ms: Date.now() - started };
  },

  grow(params) {
    const pages = Number(params.get("pages") ?? 65536);
    const step = Number(params.get("step") ?? 256);
    const { exports } = new WebAssembly.Instance(new WebAssembly.Module(memoryModule(1)), {});
    let error = null;
    try {
      while (exports.mem.buffer.byteLength / PAGE < pages) {
        exports.mem.grow(step);
        touch(exports.mem);
      }
    } catch (e) {
      error = describe(e);
    }
    return { mib: exports.mem.buffer.byteLength / MIB, error };
  },

  "grow-opcode"(params) {
    const pages = Number(params.get("pages") ?? 65536);
    const step = Number(params.get("step") ?? 256);
    const { exports } = new WebAssembly.Instance(new WebAssembly.Module(memoryModule(1)), {});
    let failed = null;
    while (exports.mem.buffer.byteLength / PAGE < pages) {
      const previous = exports.grow(step);
      if (previous === -1) {
        failed = -1;
        break;
      }
      touch(exports.mem);
    }
    return { mib: exports.mem.buffer.byteLength / MIB, failed };
  },

  instances(params) {
    const pages = Number(params.get("pages") ?? 256);
    const n = Number(params.get("n") ?? 1000);
    const compiled = new WebAssembly.Module(memoryModule(pages));
    const kept = [];
    let error = null;
    try {
      for (let i = 0; i < n; i++) {
        const instance = new WebAssembly.Instance(compiled, {});
        touch(instance.exports.mem);
        kept.push(instance);
      }
    } catch (e) {
      error = describe(e);
    }
    return { instances: kept.length, mib: (kept.length * pages * PAGE) / MIB, error };
  },

  async "big-initial"(params) {
    const pages = Number(params.get("pages") ?? 65536);
    try {
      const { instance } = await WebAssembly.instantiate(memoryModule(pages), {});
      touch(instance.exports.mem);
      return { mib: instance.exports.mem.buffer.byteLength / MIB, error: null };
    } catch (e) {
      return { mib: 0, error: describe(e) };
    }
  },

  churn(params) {
    const pages = Number(params.get("pages") ?? 256);
    const n = Number(params.get("n") ?? 100);
    const cycle = params.get("cycle") === "1";
    const compiled = new WebAssembly.Module(memoryModule(pages));
    let made = 0;
    let error = null;
    try {
      for (let i = 0; i < n; i++) {
        const instance = new WebAssembly.Instance(compiled, {});
        touch(instance.exports.mem);
        if (cycle) instance.exports.mem.buffer.owner = instance;
        made++;
      }
    } catch (e) {
      error = describe(e);
    }
    return { made, error };
  },

  loop() {
    const { exports } = new WebAssembly.Instance(new WebAssembly.Module(spinModule()), {});
    exports.spin();
    return { returned: true };
  },

  async "fake-global"(params) {
    const g = { __wasm_global_ptr: BigInt(params.get("ptr") ?? 4096) };
    try {
      const { instance } = await WebAssembly.instantiate(globalImportModule(), { env: { g } });
      return { value: instance.exports.get() };
    } catch (e) {
      return { error: describe(e) };
    }
  },

  ok() {
    const { exports } = new WebAssembly.Instance(new WebAssembly.Module(manyExports(3)), {});
    return { sum: exports.f0() + exports.f1() + exports.f2() };
  },
};

export default {
  async fetch(request) {
    const url = new URL(request.url);
    const attack = attacks[url.pathname.slice(1)];
    if (!attack) return new Response("no such attack", { status: 404 });
    return Response.json(await attack(url.searchParams));
  },
};
