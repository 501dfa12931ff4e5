//! A classic script (a service-worker-format worker) whose exact source the
//! process compiled before skips the syntax check that would parse it once
//! more (engine patch 0028). The skip must never let a broken script
//! through: only bytecode kept for exactly the same source counts as proof.

use brink_runtime::{IsolatePool, Limits, Scaling, Worker};

mod common;

const SCRIPT: &str = r#"
addEventListener("fetch", (event) => {
  event.respondWith(new Response("service worker " + (40 + 2)));
});
"#;

#[test]
fn a_script_compiled_before_runs_and_a_broken_one_still_fails() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio");
    runtime.block_on(async {
        let pool = IsolatePool::new(0, Limits::default());
        let start = |name: &str, source: &str| {
            Worker::start(common::one_module_worker(name, source, Scaling::fixed(1)), pool.clone())
        };
        let first = start("first", SCRIPT).await.expect("first worker");
        assert_eq!(common::get_path(&first, "/").await.expect("answer"), (200, "service worker 42".to_string()));

        // The same source again: compiled before, so not checked again.
        let second = start("second", SCRIPT).await.expect("second worker");
        assert_eq!(common::get_path(&second, "/").await.expect("answer"), (200, "service worker 42".to_string()));

        // One character off: never compiled, so checked, and it fails.
        let broken = SCRIPT.replace("(40 + 2)", "(40 + 2");
        let error = start("broken", &broken).await.err().expect("a syntax error fails the start");
        assert!(error.to_string().contains("SyntaxError"), "{error}");

        // The broken one left nothing behind for the good source.
        let third = start("third", SCRIPT).await.expect("third worker");
        assert_eq!(common::get_path(&third, "/").await.expect("answer"), (200, "service worker 42".to_string()));
        for worker in [first, second, third] {
            worker.shutdown().await;
        }
    });
}
