// Checks the package as a consumer gets it: package.json entry points exist,
// TypeScript resolves the package under every module-resolution mode, the
// published file list holds the declarations (and nothing else), and a worker
// project that installs the package type-checks.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, mkdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const entry = realpathSync(join(root, "index.d.ts"));

// A throwaway worker project with the package installed as npm would: as
// node_modules/@brink/workers-types (a symlink to this directory).
function consumerProject(files) {
  const dir = mkdtempSync(join(tmpdir(), "brink-types-"));
  mkdirSync(join(dir, "node_modules", "@brink"), { recursive: true });
  symlinkSync(root, join(dir, "node_modules", "@brink", "workers-types"), "dir");
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer", private: true }));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

function exportTargets(exports) {
  if (typeof exports === "string") return [exports];
  return Object.values(exports).flatMap(exportTargets);
}

test("package.json describes a public 0.1.0 types package", () => {
  assert.equal(pkg.name, "@brink/workers-types");
  assert.equal(pkg.version, "0.1.0");
  assert.equal(pkg.private, false);
  assert.equal(pkg.types, "./index.d.ts");
  assert.deepEqual(pkg.exports["."], { types: "./index.d.ts" });
  assert.match(pkg.devDependencies.typescript, /^\d+\.\d+\.\d+$/, "typescript is pinned to an exact version");
});

test("every entry point and listed file exists", () => {
  for (const target of [pkg.types, ...exportTargets(pkg.exports)]) {
    assert.ok(existsSync(join(root, target)), `${target} is missing`);
  }
  for (const file of pkg.files) assert.ok(existsSync(join(root, file)), `${file} is missing`);
  // index.d.ts pulls in the others by relative import; each must be published.
  const index = readFileSync(entry, "utf8");
  for (const [, spec] of index.matchAll(/from "\.\/([\w-]+)\.js"/g)) {
    assert.ok(pkg.files.includes(`${spec}.d.ts`), `${spec}.d.ts is imported by index.d.ts but not in "files"`);
  }
});

test("TypeScript resolves the package under every module resolution", () => {
  const dir = consumerProject({ "worker.ts": "" });
  try {
    const containing = join(dir, "worker.ts");
    const modes = [
      [ts.ModuleResolutionKind.Node10, ts.ModuleKind.CommonJS, undefined],
      [ts.ModuleResolutionKind.Bundler, ts.ModuleKind.ESNext, undefined],
      [ts.ModuleResolutionKind.Node16, ts.ModuleKind.Node16, ts.ModuleKind.ESNext],
      [ts.ModuleResolutionKind.Node16, ts.ModuleKind.Node16, ts.ModuleKind.CommonJS],
      [ts.ModuleResolutionKind.NodeNext, ts.ModuleKind.NodeNext, ts.ModuleKind.ESNext],
      [ts.ModuleResolutionKind.NodeNext, ts.ModuleKind.NodeNext, ts.ModuleKind.CommonJS],
    ];
    for (const [moduleResolution, module, mode] of modes) {
      const options = { moduleResolution, module };
      const label = `${ts.ModuleResolutionKind[moduleResolution]}/${mode === undefined ? "-" : ts.ModuleKind[mode]}`;
      const imported = ts.resolveModuleName("@brink/workers-types", containing, options, ts.sys, undefined, undefined, mode);
      assert.equal(imported.resolvedModule?.resolvedFileName, entry, `import under ${label}`);
      // `"types": ["@brink/workers-types"]` in tsconfig.json goes this way.
      const typeRef = ts.resolveTypeReferenceDirective("@brink/workers-types", containing, options, ts.sys, undefined, undefined, mode);
      assert.equal(typeRef.resolvedTypeReferenceDirective?.resolvedFileName, entry, `types entry under ${label}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("README's module worker type-checks in a NodeNext project using the package", () => {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const worker = /## A module worker\n+```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(worker, "README.md has a ts block under '## A module worker'");
  const dir = consumerProject({ "worker.ts": worker });
  try {
    const program = ts.createProgram([join(dir, "worker.ts")], {
      target: ts.ScriptTarget.ES2022,
      lib: ["lib.es2022.d.ts", "lib.webworker.d.ts"],
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      types: ["@brink/workers-types"],
      strict: true,
      noEmit: true,
    });
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    assert.deepEqual(diagnostics, []);
    assert.ok(program.getSourceFiles().some((f) => realpathSync(f.fileName) === entry), "index.d.ts was loaded");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the published tarball holds the declarations, the test helper and README, not the tests", () => {
  const [report] = JSON.parse(execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: root, encoding: "utf8" }));
  const published = report.files.map((f) => f.path).sort();
  assert.deepEqual(published, [
    "README.md",
    "cdn.d.ts",
    "index.d.ts",
    "kv.d.ts",
    "modules.d.ts",
    "package.json",
    "testing.d.ts",
    "testing.mjs",
    "worker.d.ts",
  ]);
});
