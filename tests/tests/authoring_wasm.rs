//! WebAssembly modules as Workers has them: `import mod from "./x.wasm"`
//! is a compiled `WebAssembly.Module`, instantiated by the worker with its
//! imports. The `.wasm` files are built here from WAT text.

use brink_tests::{client, example, Brink, BrinkServe};

/// A module that calls back into JavaScript (`env.report`) and keeps a
/// counter in a global: instances are separate, the compiled module shared.
const COUNTER_WAT: &str = r#"
(module
  (import "env" "report" (func $report (param i32)))
  (global $count (mut i32) (i32.const 0))
  (func (export "add") (param $a i32) (param $b i32) (result i32)
    (local.get $a) (local.get $b) (i32.add))
  (func (export "bump") (result i32)
    (global.set $count (i32.add (global.get $count) (i32.const 1)))
    (call $report (global.get $count))
    (global.get $count)))
"#;

const WASM_WORKER: &str = r#"import counter from "./counter.wasm";

const reported: number[] = [];
const imports = { env: { report: (n: number) => { reported.push(n); } } };
// One instance for the isolate, made at load.
const shared = await WebAssembly.instantiate(counter, imports);

export default {
  async fetch(request: Request): Promise<Response> {
    const fresh = await WebAssembly.instantiate(counter, imports);
    const sync = new WebAssembly.Instance(counter, imports);
    const exports = shared.exports as { add(a: number, b: number): number; bump(): number };
    const body = {
      isModule: counter instanceof WebAssembly.Module,
      exports: WebAssembly.Module.exports(counter).map((e) => `${e.name}:${e.kind}`),
      imports: WebAssembly.Module.imports(counter).map((i) => `${i.module}.${i.name}`),
      add: exports.add(40, 2),
      shared: exports.bump(),
      fresh: (fresh.exports as { bump(): number }).bump(),
      sync: (sync.exports as { bump(): number }).bump(),
      reported: reported.slice(-3),
    };
    return Response.json(body);
  },
};
"#;

fn wasm_project(worker: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("counter.wasm"), wat::parse_str(COUNTER_WAT).unwrap()).unwrap();
    std::fs::write(dir.path().join("worker.ts"), worker).unwrap();
    dir
}

#[tokio::test]
async fn wasm_import_is_a_compiled_module_instantiated_with_imports() {
    // `?raw` is not a module: the graph check rejects it (Workers has no
    // query-string imports either).
    let dir = wasm_project("import raw from \"./counter.wasm?raw\";\nexport default { fetch: () => new Response(String(raw)) };\n");
    let (status, logs) = Brink::start_expecting_failure(dir.path().join("worker.ts"), &[]);
    assert!(!status.success());
    assert!(logs.contains("worker.ts:1:"), "{logs}");

    let dir = wasm_project(WASM_WORKER);
    let brink = Brink::start(dir.path().join("worker.ts"), &[]);
    let response = client().get(brink.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", brink.logs());
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["isModule"], true);
    assert_eq!(body["exports"], serde_json::json!(["add:function", "bump:function"]));
    assert_eq!(body["imports"], serde_json::json!(["env.report"]));
    assert_eq!(body["add"], 42);
    assert_eq!(body["shared"], 1);
    assert_eq!(body["fresh"], 1);
    assert_eq!(body["sync"], 1);
    assert_eq!(body["reported"], serde_json::json!([1, 1, 1]));
    // The isolate's instance keeps its state; per-request ones start anew.
    let body: serde_json::Value = client().get(brink.url("/")).send().await.unwrap().json().await.unwrap();
    assert_eq!((body["shared"].as_u64(), body["fresh"].as_u64()), (Some(2), Some(1)));
}

#[test]
fn a_wasm_file_that_is_not_webassembly_fails_at_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.wasm"), "(module)").unwrap();
    std::fs::write(dir.path().join("worker.js"), "import m from \"./bad.wasm\";\nexport default { fetch: () => new Response(\"x\") };\n").unwrap();
    let (status, logs) = Brink::start_expecting_failure(dir.path().join("worker.js"), &[]);
    assert!(!status.success());
    assert!(logs.contains("bad.wasm") && logs.contains("not a WebAssembly module"), "{logs}");
}

#[test]
fn a_wasm_module_that_does_not_validate_fails_at_load() {
    let dir = tempfile::tempdir().unwrap();
    // The header is right, the body is garbage.
    std::fs::write(dir.path().join("broken.wasm"), b"\0asm\x01\0\0\0\x01\xff\xff\xff").unwrap();
    std::fs::write(dir.path().join("worker.js"), "import m from \"./broken.wasm\";\nexport default { fetch: () => new Response(\"x\") };\n").unwrap();
    let (status, logs) = Brink::start_expecting_failure(dir.path().join("worker.js"), &[]);
    assert!(!status.success());
    assert!(logs.contains("CompileError"), "{logs}");
}

#[test]
fn the_example_wasm_is_built_from_its_wat() {
    let wat = example("wasm-hash/hash.wat");
    let built = wat::parse_file(&wat).unwrap();
    let committed = std::fs::read(example("wasm-hash/hash.wasm")).unwrap();
    assert!(built == committed, "examples/wasm-hash/hash.wasm is stale: rebuild it from hash.wat with the wat crate");
}

/// 64-bit FNV-1a, the reference for the example.
fn fnv1a64(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf29ce484222325;
    for byte in bytes {
        hash = (hash ^ u64::from(*byte)).wrapping_mul(0x100000001b3);
    }
    format!("{hash:016x}")
}

#[tokio::test]
async fn the_wasm_hash_example_hashes_in_webassembly() {
    let brink = Brink::start(example("wasm-hash/worker.ts"), &[]);
    let text = client().get(brink.url("/?text=hello")).send().await.unwrap().text().await.unwrap();
    assert_eq!(text.trim(), fnv1a64(b"hello"));
    // A 3 MiB body: the module's memory grows to fit.
    let body: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let response = client().post(brink.url("/")).body(body.clone()).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap().trim(), fnv1a64(&body));
    let bench: Vec<u8> = (0..1024 * 1024u32).map(|i| (i.wrapping_mul(31) & 0xff) as u8).collect();
    let text = client().get(brink.url("/bench")).send().await.unwrap().text().await.unwrap();
    assert_eq!(text.trim(), fnv1a64(&bench));
    let too_big = client().post(brink.url("/")).body(vec![0u8; 17 * 1024 * 1024]).send().await.unwrap();
    assert_eq!(too_big.status(), 413);
}

#[tokio::test]
async fn a_deployed_wasm_worker_runs_in_every_isolate() {
    let server = BrinkServe::start(&[]);
    let dir = wasm_project(WASM_WORKER);
    server.deploy(dir.path().join("worker.ts"), "wasm", &["--route", "wasm.example"]);
    let (status, body) = server.get("wasm.example", "/").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"add\":42"), "{body}");
    // A rollback-safe copy: the stored module is the file as uploaded.
    let stored = std::fs::read(server.data_dir.join("workers/wasm/v1/modules/counter.wasm")).unwrap();
    assert_eq!(stored, wat::parse_str(COUNTER_WAT).unwrap());
}
