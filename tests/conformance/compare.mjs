// How the conformance runner turns HTTP answers into comparable values and
// decides which cases fail. Pure functions, tested by compare.test.mjs.

// Response headers left out of the comparison, each with why it may differ.
export const IGNORED_HEADERS = {
  date: "the time of the response",
  "transfer-encoding": "framing is the server's choice (chunked or a known length)",
  connection: "connection management of each server",
  "keep-alive": "connection management of each server",
  "content-length":
    "framing: a runtime may send a streamed body chunked where another counts it (the body itself is compared byte for byte); compared on answers to HEAD, which have no body to compare",
  server: "the server's name",
};

// One answer as compared: status, reason phrase, headers (lower-cased names,
// sorted, without IGNORED_HEADERS) and the body (text if it is UTF-8, else
// hex). `res` is a node:http IncomingMessage; `error` says how the body broke;
// `method` is the request's (a HEAD answer keeps its content-length).
export function describe(res, body, error, method = "GET") {
  const headers = [];
  for (let i = 0; i < res.rawHeaders.length; i += 2) {
    const name = res.rawHeaders[i].toLowerCase();
    const kept = !Object.hasOwn(IGNORED_HEADERS, name) || (name === "content-length" && method === "HEAD");
    if (kept) headers.push(`${name}: ${res.rawHeaders[i + 1]}`);
  }
  headers.sort();
  const text = body.toString("utf8");
  const out = {
    status: res.statusCode,
    statusText: res.statusMessage,
    headers,
    body: Buffer.from(text, "utf8").equals(body) ? text : { hex: body.toString("hex") },
  };
  if (error) out.error = error;
  return out;
}

export const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

export const clip = (v) => {
  const s = v === undefined ? "-" : JSON.stringify(v);
  return s.length > 400 ? `${s.slice(0, 400)}...` : s;
};

// The fields in which Brink's and workerd's answers to a case differ.
export function differences(brink, workerd) {
  const out = [];
  brink.forEach((a, i) => {
    const b = workerd[i] ?? {};
    for (const field of ["error", "status", "statusText", "headers", "body"]) {
      if (!same(a[field], b[field])) {
        out.push(`request ${i + 1} ${field}: brink ${clip(a[field])} | workerd ${clip(b[field])}`);
      }
    }
  });
  return out;
}

// A request neither runtime answered (both failed before a response head)
// proves nothing: the case or the runner is broken.
const unanswered = (answers) => answers.some((a) => a.status === undefined);

// harness.js's show() of a promise: the case forgot an await.
const UNAWAITED = "<unawaited Promise>";
const unawaited = (answers) => answers.some((a) => typeof a.body === "string" && a.body.includes(UNAWAITED));

// Decides every case. `results`: [{ c: { id }, brink, workerd, deno }] with
// `brink`/`workerd` arrays of answers and `deno` "same" | "differs" | "n/a";
// `expectations`: { id: { kind, reason } }; `complete`: every case ran, so
// an expectation without a case is stale. Returns the table rows and the
// failures (each a message); any failure fails the suite.
export function judge(results, expectations, { complete }) {
  const rows = [];
  const failures = [];
  for (const r of results) {
    const id = r.c.id;
    const e = Object.hasOwn(expectations, id) ? expectations[id] : undefined;
    const brinkSame = same(r.brink, r.workerd);
    let verdict;
    if (brinkSame && unanswered(r.brink)) {
      verdict = "NO ANSWER";
      failures.push(`${id}: neither Brink nor workerd answered: ${clip(r.brink)}`);
    } else if (unawaited(r.brink) || unawaited(r.workerd)) {
      verdict = "BROKEN CASE";
      failures.push(`${id}: the case shows an unawaited Promise (a missing await): ${clip(r.workerd)}`);
    } else if (brinkSame && e) {
      verdict = "FIXED (remove expectation)";
      failures.push(`${id}: listed in expectations.json but now identical to workerd: remove the expectation`);
    } else if (brinkSame) {
      verdict = "same";
    } else if (e) {
      verdict = `expected (${e.kind})`;
    } else {
      verdict = "DIFFERS";
      failures.push(`${id}: differs from workerd\n    ${differences(r.brink, r.workerd).join("\n    ")}`);
    }
    rows.push({ id, verdict, deno: r.deno });
  }
  if (complete) {
    const ids = new Set(results.map((r) => r.c.id));
    for (const id of Object.keys(expectations)) {
      if (!ids.has(id)) failures.push(`${id}: listed in expectations.json but no such case`);
    }
  }
  return { rows, failures };
}
