// bench/cdn.sh's tier workload: GET /many answers from caches.default,
// going round 1000 keys of 4 KiB each (a miss stores the entry). With a
// memory tier too small for 4 MB, nearly every hit is read from the disk
// tier; with a large one, every hit is from memory.
const KEYS = 1000;
const BODY = "x".repeat(4096);
let next = 0;

export default {
  async fetch() {
    const key = `https://bench.example/many/${next}`;
    next = (next + 1) % KEYS;
    const hit = await caches.default.match(key);
    if (hit) return hit;
    await caches.default.put(key, new Response(BODY, {
      headers: { "content-type": "text/plain", "cache-control": "max-age=3600" },
    }));
    return new Response(BODY, { headers: { "content-type": "text/plain", "x-cache": "MISS" } });
  },
};
