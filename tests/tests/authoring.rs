//! Worker authoring: TypeScript entries and modules, module graphs with
//! JSON, text and binary imports, errors that point into the original
//! `.ts`, `brink dev` reloading on change, `brink init`, and `brink deploy`
//! of a TypeScript project (the server strips the types).

use std::path::Path;
use std::time::{Duration, Instant};

use brink_tests::{brink_bin, client, Brink, BrinkServe};

/// Writes `files` (path, contents) into a new temporary directory.
fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, contents) in files {
        write(dir.path(), path, contents);
    }
    dir
}

fn write(dir: &Path, path: &str, contents: &str) {
    let path = dir.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

async fn get(brink: &Brink, path: &str) -> (u16, String) {
    let response = client().get(brink.url(path)).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

const TS_WORKER: &str = r#"import type { ExportedHandler } from "@brink/workers-types";
import { greet, Mood } from "./lib/greet";
import { twice } from "./util.js";
import { plain } from "./plain.js";
import data from "./data.json";
import page from "./page.html";
import notes from "./notes.txt";
import blob from "./blob.bin";

interface Env {
  NAME: string;
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const bytes = new Uint8Array(blob as ArrayBuffer);
    const body = {
      greeting: greet(env.NAME, Mood.Happy),
      twice: twice(21),
      plain: plain(),
      data: data.answer,
      page: (page as string).trim(),
      notes: (notes as string).trim(),
      blob: [blob instanceof ArrayBuffer, bytes.length, bytes[0], bytes[bytes.length - 1]],
    };
    return Response.json(body);
  },
} satisfies ExportedHandler<Env>;
"#;

fn ts_project() -> tempfile::TempDir {
    project(&[
        ("worker.ts", TS_WORKER),
        (
            "lib/greet.ts",
            "export enum Mood { Sad, Happy }\nexport function greet(name: string, mood: Mood): string {\n  return `${mood === Mood.Happy ? \"hello\" : \"meh\"}, ${name}`;\n}\n",
        ),
        ("util.ts", "export const twice = (n: number): number => n * 2;\n"),
        ("plain.js", "export function plain() { return \"js\"; }\n"),
        ("data.json", "{ \"answer\": 42 }\n"),
        ("page.html", "<p>hi</p>\n"),
        ("notes.txt", "plain text\n"),
        ("blob.bin", "\u{1}binary\u{7f}"),
    ])
}

#[tokio::test]
async fn typescript_entry_imports_ts_js_json_text_and_data() {
    let dir = ts_project();
    let brink = Brink::start(dir.path().join("worker.ts"), &["--var", "NAME=brink"]);
    let (status, body) = get(&brink, "/").await;
    assert_eq!(status, 200, "{body}\n{}", brink.logs());
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["greeting"], "hello, brink");
    assert_eq!(body["twice"], 42);
    assert_eq!(body["plain"], "js");
    assert_eq!(body["data"], 42);
    assert_eq!(body["page"], "<p>hi</p>");
    assert_eq!(body["notes"], "plain text");
    assert_eq!(body["blob"], serde_json::json!([true, 8, 1, 127]));
}

#[tokio::test]
async fn uncaught_errors_point_into_the_typescript_source() {
    let dir = project(&[(
        "worker.ts",
        // Types on the lines before the throw: the JavaScript has fewer
        // lines, so only a source map gets the line right.
        "interface A {\n  a: string;\n}\ntype B = A | null;\n\nfunction explode(reason: string): never {\n  throw new Error(`exploded: ${reason}`);\n}\n\nexport default {\n  fetch(request: Request): Response {\n    explode(\"on purpose\" as string);\n  },\n};\n",
    )]);
    let brink = Brink::start(dir.path().join("worker.ts"), &[]);
    let (status, _) = get(&brink, "/").await;
    assert_eq!(status, 500);
    assert!(brink.wait_for_log("exploded: on purpose", Duration::from_secs(5)), "{}", brink.logs());
    let logs = brink.logs();
    assert!(logs.contains("worker.ts:7:"), "no worker.ts:7: (the throw) in:\n{logs}");
    assert!(logs.contains("worker.ts:12:"), "no worker.ts:12: (the call) in:\n{logs}");
}

#[test]
fn typescript_syntax_error_fails_with_file_line_column() {
    let dir = project(&[
        ("worker.ts", "import { f } from \"./lib\";\nexport default { fetch: f };\n"),
        ("lib.ts", "// fine\n\nexport const f = (x: number) => {\n  return x +;\n};\n"),
    ]);
    let (status, logs) = Brink::start_expecting_failure(dir.path().join("worker.ts"), &[]);
    assert!(!status.success());
    assert!(logs.contains("lib.ts:4:"), "no lib.ts:4: in:\n{logs}");
    assert!(logs.contains("SyntaxError"), "{logs}");
}

