// @brink/workers-types/testing: run a worker in `brink dev` from a test.

export interface StartDevOptions {
  /** The entry module or project directory; default: the brink.toml in `cwd`. */
  entry?: string | URL;
  /** Where `brink dev` runs (a project's directory); default: this process's. */
  cwd?: string | URL;
  /** The brink binary; default: `$BRINK`, else `brink` on the PATH. */
  brink?: string;
  /** `--var KEY=VALUE` bindings. */
  vars?: Record<string, string>;
  /** More `brink dev` arguments, e.g. `["--kv", "COUNTS"]`. */
  args?: string[];
  /** How long to wait for it to listen; default 30 000 ms. */
  timeoutMs?: number;
}

export interface DevServer {
  /** `http://127.0.0.1:PORT`, the worker's address. */
  readonly url: string;
  /** Everything `brink dev` has logged so far. */
  logs(): string;
  /** Stops `brink dev` (SIGTERM, then SIGKILL after 5 s) and removes its data. */
  stop(): Promise<void>;
}

/** Starts `brink dev` on a free port; resolves once it serves. */
export function startDev(options?: StartDevOptions): Promise<DevServer>;
