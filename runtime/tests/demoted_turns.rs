//! A turn that runs long is demoted to the idle scheduling class, and while
//! it runs demoted it keeps offering its core to other threads (the kernel
//! would otherwise let it keep a core it picked until the next tick, ahead
//! of a busy neighbour). Short turns never do either.

use std::time::Duration;

use brink_runtime::{IsolatePool, Limits, Scaling, Worker};

mod common;

/// `/` answers at once; `/burn` spins for a fixed number of iterations
/// (CPU, not wall-clock time, so a busy machine only makes it slower).
const WORKER: &str = r#"
export default {
  fetch(request) {
    if (new URL(request.url).pathname === "/burn") {
      let x = 0;
      for (let i = 0; i < 20_000_000; i++) x = (x + i) % 1000003;
      return new Response(`burnt ${x}`);
    }
    return new Response("short");
  },
};
"#;

async fn get(worker: &Worker, path: &str) -> (u16, String) {
    common::get_path(worker, path).await.expect("response")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demoted_turn_keeps_offering_its_core_and_a_short_one_never_does() {
    let limits = Limits {
        cpu_per_request: Duration::from_secs(30),
        wall_clock: Duration::from_secs(120),
        ..Limits::default()
    };
    let mut spec = common::one_module_worker("burner", WORKER, Scaling::fixed(1));
    spec.limits = limits.clone();
    let worker = Worker::start(spec, IsolatePool::new(1, limits)).await.expect("worker starts");

    for _ in 0..20 {
        assert_eq!(get(&worker, "/").await, (200, "short".to_string()));
    }
    assert_eq!(worker.stats().demoted_yields, 0, "a short turn yielded");

    let (status, body) = get(&worker, "/burn").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("burnt "), "{body}");
    let stats = worker.stats();
    assert_eq!(stats.live_isolates, 1, "the burn must not have cost the isolate");
    assert!(stats.demoted_yields > 0, "a turn long enough to be demoted never yielded: {stats:?}");

    // Back to short turns: the count stays where the long turn left it.
    let after_burn = stats.demoted_yields;
    for _ in 0..20 {
        assert_eq!(get(&worker, "/").await, (200, "short".to_string()));
    }
    assert_eq!(worker.stats().demoted_yields, after_burn);
    worker.shutdown().await;
}