#[test]
fn top_level_throw_in_typescript_reports_the_original_line() {
    let dir = project(&[(
        "worker.ts",
        "type Config = { port: number };\n\ninterface Unused {\n  x: number;\n}\n\nconst config: Config | undefined = undefined;\nif (!config) throw new Error(\"no config\");\nexport default { fetch: () => new Response(\"x\") };\n",
    )]);
    let (status, logs) = Brink::start_expecting_failure(dir.path().join("worker.ts"), &[]);
    assert!(!status.success());
    assert!(logs.contains("no config"), "{logs}");
    assert!(logs.contains("worker.ts:8:"), "no worker.ts:8: in:\n{logs}");
}

#[test]
fn bad_imports_fail_at_start_with_importer_and_line() {
    let cases = [
        ("import x from \"./nope\";", "imported module \"./nope\" not found"),
        ("import x from \"node:fs\";", "outside the worker's directory"),
        ("import x from \"../outside.js\";", "outside the worker's directory"),
        ("import x from \"./logo.png\";", "no module rule"),
        ("import \"./side-effect-only\";", "imported module \"./side-effect-only\" not found"),
        ("const x = await import(\"https://example.com/x.js\");", "outside the worker's directory"),
    ];
    for (import, expected) in cases {
        // `x` is used: TypeScript drops imports whose bindings are unused.
        let source = format!(
            "// a comment\ninterface X {{ y: number }}\n{import}\nexport default {{ fetch: () => new Response(String(typeof x)) }};\n"
        );
        let dir = project(&[("src/worker.ts", &source), ("src/logo.png", "png"), ("outside.js", "")]);
        let (status, logs) = Brink::start_expecting_failure(dir.path().join("src/worker.ts"), &[]);
        assert!(!status.success(), "{import}");
        assert!(logs.contains(expected), "{import}: no {expected:?} in:\n{logs}");
        assert!(logs.contains("worker.ts:3:"), "{import}: no worker.ts:3: in:\n{logs}");
    }
}

#[test]
fn invalid_json_module_fails_with_its_line() {
    let dir = project(&[
        ("worker.js", "import d from \"./d.json\";\nexport default { fetch: () => Response.json(d) };\n"),
        ("d.json", "{\n  \"a\": 1,\n  oops\n}\n"),
    ]);
    let (status, logs) = Brink::start_expecting_failure(dir.path().join("worker.js"), &[]);
    assert!(!status.success());
    assert!(logs.contains("d.json:3:"), "{logs}");
}

#[tokio::test]
async fn computed_imports_stay_inside_the_bundle() {
    // A specifier the bundler cannot see: the loader still refuses anything
    // outside the bundle, and the worker's own modules still load.
    let dir = project(&[
        (
            "worker.ts",
            "export default {\n  async fetch(request: Request): Promise<Response> {\n    const target = new URL(request.url).searchParams.get(\"m\") ?? \"\";\n    try {\n      const m = await import(target);\n      return new Response(`loaded ${Object.keys(m).join(\",\")}`);\n    } catch (error) {\n      return new Response(`refused: ${(error as Error).message}`);\n    }\n  },\n};\n",
        ),
        ("secret.txt", "top secret"),
    ]);
    let brink = Brink::start(dir.path().join("worker.ts"), &[]);
    for target in ["file:///etc/passwd", "../secret.txt", "./secret.txt", "https://example.com/x.js", "node:fs"] {
        let (_, body) = get(&brink, &format!("/?m={target}")).await;
        assert!(body.starts_with("refused:"), "{target}: {body}");
        assert!(!body.contains("root:"), "{target}: {body}");
    }
}

