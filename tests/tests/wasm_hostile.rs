//! Hostile tenants attacking through WebAssembly, next to a well-behaved
//! tenant in one `brink serve` process: memory grown past the limit (by
//! `Memory.grow` and by the `memory.grow` instruction), many instances
//! kept alive, a module whose memory starts huge, a module with 25,000
//! exports, a forged `WebAssembly.Global`, and a wasm function that never
//! returns. WebAssembly memory counts toward the worker's memory limit,
//! the process stays bounded, and the good tenant answers correctly
//! throughout. Also: a panic in an isolate thread ends that isolate only.

use std::time::Duration;

use brink_tests::{client, worker, BrinkServe, SERVE_TOKEN};

const GOOD_BODY: &str = "good brink kv-ok secret:12";
const MIB: u64 = 1024 * 1024;

fn deploy_good(serve: &BrinkServe) {
    serve.deploy(
        worker("neighbour-good.js"),
        "good",
        &["--route", "good.test", "--var", "NAME=brink", "--secret", "SECRET=supersecret1", "--kv", "COUNTS"],
    );
}

async fn good_answers(serve: &BrinkServe, during: &str) {
    for _ in 0..3 {
        let (status, body) = serve.get("good.test", "/").await;
        assert_eq!((status, body.as_str()), (200, GOOD_BODY), "the good tenant failed during {during}");
    }
}

/// A hostile request, run while the good tenant is asked in parallel.
async fn attack(serve: &BrinkServe, path: &str) -> (u16, String) {
    let url = serve.url(path);
    let hostile = tokio::spawn(async move {
        let response = client().get(url).header("host", "wasm.test").send().await.expect("hostile request");
        (response.status().as_u16(), response.text().await.unwrap_or_default())
    });
    good_answers(serve, path).await;
    hostile.await.unwrap()
}

