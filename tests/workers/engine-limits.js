// Things a worker could use to hold its isolate or the host's CPU outside the
// supervisor's reach. Each route reports what happened instead of failing:
//
//   /atomics-wait      Atomics.wait on a SharedArrayBuffer (must throw)
//   /atomics-notify    Atomics.notify still works (0 woken)
//   /pbkdf2?n=N        PBKDF2 deriveBits with N iterations
//   /rsa?bits=B&e=E    RSA-PSS generateKey (E: "3", "65537" or "17")
//   /temporal          Temporal and Intl time zones still work
//   /import            dynamic import() still works
//   /ping              the isolate answers

const result = (promise) =>
  promise.then(
    (value) => ({ ok: true, value }),
    (error) => ({ ok: false, name: error?.name, message: String(error?.message ?? error) }),
  );

const routes = {
  "/atomics-wait"() {
    const shared = new Int32Array(new SharedArrayBuffer(16));
    try {
      const outcome = Atomics.wait(shared, 0, 0, 5_000);
      return { ok: true, value: outcome };
    } catch (error) {
      return { ok: false, name: error.name, message: error.message, isTypeError: error instanceof TypeError };
    }
  },

  "/atomics-notify"() {
    const shared = new Int32Array(new SharedArrayBuffer(16));
    let rangeError = false;
    try {
      Atomics.notify(shared, 99);
    } catch (error) {
      rangeError = error instanceof RangeError;
    }
    return { ok: true, value: { woken: Atomics.notify(shared, 0, 1), rangeError } };
  },

  async "/pbkdf2"(params) {
    const iterations = Number(params.get("n"));
    const started = Date.now();
    const key = await crypto.subtle.importKey("raw", new TextEncoder().encode("password"), "PBKDF2", false, [
      "deriveBits",
    ]);
    const outcome = await result(
      crypto.subtle.deriveBits(
        { name: "PBKDF2", hash: "SHA-256", salt: new Uint8Array(16), iterations },
        key,
        256,
      ).then((bits) => new Uint8Array(bits).length),
    );
    return { ...outcome, ms: Date.now() - started };
  },

  async "/pbkdf2-getter"() {
    // A getter that shows a small count first and a huge one afterwards.
    let reads = 0;
    const algorithm = {
      name: "PBKDF2",
      hash: "SHA-256",
      salt: new Uint8Array(16),
      get iterations() {
        return reads++ === 0 ? 1000 : 10_000_000;
      },
    };
    const key = await crypto.subtle.importKey("raw", new Uint8Array(8), "PBKDF2", false, ["deriveBits"]);
    const started = Date.now();
    const outcome = await result(crypto.subtle.deriveBits(algorithm, key, 256).then((bits) => bits.byteLength));
    return { ...outcome, reads, ms: Date.now() - started };
  },

  async "/rsa"(params) {
    const exponent = { "3": [3], "65537": [1, 0, 1], "17": [17] }[params.get("e") ?? "65537"];
    return await result(
      crypto.subtle.generateKey(
        {
          name: "RSA-PSS",
          modulusLength: Number(params.get("bits")),
          publicExponent: new Uint8Array(exponent),
          hash: "SHA-256",
        },
        false,
        ["sign", "verify"],
      ).then((pair) => pair.publicKey.algorithm.modulusLength),
    );
  },

  "/temporal"() {
    const instant = Temporal.Instant.from("2020-06-26T12:00:00Z");
    const paris = instant.toZonedDateTimeISO("Europe/Paris");
    const formatted = new Intl.DateTimeFormat("en-US", { timeZone: "Asia/Tokyo" }).format(
      new Date("2020-06-26T12:00:00Z"),
    );
    return { ok: true, value: { paris: paris.hour, tokyo: formatted } };
  },

  async "/import"() {
    return await result(import("./modules/lib/punctuation.js").then((module) => Object.keys(module).sort()));
  },

  "/ping"() {
    return { ok: true, value: "pong" };
  },
};

export default {
  async fetch(request) {
    const url = new URL(request.url);
    const route = routes[url.pathname];
    if (route === undefined) return new Response("no such route", { status: 404 });
    return Response.json(await route(url.searchParams));
  },
};
