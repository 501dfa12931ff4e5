// Runs the worker in `brink dev` and sends it real requests:
//   npm test        (or: node --test test/)
// Set BRINK to the brink binary if it is not on your PATH.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startDev } from "@brink/workers-types/testing";

let dev;

before(async () => {
  dev = await startDev({ cwd: new URL("..", import.meta.url) });
});

after(async () => {
  await dev?.stop();
});

test("greets", async () => {
  const response = await fetch(new URL("/", dev.url));
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "Hello from {{name}}!\n");
});

test("answers its health check", async () => {
  const response = await fetch(new URL("/health", dev.url));
  assert.equal(await response.text(), "ok\n");
});