/// Polls `path` until its body satisfies `accept`, or panics after 20 s.
async fn wait_for_body(brink: &Brink, path: &str, accept: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(response) = client().get(brink.url(path)).send().await {
            let body = response.text().await.unwrap_or_default();
            if accept(&body) {
                return body;
            }
            assert!(Instant::now() < deadline, "last body {body:?}\n{}", brink.logs());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn dev_reloads_on_change_and_keeps_the_last_good_version() {
    let dir = project(&[
        ("worker.ts", "import { word } from \"./word\";\nexport default { fetch: () => new Response(word()) };\n"),
        ("word.ts", "export const word = (): string => \"one\";\n"),
    ]);
    let brink = Brink::start(dir.path().join("worker.ts"), &[]);
    assert_eq!(get(&brink, "/").await.1, "one");

    // An imported module changes.
    write(dir.path(), "word.ts", "export const word = (): string => \"two\";\n");
    wait_for_body(&brink, "/", |body| body == "two").await;

    // A broken edit: logged, and the last good version keeps serving.
    write(dir.path(), "word.ts", "export const word = (): string => {\n");
    assert!(brink.wait_for_log("reload failed", Duration::from_secs(20)), "{}", brink.logs());
    assert!(brink.logs().contains("word.ts:"), "{}", brink.logs());
    assert_eq!(get(&brink, "/").await.1, "two");

    // A module that throws at load is kept out the same way.
    write(dir.path(), "word.ts", "throw new Error(\"bad load\");\nexport const word = () => \"x\";\n");
    assert!(brink.wait_for_log("bad load", Duration::from_secs(20)), "{}", brink.logs());
    assert_eq!(get(&brink, "/").await.1, "two");

    // The entry gains a new import: the new file is watched too.
    write(dir.path(), "extra.ts", "export const extra = \"+extra\";\n");
    write(dir.path(), "word.ts", "export const word = (): string => \"three\";\n");
    write(
        dir.path(),
        "worker.ts",
        "import { word } from \"./word\";\nimport { extra } from \"./extra\";\nexport default { fetch: () => new Response(word() + extra) };\n",
    );
    wait_for_body(&brink, "/", |body| body == "three+extra").await;
    write(dir.path(), "extra.ts", "export const extra = \"+more\";\n");
    wait_for_body(&brink, "/", |body| body == "three+more").await;
}

#[tokio::test]
async fn no_watch_keeps_the_loaded_version() {
    let dir = project(&[("worker.js", "export default { fetch: () => new Response(\"one\") };\n")]);
    let brink = Brink::start(dir.path().join("worker.js"), &["--no-watch"]);
    write(dir.path(), "worker.js", "export default { fetch: () => new Response(\"two\") };\n");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(get(&brink, "/").await.1, "one");
}

#[tokio::test]
async fn init_creates_a_project_that_dev_serves() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("My_Worker");
    let output = std::process::Command::new(brink_bin()).arg("init").arg(&dir).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    for file in ["src/index.ts", "brink.toml", "README.md", "test/index.test.mjs", "package.json", "tsconfig.json"] {
        assert!(dir.join(file).is_file(), "{file} missing");
    }
    let toml = std::fs::read_to_string(dir.join("brink.toml")).unwrap();
    assert!(toml.contains("name = \"my-worker\""), "{toml}");

    // `brink dev DIR` reads its brink.toml: entry, name and vars.
    let brink = Brink::start(&dir, &[]);
    assert_eq!(get(&brink, "/").await, (200, "Hello from my-worker!\n".to_string()));
    assert_eq!(get(&brink, "/health").await.1, "ok\n");
    // The command line overrides the file's vars.
    let brink = Brink::start(&dir, &["--var", "GREETING=Howdy"]);
    assert_eq!(get(&brink, "/").await.1, "Howdy from my-worker!\n");

    // A second init into the same (now non-empty) directory is refused.
    let again = std::process::Command::new(brink_bin()).arg("init").arg(&dir).output().unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
}

#[test]
fn init_refuses_names_that_are_not_worker_names() {
    let scratch = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(brink_bin())
        .arg("init")
        .arg(scratch.path().join("ok"))
        .args(["--name", "Bad Name"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("invalid worker name"));
    assert!(!scratch.path().join("ok/brink.toml").exists());
}

#[test]
fn dev_without_a_project_file_says_so() {
    let dir = project(&[("brink.toml", "name = \"x\"\nentry = \"w.ts\"\nunknown = 1\n"), ("w.ts", "")]);
    let (status, logs) = Brink::start_expecting_failure(dir.path(), &[]);
    assert!(!status.success());
    assert!(logs.contains("brink.toml") && logs.contains("unknown"), "{logs}");
    let empty = tempfile::tempdir().unwrap();
    let (status, logs) = Brink::start_expecting_failure(empty.path(), &[]);
    assert!(!status.success());
    assert!(logs.contains("brink.toml"), "{logs}");
}

#[tokio::test]
async fn deploy_uploads_typescript_sources_and_the_server_strips_them() {
    let server = BrinkServe::start(&[]);
    let dir = ts_project();
    server.deploy(dir.path().join("worker.ts"), "tsapp", &["--route", "ts.example", "--var", "NAME=prod"]);
    let (status, body) = server.get("ts.example", "/").await;
    assert_eq!(status, 200, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["greeting"], "hello, prod");
    assert_eq!(body["blob"], serde_json::json!([true, 8, 1, 127]));
    // What is stored is the TypeScript as written.
    let stored = server.data_dir.join("workers/tsapp/v1/modules/lib/greet.ts");
    assert!(std::fs::read_to_string(&stored).unwrap().contains("mood: Mood"));

    // A project deploys from its brink.toml.
    let scratch = tempfile::tempdir().unwrap();
    let app = scratch.path().join("app");
    assert!(std::process::Command::new(brink_bin()).arg("init").arg(&app).status().unwrap().success());
    std::fs::write(
        app.join("brink.toml"),
        "name = \"from-toml\"\nentry = \"src/index.ts\"\nroutes = [\"toml.example\"]\n[vars]\nGREETING = \"Hi\"\n",
    )
    .unwrap();
    let output = server.cli(&["deploy", app.to_str().unwrap()]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("deployed from-toml version 1"));
    // (The greeting names the project as `brink init` wrote it.)
    assert_eq!(server.get("toml.example", "/").await, (200, "Hi from app!\n".to_string()));
}

#[test]
fn deploy_with_a_bad_import_fails_with_importer_and_line() {
    let server = BrinkServe::start(&[]);
    let dir = project(&[("worker.ts", "type T = 1;\n\nimport { x } from \"./missing\";\nexport default { fetch: () => new Response(String(x)) };\n")]);
    let output = server.cli(&["deploy", dir.path().join("worker.ts").to_str().unwrap(), "--name", "bad"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("worker.ts:3:") && stderr.contains("./missing"), "{stderr}");
}

/// Uploads `modules` straight to the admin API, as a client that skips the
/// CLI's checks would; returns the status and body.
async fn raw_upload(server: &BrinkServe, name: &str, entry: &str, modules: &[(&str, &[u8])]) -> (u16, String) {
    use base64::Engine;
    let modules: serde_json::Map<String, serde_json::Value> = modules
        .iter()
        .map(|(path, source)| (path.to_string(), base64::engine::general_purpose::STANDARD.encode(source).into()))
        .collect();
    let body = serde_json::json!({ "entry": entry, "modules": modules, "routes": [format!("{name}.example")] });
    let response = client()
        .post(format!("{}/v1/workers/{name}/versions", server.admin))
        .bearer_auth(&server.token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn the_server_checks_uploaded_bundles_itself() {
    let server = BrinkServe::start(&[]);
    let fetch = b"export default { fetch: () => new Response(\"ok\") };\n";
    let cases: [(&str, Vec<(&str, &[u8])>, &str); 6] = [
        ("syntax", vec![("w.ts", b"const x: = 1;\n")], "w.ts:1:"),
        ("missing", vec![("w.js", b"import \"./gone.js\";\nexport default {};\n")], "w.js:1:"),
        ("escape", vec![("w.js", b"\n\nimport \"../../etc/passwd\";\n")], "w.js:3:"),
        ("rule", vec![("w.js", fetch), ("x.exe", b"MZ")], "x.exe"),
        ("wasm", vec![("w.js", b"import m from \"./m.wasm\";\nexport default {};\n"), ("m.wasm", b"not wasm")], "m.wasm"),
        ("entry", vec![("w.txt", b"hello")], "must be JavaScript or TypeScript"),
    ];
    for (name, modules, expected) in cases {
        let entry = modules[0].0;
        let (status, body) = raw_upload(&server, name, entry, &modules).await;
        assert_eq!(status, 400, "{name}: {body}");
        assert!(body.contains(expected), "{name}: no {expected:?} in {body}");
    }
    // Nesting that would overflow the parser's stack is refused, and the
    // server lives on.
    let deep = format!("export const x = {}1{};\n", "(".repeat(200_000), ")".repeat(200_000));
    let (status, body) = raw_upload(&server, "deep", "w.ts", &[("w.ts", deep.as_bytes())]).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("nested too deeply"), "{body}");
    // And a TypeScript upload the CLI never saw works.
    let (status, body) = raw_upload(&server, "rawts", "w.ts", &[("w.ts", b"const n: number = 7;\nexport default { fetch: (): Response => new Response(`n=${n}`) };\n")]).await;
    assert!(status < 300, "{body}");
    assert_eq!(server.get("rawts.example", "/").await, (200, "n=7".to_string()));
}
