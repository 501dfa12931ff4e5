// Tests of the runner's judgement (node --test; test.sh runs it before the
// suite): a suite that passed whatever the runtimes answered would be worse
// than none.
import assert from "node:assert/strict";
import { test } from "node:test";
import { describe, judge } from "./compare.mjs";

const answer = (body, extra = {}) => ({ status: 200, statusText: "OK", headers: [], body, ...extra });
const result = (id, brink, workerd, deno = "same") => ({ c: { id }, brink, workerd, deno });
const listed = { kind: "brink-bug", reason: "known" };

test("identical answers pass", () => {
  const { rows, failures } = judge([result("a/b/c", [answer("x")], [answer("x")])], {}, { complete: true });
  assert.deepEqual(failures, []);
  assert.equal(rows[0].verdict, "same");
});

test("an unlisted difference fails and names the field", () => {
  const { failures } = judge([result("a/b/c", [answer("x")], [answer("y")])], {}, { complete: true });
  assert.equal(failures.length, 1);
  assert.match(failures[0], /a\/b\/c: differs from workerd/);
  assert.match(failures[0], /request 1 body: brink "x" \| workerd "y"/);
});

test("a listed difference passes", () => {
  const { rows, failures } = judge([result("a/b/c", [answer("x")], [answer("y")])], { "a/b/c": listed }, { complete: true });
  assert.deepEqual(failures, []);
  assert.equal(rows[0].verdict, "expected (brink-bug)");
});

test("a listed case that no longer differs fails: remove the expectation", () => {
  const { failures } = judge([result("a/b/c", [answer("x")], [answer("x")])], { "a/b/c": listed }, { complete: true });
  assert.equal(failures.length, 1);
  assert.match(failures[0], /remove the expectation/);
});

test("an expectation without a case fails only when every case ran", () => {
  const results = [result("a/b/c", [answer("x")], [answer("x")])];
  assert.equal(judge(results, { "gone/case": listed }, { complete: true }).failures.length, 1);
  assert.equal(judge(results, { "gone/case": listed }, { complete: false }).failures.length, 0);
});

test("both runtimes failing to answer is a failure, not a match", () => {
  const broken = [{ error: "request failed: ECONNREFUSED" }];
  const { failures } = judge([result("a/b/c", broken, broken)], {}, { complete: true });
  assert.equal(failures.length, 1);
  assert.match(failures[0], /neither Brink nor workerd answered/);
});

test("a case that shows an unawaited promise fails even when both agree", () => {
  const shown = [answer('{"value":"<unawaited Promise>"}')];
  const { failures } = judge([result("a/b/c", shown, shown)], {}, { complete: true });
  assert.match(failures[0], /unawaited Promise/);
});

test("a difference in any later request counts", () => {
  const { failures } = judge([result("a/b/c", [answer("x"), answer("1")], [answer("x"), answer("2")])], {}, { complete: true });
  assert.match(failures[0], /request 2 body/);
});

test("status text and headers are compared", () => {
  const r = judge(
    [
      result("s/t/a", [answer("x", { statusText: "Created" })], [answer("x", { statusText: "Made" })]),
      result("s/t/b", [answer("x", { headers: ["x-a: 1"] })], [answer("x", { headers: ["x-a: 2"] })]),
    ],
    {},
    { complete: true },
  );
  assert.equal(r.failures.length, 2);
});

test("describe drops only the ignored headers, sorts the rest and keeps binary bodies", () => {
  const res = {
    statusCode: 201,
    statusMessage: "Created",
    rawHeaders: ["Date", "now", "X-B", "2", "Content-Length", "3", "x-a", "1", "Set-Cookie", "a=1", "Set-Cookie", "b=2"],
  };
  const d = describe(res, Buffer.from([0xff, 0x00, 0x41]), null);
  assert.deepEqual(d.headers, ["set-cookie: a=1", "set-cookie: b=2", "x-a: 1", "x-b: 2"]);
  assert.deepEqual(d.body, { hex: "ff0041" });
  assert.equal(describe(res, Buffer.from("héllo"), "body aborted").body, "héllo");
  assert.equal(describe(res, Buffer.from("x"), "body aborted").error, "body aborted");
});

test("content-length is compared on answers to HEAD only", () => {
  const res = { statusCode: 200, statusMessage: "OK", rawHeaders: ["Content-Length", "12"] };
  assert.deepEqual(describe(res, Buffer.from(""), null, "HEAD").headers, ["content-length: 12"]);
  assert.deepEqual(describe(res, Buffer.from("x"), null, "GET").headers, []);
});

test("a prototype key such as constructor is not taken for an ignored header", () => {
  const d = describe({ statusCode: 200, statusMessage: "OK", rawHeaders: ["constructor", "x"] }, Buffer.from(""), null);
  assert.deepEqual(d.headers, ["constructor: x"]);
});
