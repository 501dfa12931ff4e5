//! Function source text and line tables read from the process's bytecode
//! cache (engine patch 0016), and the bytecode itself (patch 0026), are
//! shared by every isolate of the process whose copy is the same, and
//! reference-counted: an isolate's `Function.prototype.toString`, stack
//! positions and the code it runs must stay right after the isolate that
//! first used them is gone, and one function's text or code must never
//! show up as another's.

use brink_runtime::{IsolatePool, Limits, Scaling, Worker, WorkerSpec};
use http_body_util::BodyExt;

mod common;

/// `OPERATION` is replaced per worker, so two workers differ only there.
const WORKER: &str = r#"
function tenantHelper(a, b) {
  // a comment the source text keeps
  return a OPERATION b;
}
export default {
  async fetch() {
    const where = new Error("here").stack;
    return Response.json({
      helper: tenantHelper.toString(),
      api: Headers.prototype.append.toString().slice(0, 300),
      arrow: ((x) => x * 2).toString(),
      stack: where.split("\n")[1] ?? "",
      sum: tenantHelper(2, 3),
    });
  },
};
"#;

fn spec(name: &str, operation: &str) -> WorkerSpec {
    common::one_module_worker(name, &WORKER.replace("OPERATION", operation), Scaling::fixed(1))
}

async fn answer(worker: &Worker) -> serde_json::Value {
    let response = worker.fetch(common::get_request("/")).await.expect("response");
    assert_eq!(response.status(), 200);
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    serde_json::from_slice(&bytes).expect("JSON")
}

#[test]
fn function_text_outlives_the_isolate_that_shared_it() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio");
    runtime.block_on(async {
        let pool = IsolatePool::new(0, Limits::default());
        let first = Worker::start(spec("first", "+"), pool.clone()).await.expect("first worker");
        let expected = answer(&first).await;
        let helper = expected["helper"].as_str().expect("helper text");
        assert!(helper.starts_with("function tenantHelper(a, b) {"), "{helper}");
        assert!(helper.contains("// a comment the source text keeps"), "{helper}");
        assert!(helper.ends_with("return a + b;\n}"), "{helper}");
        assert_eq!(expected["arrow"], "(x) => x * 2");
        assert_eq!(expected["sum"], 5);
        let api = expected["api"].as_str().expect("api text");
        assert!(api.contains("append"), "{api}");
        let stack = expected["stack"].as_str().expect("stack line");
        assert!(stack.contains("worker.js:8:"), "the stack names the line of `new Error`: {stack}");

        // Same code in a second isolate: its functions' text now comes from
        // the shared table.
        let second = Worker::start(spec("second", "+"), pool.clone()).await.expect("second worker");
        assert_eq!(answer(&second).await, expected);

        // A worker whose helper differs by one character sees its own text
        // and runs its own code.
        let other = Worker::start(spec("other", "-"), pool.clone()).await.expect("other worker");
        let theirs = answer(&other).await;
        assert!(theirs["helper"].as_str().expect("helper").ends_with("return a - b;\n}"), "{theirs}");
        assert_eq!(theirs["sum"], -1);

        // The first isolate goes away (and with it its references); the
        // second still reads the same text, and a new isolate gets it too.
        first.shutdown().await;
        drop(first);
        assert_eq!(answer(&second).await, expected);
        let third = Worker::start(spec("third", "+"), pool.clone()).await.expect("third worker");
        assert_eq!(answer(&third).await, expected);
        for worker in [second, other, third] {
            worker.shutdown().await;
        }
    });
}

/// More functions than the shared table has room for in its buckets (8,192
/// buckets of at most 16 entries; each function brings its text and its
/// bytecode): the ones that find their bucket full keep copies of their
/// own, and every isolate still sees and runs each function's own text and
/// code.
#[test]
fn functions_beyond_the_tables_buckets_keep_their_own_copies() {
    const FUNCTIONS: usize = 70_000;
    // Function expressions in one array: a module may declare at most
    // 65,534 top-level bindings.
    let mut source = String::with_capacity(FUNCTIONS * 40);
    source.push_str("const all = [\n");
    for i in 0..FUNCTIONS {
        source.push_str(&format!("function () {{ return {i}; }},\n"));
    }
    source.push_str(
        r#"];
export default {
  fetch() {
    let wrong = 0;
    for (let i = 0; i < all.length; i++) {
      if (all[i]() !== i || all[i].toString() !== `function () { return ${i}; }`) wrong++;
    }
    return Response.json({ count: all.length, wrong });
  },
};
"#,
    );
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio");
    runtime.block_on(async {
        let pool = IsolatePool::new(0, Limits::default());
        let mut workers = Vec::new();
        // The first compiles the module; the others read it from the
        // process's bytecode cache and share what fits in the table.
        for name in ["many-a", "many-b", "many-c"] {
            let worker =
                Worker::start(common::one_module_worker(name, &source, Scaling::fixed(1)), pool.clone()).await.expect("worker");
            let answer = answer(&worker).await;
            assert_eq!(answer["count"], FUNCTIONS, "{name}");
            assert_eq!(answer["wrong"], 0, "{name}: every function reads and runs as its own");
            workers.push(worker);
        }
        // The first isolate goes; the others still read right.
        let first = workers.remove(0);
        first.shutdown().await;
        drop(first);
        for worker in &workers {
            assert_eq!(answer(worker).await["wrong"], 0);
        }
        for worker in workers {
            worker.shutdown().await;
        }
    });
}
