// @brink/workers-types/testing: runs a worker in `brink dev` for a test.
//
//   import { startDev } from "@brink/workers-types/testing";
//   const dev = await startDev({ entry: "src/index.ts" });
//   const response = await fetch(new URL("/", dev.url));
//   await dev.stop();
//
// `brink dev` picks a free port itself (--port 0); the URL is read from the
// line it logs once it listens. Its KV data goes to a temporary directory,
// removed by stop().
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const LISTENING = /listening on (https?:\/\/[\d.:[\]a-z]+)/;

function toPath(value) {
  return value instanceof URL ? fileURLToPath(value) : value;
}

/**
 * Starts `brink dev` and resolves once it serves.
 * @param {import("./testing.js").StartDevOptions} [options]
 * @returns {Promise<import("./testing.js").DevServer>}
 */
export async function startDev(options = {}) {
  const brink = options.brink ?? process.env.BRINK ?? "brink";
  const dataDir = mkdtempSync(join(tmpdir(), "brink-dev-"));
  const args = ["dev"];
  if (options.entry !== undefined) args.push(toPath(options.entry));
  args.push("--port", "0", "--data-dir", dataDir);
  for (const [key, value] of Object.entries(options.vars ?? {})) args.push("--var", `${key}=${value}`);
  args.push(...(options.args ?? []));
  const child = spawn(brink, args, {
    cwd: options.cwd === undefined ? undefined : toPath(options.cwd),
    env: { ...process.env, NO_COLOR: "1", RUST_LOG: process.env.RUST_LOG ?? "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let logs = "";
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const cleanUp = () => rmSync(dataDir, { recursive: true, force: true });

  const url = await new Promise((resolve, reject) => {
    const timeout = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`brink dev did not listen within ${options.timeoutMs ?? 30000} ms:\n${logs}`));
    }, options.timeoutMs ?? 30000);
    const onData = (chunk) => {
      logs += chunk;
      const found = LISTENING.exec(logs);
      if (found) {
        clearTimeout(timeout);
        resolve(found[1]);
      }
    };
    child.stdout.setEncoding("utf8").on("data", onData);
    child.stderr.setEncoding("utf8").on("data", onData);
    child.once("error", (error) => {
      clearTimeout(timeout);
      reject(new Error(`cannot run ${brink}: ${error.message} (set BRINK to the brink binary)`));
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timeout);
      reject(new Error(`brink dev exited (${signal ?? code}) before listening:\n${logs}`));
    });
  }).catch((error) => {
    cleanUp();
    throw error;
  });

  return {
    url,
    logs: () => logs,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const killer = setTimeout(() => child.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(killer);
      }
      cleanUp();
    },
  };
}