fn proc_status(serve: &BrinkServe, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", serve.pid())).unwrap_or_default();
    status
        .lines()
        .find(|line| line.starts_with(field))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// A server with the good tenant and the hostile one (`wasm.test`),
/// deployed with `limits`.
fn start_with_hostile(limits: &[&str]) -> BrinkServe {
    let serve = BrinkServe::start(&[]);
    deploy_good(&serve);
    let mut args = vec!["--route", "wasm.test"];
    args.extend_from_slice(limits);
    serve.deploy(worker("wasm-hostile.js"), "wasm", &args);
    serve
}

/// The isolate thread counts a termination as it exits, which may be just
/// after the client has its 503: look again for a few seconds.
async fn assert_terminations(serve: &BrinkServe, limit: &str, count: u32) {
    let line = format!("brink_limit_terminations_total{{worker=\"wasm\",limit=\"{limit}\"}} {count}");
    let mut text = String::new();
    for _ in 0..50 {
        let response = client().get(format!("{}/metrics", serve.admin)).bearer_auth(SERVE_TOKEN).send().await.unwrap();
        text = response.text().await.unwrap();
        if text.lines().any(|l| l == line) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("missing {line}:\n{text}");
}

const OVER_MEMORY: (u16, &str) = (503, "Worker exceeded its memory limit\n");

#[tokio::test]
async fn wasm_memory_counts_toward_the_memory_limit() {
    let serve = start_with_hostile(&["--heap-mib", "64", "--cpu-ms", "20000", "--wall-ms", "30000"]);
    good_answers(&serve, "start-up").await;
    assert_eq!(serve.get("wasm.test", "/ok").await, (200, r#"{"sum":3}"#.to_string()));
    let baseline = proc_status(&serve, "VmRSS:");

    // Each attack would hold gigabytes; each ends at the worker's 64 MiB
    // with its isolate terminated for the memory limit, and a fresh
    // isolate serves the worker's next request.
    let attacks = [
        "/grow?pages=65536&step=256",
        "/grow-opcode?pages=65536&step=256",
        "/instances?pages=256&n=1000",
        "/big-initial?pages=32768",
    ];
    for path in attacks {
        let (status, body) = attack(&serve, path).await;
        assert_eq!((status, body.as_str()), OVER_MEMORY, "{path}\n{}", serve.logs());
        assert_eq!(serve.get("wasm.test", "/ok").await, (200, r#"{"sum":3}"#.to_string()), "after {path}");
    }
    // Under the limit, memory grows as the worker asks.
    let (status, body) = serve.get("wasm.test", "/grow?pages=256&step=64").await;
    assert_eq!(status, 200, "{body}");
    let grown: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(grown["error"].is_null() && grown["mib"].as_f64() >= Some(16.0), "{body}");
    let (status, body) = serve.get("wasm.test", "/instances?pages=16&n=10").await;
    assert_eq!((status, body.as_str()), (200, r#"{"instances":10,"mib":10,"error":null}"#));
    // Instances no longer reachable give their memory back: 40 of 16 MiB,
    // one after the other (in a reference cycle or not), fit in 64 MiB.
    for path in ["/churn?pages=256&n=40", "/churn?pages=256&n=40&cycle=1"] {
        let (status, body) = serve.get("wasm.test", path).await;
        assert_eq!((status, body.as_str()), (200, r#"{"made":40,"error":null}"#), "{path}");
    }

    // A terminated isolate gives its WebAssembly memory back: ten more
    // bombs of 64 MiB each leave the process far below ten times that.
    for _ in 0..10 {
        assert_eq!(attack(&serve, "/grow-opcode?pages=65536&step=256").await.0, 503);
    }
    let peak = proc_status(&serve, "VmHWM:");
    assert!(peak < baseline + 400 * MIB, "peak RSS {} MiB over a {} MiB baseline", peak / MIB, baseline / MIB);

    assert_terminations(&serve, "memory", 14).await;
    good_answers(&serve, "the end").await;
}

#[tokio::test]
async fn a_module_with_25000_exports_instantiates_within_the_limits() {
    let serve = start_with_hostile(&["--cpu-ms", "10000", "--wall-ms", "20000"]);
    let (status, body) = attack(&serve, "/exports?n=25000").await;
    assert_eq!(status, 200, "{body}\n{}", serve.logs());
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!((body["exports"].as_u64(), body["last"].as_u64()), (Some(25000), Some(24999)));
    // Each export used to carry its own copy of the module: 25,000 copies.
    let peak = proc_status(&serve, "VmHWM:");
    assert!(peak < 1024 * MIB, "peak RSS {} MiB", peak / MIB);
    good_answers(&serve, "the end").await;
}

#[tokio::test]
async fn a_forged_global_cannot_point_the_engine_at_memory() {
    let serve = start_with_hostile(&[]);
    // The engine once took any object's `__wasm_global_ptr` as the address
    // of a global: this request crashed the whole process.
    for ptr in ["4096", "1", "-8"] {
        let (status, body) = attack(&serve, &format!("/fake-global?ptr={ptr}")).await;
        assert_eq!((status, body.as_str()), (200, r#"{"value":0}"#), "{}", serve.logs());
    }
    assert_eq!(serve.get("wasm.test", "/ok").await, (200, r#"{"sum":3}"#.to_string()));
}

#[tokio::test]
async fn a_wasm_loop_is_ended_by_the_cpu_limit() {
    let serve = start_with_hostile(&["--cpu-ms", "200", "--wall-ms", "10000"]);
    let (status, body) = attack(&serve, "/loop").await;
    assert_eq!((status, body.as_str()), (503, "Worker exceeded its CPU time limit\n"));
    assert_eq!(serve.get("wasm.test", "/ok").await, (200, r#"{"sum":3}"#.to_string()));
    assert_terminations(&serve, "cpu", 1).await;
}

#[tokio::test]
async fn a_panic_in_an_isolate_thread_ends_that_isolate_only() {
    // The hook is read from the server's environment, never from a worker.
    let serve = BrinkServe::start_with_env(&[], &[("BRINK_TEST_PANIC_WORKER", "crashy")]);
    deploy_good(&serve);
    serve.deploy(worker("wasm-hostile.js"), "crashy", &["--route", "crashy.test"]);
    serve.deploy(worker("wasm-hostile.js"), "wasm", &["--route", "wasm.test"]);
    assert_eq!(serve.get("crashy.test", "/ok").await, (200, r#"{"sum":3}"#.to_string()));
    assert_eq!(serve.get("wasm.test", "/ok").await, (200, r#"{"sum":3}"#.to_string()));

    for round in 0..3 {
        let (status, body) = serve.get("crashy.test", "/__brink_test_panic").await;
        assert_eq!((status, body.as_str()), (503, "Worker isolate crashed; it is being replaced\n"), "round {round}");
        good_answers(&serve, "a panic").await;
        // Another worker's path of the same name does nothing.
        assert_eq!(serve.get("wasm.test", "/__brink_test_panic").await, (404, "no such attack".to_string()));
        // The crashed isolate is replaced.
        assert_eq!(serve.get("crashy.test", "/ok").await, (200, r#"{"sum":3}"#.to_string()));
    }
    assert!(
        serve.wait_for_log("isolate thread panicked; isolate ended", Duration::from_secs(5)),
        "{}",
        serve.logs()
    );
    let logs = serve.logs();
    let line = logs.lines().find(|l| l.contains("isolate thread panicked; isolate ended")).unwrap_or_default();
    assert!(line.contains("worker=crashy") && line.contains("version=1") && line.contains("isolate="), "{line}");
}
