// The Workers Cache API: `caches.default`, `caches.open(name)`, and a
// cache's match/put/delete. Argument checks and the errors Workers throws
// live here; storage and the HTTP caching rules live in src/api/cache/,
// which also scopes every entry to this worker. Loaded on first use of
// `caches`.
(function () {
const { core, primordials } = __bootstrap;
const { op_brink_cache_delete, op_brink_cache_match, op_brink_cache_match_disk, op_brink_cache_put } = core.ops;
const { ArrayPrototypePush, Error, ObjectPrototypeIsPrototypeOf, PromisePrototypeThen, PromiseResolve, TypeError } =
  primordials;

let RequestClass;
let ResponseClass;
let URLClass;
let responseModule;
let InnerBody;

function headerPairs(headers) {
  const pairs = [];
  for (const { 0: name, 1: value } of headers) ArrayPrototypePush(pairs, [name, value]);
  return pairs;
}

const NO_HEADERS = [];

// A cache key as `{ url, method, headers }`. A string or URL key needs no
// Request (a hit is on the hot path, and building one costs more than the
// lookup): it is a GET without headers.
function toKey(input) {
  if (ObjectPrototypeIsPrototypeOf(RequestClass.prototype, input)) {
    return { url: input.url, method: input.method, headers: input.headers };
  }
  const text = `${input}`;
  try {
    return { url: new URLClass(text).href, method: "GET", headers: null };
  } catch {
    // workerd's message, which names the key.
    throw new TypeError(`Invalid URL: ${text}`);
  }
}

// What workerd answers for the methods of the spec's Cache that Workers
// leaves out.
function notImplemented(method) {
  return Promise.reject(new Error(`Failed to execute '${method}' on 'Cache': the method is not implemented.`));
}

function keyHeaders(key) {
  return key.headers === null ? NO_HEADERS : headerPairs(key.headers);
}

function ignoreMethod(options) {
  return options !== undefined && options !== null && options.ignoreMethod === true;
}

// Reports a synchronous failure as a rejected promise, as Workers does.
function async(fn) {
  try {
    return PromiseResolve(fn());
  } catch (error) {
    return Promise.reject(error);
  }
}

const NULL_BODY_STATUS = [101, 204, 205, 304];

// A Response for a stored entry, built from its parts the way deno_fetch
// builds one internally: its headers were validated when they were put, and
// going through the public constructor (its argument conversions and header
// checks) would cost several times the lookup on every hit.
function storedResponse(found) {
  const inner = responseModule.newInnerResponse(found.status, "");
  inner.headerList = found.headers;
  const bytes = found.body;
  if (bytes !== null && bytes !== undefined && !NULL_BODY_STATUS.includes(found.status)) {
    const body = new InnerBody({ body: bytes, consumed: false });
    body.source = bytes;
    body.length = bytes.byteLength;
    inner.body = body;
  }
  return responseModule.fromInnerResponse(inner, "response");
}

function fromDisk(found) {
  return found.found ? storedResponse(found) : undefined;
}

class Cache {
  #name;

  constructor(key, name) {
    if (key !== cacheKey) throw new TypeError("Illegal constructor");
    this.#name = name;
  }

  match(request, options) {
    return async(() => {
      const key = toKey(request);
      if (!ignoreMethod(options) && key.method !== "GET") return undefined;
      const headers = keyHeaders(key);
      const found = op_brink_cache_match(this.#name, key.url, headers);
      // Only on disk: read without blocking the isolate's thread.
      if (found.disk) {
        return PromisePrototypeThen(op_brink_cache_match_disk(this.#name, key.url, headers), fromDisk);
      }
      if (!found.found) return undefined;
      return storedResponse(found);
    });
  }

  put(request, response) {
    return async(async () => {
      if (!ObjectPrototypeIsPrototypeOf(ResponseClass.prototype, response)) {
        throw new TypeError("Failed to execute 'put' on 'Cache': parameter 2 is not of type 'Response'.");
      }
      if (response.type === "error") throw new TypeError("Cache is unable to store an error response");
      const key = toKey(request);
      if (key.method !== "GET") throw new TypeError("Cannot cache response to non-GET request.");
      if (response.status === 206) {
        throw new TypeError("Cannot cache response to a range request (206 Partial Content).");
      }
      const vary = response.headers.get("vary");
      if (vary !== null && vary.includes("*")) throw new TypeError("Cannot cache response with 'Vary: *' header.");
      if (response.bodyUsed) {
        throw new TypeError("Body has already been used. It can only be used once. Use tee() first if you need to read it twice.");
      }
      // A 304 answers a conditional request; caching it would serve an
      // empty answer to unconditional ones later. Workers drops it too.
      if (response.status === 304) return undefined;
      const body = new Uint8Array(await response.arrayBuffer());
      await op_brink_cache_put(
        this.#name,
        key.url,
        keyHeaders(key),
        response.status,
        headerPairs(response.headers),
        body,
      );
      return undefined;
    });
  }

  delete(request, options) {
    return async(() => {
      const key = toKey(request);
      if (!ignoreMethod(options) && key.method !== "GET") return false;
      return op_brink_cache_delete(this.#name, key.url);
    });
  }

  add() {
    return notImplemented("add");
  }

  addAll() {
    return notImplemented("addAll");
  }

  matchAll() {
    return notImplemented("matchAll");
  }

  keys() {
    return notImplemented("keys");
  }
}

const cacheKey = Symbol("brink.cache");

class CacheStorage {
  #default = null;

  constructor(key) {
    if (key !== cacheKey) throw new TypeError("Illegal constructor");
  }

  get default() {
    // The default cache's name is "", which open() cannot produce: its
    // names all start with "n:".
    return this.#default ??= new Cache(cacheKey, "");
  }

  open(name) {
    return async(() => {
      name = `${name}`;
      // workerd's bound, in UTF-8 bytes; an empty name is a cache of its own.
      if (core.encode(name).byteLength >= 1024) throw new TypeError("Cache name is too long.");
      return new Cache(cacheKey, `n:${name}`);
    });
  }
}

/** Called by the bootstrap, once Request and Response exist. */
function initCaches({ Request, Response, URL, response }) {
  RequestClass = Request;
  ResponseClass = Response;
  URLClass = URL;
  responseModule = response;
  InnerBody = core.loadExtScript("ext:deno_fetch/22_body.js").InnerBody;
  return { caches: new CacheStorage(cacheKey), Cache, CacheStorage };
}

return { initCaches };
})();
