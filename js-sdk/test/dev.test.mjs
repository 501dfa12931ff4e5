// The test helper against a live `brink dev` (BRINK names the binary;
// test.sh points it at the workspace's release build), and `brink init`'s
// project test, run as its author would run it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startDev } from "@brink/workers-types/testing";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const examples = join(root, "..", "examples");

function fnv1a64(bytes) {
  let hash = 0xcbf29ce484222325n;
  for (const byte of bytes) hash = ((hash ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return hash.toString(16).padStart(16, "0");
}

test("startDev serves a TypeScript worker that hashes in WebAssembly", async () => {
  const dev = await startDev({ entry: join(examples, "wasm-hash", "worker.ts") });
  try {
    assert.match(dev.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const response = await fetch(new URL("/?text=hello", dev.url));
    assert.equal(response.status, 200);
    assert.equal((await response.text()).trim(), fnv1a64(new TextEncoder().encode("hello")));
    const body = new Uint8Array(100_000).map((_, i) => i % 256);
    const posted = await fetch(dev.url, { method: "POST", body });
    assert.equal((await posted.text()).trim(), fnv1a64(body));
  } finally {
    await dev.stop();
  }
});

test("startDev passes vars and stops the server", async () => {
  const dir = mkdtempSync(join(tmpdir(), "brink-sdk-"));
  try {
    writeFileSync(
      join(dir, "worker.ts"),
      "export default { fetch: (_r: Request, env: { WHO: string }): Response => new Response(`hi ${env.WHO}`) };\n",
    );
    const dev = await startDev({ entry: join(dir, "worker.ts"), vars: { WHO: "node" } });
    assert.equal(await (await fetch(dev.url)).text(), "hi node");
    assert.match(dev.logs(), /listening on/);
    await dev.stop();
    await assert.rejects(fetch(dev.url), "the server is gone after stop()");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("startDev rejects with brink's error when the worker does not load", async () => {
  const dir = mkdtempSync(join(tmpdir(), "brink-sdk-"));
  try {
    writeFileSync(join(dir, "worker.ts"), "const x: = 1;\n");
    await assert.rejects(startDev({ entry: join(dir, "worker.ts") }), /worker\.ts:1:\d+: SyntaxError/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("brink init's project passes its own test against brink dev", () => {
  const dir = mkdtempSync(join(tmpdir(), "brink-init-"));
  try {
    const app = join(dir, "hello-app");
    const init = spawnSync(process.env.BRINK ?? "brink", ["init", app], { encoding: "utf8" });
    assert.equal(init.status, 0, init.stderr);
    // As `npm install` would: the package under node_modules.
    mkdirSync(join(app, "node_modules", "@brink"), { recursive: true });
    symlinkSync(root, join(app, "node_modules", "@brink", "workers-types"), "dir");
    assert.ok(existsSync(join(app, "test", "index.test.mjs")));
    // Without this test run's NODE_TEST_CONTEXT, the inner runner reports as
    // on a terminal (TAP), not to this runner.
    const { NODE_TEST_CONTEXT, ...env } = process.env;
    const run = spawnSync(process.execPath, ["--test", "test/"], { cwd: app, encoding: "utf8", env });
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /# pass 2/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
