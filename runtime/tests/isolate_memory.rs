//! Isolates give their memory back when they exit: creating and dropping
//! many blank isolates must not grow the process. A live isolate collects
//! its garbage: cycles a worker drops never add up to its heap limit.

use brink_runtime::isolate::spawn_blank_isolate;
use brink_runtime::{IsolatePool, Limits, Scaling, Worker};

mod common;

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb * 1024
}

fn cycle() {
    let isolate = spawn_blank_isolate(Limits::default()).expect("isolate");
    let mut exited = isolate.exit_signal();
    drop(isolate);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async { exited.wait_for(|done| *done).await.unwrap() });
}

#[test]
fn dropped_blank_isolates_free_their_memory() {
    // ISOLATE_CYCLES lets a leak hunt under valgrind run a few cycles only.
    let cycles: usize = std::env::var("ISOLATE_CYCLES").ok().and_then(|n| n.parse().ok()).unwrap_or(40);
    for _ in 0..5.min(cycles) {
        cycle();
    }
    let before = rss_bytes();
    for _ in 0..cycles {
        cycle();
    }
    let grown = rss_bytes().saturating_sub(before);
    eprintln!("{cycles} isolates created and dropped: RSS grew {} KiB", grown / 1024);
    assert!(grown < (cycles as u64) * 64 * 1024 + 4 * 1024 * 1024, "RSS grew {} MiB over {cycles} isolates", grown / (1024 * 1024));
}

/// Each request drops ~6 MB of objects that point at each other, which
/// reference counting alone never frees; 24 requests drop ~140 MB against a
/// 32 MiB heap limit (the same worker keeping its objects fails at it). The engine's collections (the first one at 4 MiB,
/// engine patch 0031) must keep every request under the limit.
#[test]
fn cyclic_garbage_is_collected_before_it_reaches_the_heap_limit() {
    const WORKER: &str = r#"
export default {
  fetch() {
    for (let i = 0; i < 20000; i++) {
      const a = { i, values: [i, i + 1, i + 2, i + 3, i + 4, i + 5] };
      const b = { a };
      a.b = b;
    }
    return new Response("dropped");
  },
};
"#;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio");
    runtime.block_on(async {
        let pool = IsolatePool::new(0, Limits::default());
        let mut spec = common::one_module_worker("cycles", WORKER, Scaling::fixed(1));
        spec.limits.heap_bytes = 32 * 1024 * 1024;
        spec.limits.cpu_per_request = std::time::Duration::from_secs(5);
        spec.limits.wall_clock = std::time::Duration::from_secs(30);
        let worker = Worker::start(spec, pool).await.expect("worker");
        for request in 0..24 {
            let answer = common::get_path(&worker, "/").await;
            assert_eq!(answer.expect("answer"), (200, "dropped".to_string()), "request {request}");
        }
        worker.shutdown().await;
    });
}
