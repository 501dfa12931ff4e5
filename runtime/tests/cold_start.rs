//! Cold starts: pool isolates serve in the normal scheduling class; a
//! worker's first request is
//! queued behind its load in one message to the isolate thread, and a load
//! that fails fails the requests queued behind it instead of leaving them
//! waiting; one that finds the pool empty adopts a refill under way; a
//! worker that keeps running into its limits takes nothing from the pool.

use std::sync::Arc;
use std::time::{Duration, Instant};

use brink_runtime::{IsolatePool, Limits, Scaling, Worker, WorkerError, WorkerSpec};

mod common;

fn spec(name: &str, source: &str) -> WorkerSpec {
    common::one_module_worker(name, source, Scaling { min_isolates: 0, max_isolates: 2, idle_timeout: Duration::from_secs(600) })
}

async fn get(worker: &Worker) -> Result<(u16, String), WorkerError> {
    common::get_path(worker, "/").await
}


/// `n` requests to `worker` at once, their results in order.
async fn at_once(worker: &Arc<Worker>, n: usize) -> Vec<Result<(u16, String), WorkerError>> {
    let requests: Vec<_> = (0..n)
        .map(|_| {
            let worker = worker.clone();
            tokio::spawn(async move { get(&worker).await })
        })
        .collect();
    let mut results = Vec::new();
    for request in requests {
        results.push(request.await.expect("task"));
    }
    results
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio")
}

/// A pool that keeps `n` isolates warm, once they are.
fn warm_pool(n: usize) -> IsolatePool {
    let pool = IsolatePool::new(n, Limits::default());
    wait_warm(&pool, n);
    pool
}

/// Waits until the pool has `n` warm isolates.
fn wait_warm(pool: &IsolatePool, n: usize) {
    let until = Instant::now() + Duration::from_secs(60);
    while pool.warm() < n {
        assert!(Instant::now() < until, "the pool never warmed {n} isolates");
        std::thread::sleep(Duration::from_millis(20));
    }
}

const HELLO: &str = "export default { fetch() { return new Response('hello'); } };";

#[test]
fn refilled_and_inline_built_isolates_serve_in_the_normal_class() {
    let pool = warm_pool(2);
    let first = pool.try_take().expect("a warm isolate");
    assert!(!first.in_idle_class(), "a warm isolate must serve in the normal class");
    // The refill for `first` starts while one isolate is still warm.
    wait_warm(&pool, 2);
    let second = pool.try_take().expect("a warm isolate");
    let refilled = pool.try_take().expect("the refilled isolate");
    // A refill that starts while another warm isolate is ready bootstraps
    // in the idle class, where the process can leave it again
    // (runtime/src/pool.rs says why), and serves in the normal one.
    assert_eq!(refilled.bootstrapped_in_idle_class(), brink_runtime::supervisor::idle_class_is_reversible());
    for isolate in [&second, &refilled] {
        assert!(!isolate.in_idle_class(), "a warm isolate must serve in the normal class");
    }
    // A blank isolate a cold start builds because the pool is empty has a
    // request waiting for it: its bootstrap is not demoted.
    let empty = IsolatePool::new(0, Limits::default());
    let built = runtime().block_on(empty.take_or_adopt()).expect("an isolate built now");
    assert!(!built.bootstrapped_in_idle_class());
    assert!(!built.in_idle_class());
}

/// Waits until a refill thread of `pool` is building an isolate.
fn wait_building(pool: &IsolatePool) {
    let until = Instant::now() + Duration::from_secs(60);
    while pool.building() == 0 {
        assert!(Instant::now() < until, "no refill started");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_cold_start_on_an_empty_pool_adopts_the_refill_under_way() {
    let runtime = runtime();
    runtime.block_on(async {
        let pool = IsolatePool::new(1, Limits::default());
        for _ in 0..3 {
            wait_warm(&pool, 1);
            let _taken = pool.try_take().expect("a warm isolate");
            wait_building(&pool);
            let adopted = pool.take_or_adopt().await.expect("the refill's isolate");
            assert!(!adopted.is_closed());
        }
        assert_eq!(pool.built_on_demand(), 0, "a cold start bootstrapped next to a refill under way");
        // Two cold starts and one refill under way: one adopts it, the
        // other builds its own rather than queue behind a refill meant for
        // someone else.
        wait_warm(&pool, 1);
        let _taken = pool.try_take().expect("a warm isolate");
        wait_building(&pool);
        let (one, two) = tokio::join!(pool.take_or_adopt(), pool.take_or_adopt());
        assert!(one.is_ok() && two.is_ok());
        assert_eq!(pool.built_on_demand(), 1);
        // With no refill at all (a pool that keeps none warm), the cold
        // start builds its own.
        let empty = IsolatePool::new(0, Limits::default());
        assert!(empty.take_or_adopt().await.is_ok());
        assert_eq!(empty.built_on_demand(), 1);
    });
}

#[test]
fn a_cold_start_serves_its_first_request_from_the_load_message() {
    let runtime = runtime();
    runtime.block_on(async {
        let pool = warm_pool(2);
        let worker = Worker::new_idle(spec("hello", HELLO), pool.clone());
        assert_eq!(worker.stats().live_isolates, 0);
        assert_eq!(get(&worker).await.expect("first request"), (200, "hello".to_string()));
        let stats = worker.stats();
        assert_eq!((stats.live_isolates, stats.cold_starts), (1, 1));
        assert_eq!(get(&worker).await.expect("second request"), (200, "hello".to_string()));
        assert_eq!(worker.stats().cold_starts, 1);
        worker.shutdown().await;
    });
}

#[test]
fn many_first_requests_at_once_share_the_cold_start() {
    let runtime = runtime();
    runtime.block_on(async {
        let pool = warm_pool(2);
        let worker = Arc::new(Worker::new_idle(spec("burst", HELLO), pool.clone()));
        for result in at_once(&worker, 32).await {
            assert_eq!(result.expect("response"), (200, "hello".to_string()));
        }
        let stats = worker.stats();
        assert!(stats.cold_starts >= 1 && stats.cold_starts <= 2, "{stats:?}");
        assert!(stats.live_isolates <= 2, "{stats:?}");
        worker.shutdown().await;
    });
}

#[test]
fn a_load_that_fails_fails_the_requests_queued_behind_it_and_the_next_one_retries() {
    let runtime = runtime();
    runtime.block_on(async {
        let pool = warm_pool(2);
        // Top-level code that throws once it is served from a new isolate
        // (as a restored worker's might, after a change of environment).
        let source = "throw new Error('top level fails'); export default { fetch() { return new Response('no'); } };";
        let worker = Arc::new(Worker::new_idle(spec("broken", source), pool.clone()));
        for result in at_once(&worker, 4).await {
            assert!(matches!(result, Err(WorkerError::Unavailable)), "{result:?}");
        }
        assert_eq!(worker.stats().live_isolates, 0);
        // The next request tries again (and fails the same way), never hangs.
        assert!(matches!(get(&worker).await, Err(WorkerError::Unavailable)));
        assert_eq!(worker.stats().live_isolates, 0);
        worker.shutdown().await;
    });
}

#[test]
fn a_top_level_loop_on_a_cold_start_is_stopped_and_its_queued_request_fails() {
    let runtime = runtime();
    runtime.block_on(async {
        let pool = warm_pool(1);
        let source = "while (true) {} export default { fetch() { return new Response('no'); } };";
        let mut looping = spec("looping", source);
        looping.limits.cpu_per_request = Duration::from_millis(50);
        looping.limits.wall_clock = Duration::from_secs(10);
        let worker = Worker::new_idle(looping, pool.clone());
        let result = get(&worker).await;
        assert!(matches!(result, Err(WorkerError::Unavailable) | Err(WorkerError::LimitExceeded(_))), "{result:?}");
        // The loop is demoted to the idle scheduling class within a few
        // milliseconds. When other processes keep every core busy it gets
        // no CPU, so it never reaches its CPU limit and the request ends
        // on the wall clock instead; the watchdog then ends the isolate as
        // a stuck turn, past the pool's wall-clock limit (30 s).
        let until = Instant::now() + Duration::from_secs(60);
        while worker.stats().live_isolates != 0 {
            assert!(Instant::now() < until, "the looping isolate was never stopped");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        worker.shutdown().await;
    });
}

#[test]
fn a_worker_that_keeps_hitting_its_limits_builds_its_isolates_outside_the_pool() {
    let runtime = runtime();
    runtime.block_on(async {
        let pool = warm_pool(2);
        let source = "export default { fetch(request) { \
            if (new URL(request.url).pathname === '/loop') for (;;) {} \
            return new Response('fine'); } };";
        let mut striking = spec("striking", source);
        striking.limits.cpu_per_request = Duration::from_millis(20);
        striking.limits.wall_clock = Duration::from_secs(60);
        let worker = Worker::new_idle(striking, pool.clone());
        // Two isolates ended for the CPU limit: two strikes.
        for _ in 0..2 {
            let result = common::get_path(&worker, "/loop").await;
            assert!(!matches!(result, Ok((200, _))), "{result:?}");
        }
        wait_warm(&pool, 2);
        // Its next isolate is bootstrapped for it; the warm ones stay
        // for the well-behaved workers.
        assert_eq!(common::get_path(&worker, "/").await.expect("a request after the strikes"), (200, "fine".to_string()));
        assert_eq!(pool.warm(), 2, "a worker with strikes took a warm isolate");
        assert_eq!(pool.building(), 0);
        worker.shutdown().await;
    });
}

#[test]
fn cold_starts_that_find_nothing_to_take_queue_for_one_builder_per_core() {
    let runtime = runtime();
    runtime.block_on(async {
        // No refills: every cold start needs an isolate built for it.
        let pool = IsolatePool::new(0, Limits::default());
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let waiting = 4 * cores;
        let takes: Vec<_> = (0..waiting)
            .map(|_| {
                let pool = pool.clone();
                tokio::spawn(async move { pool.take_or_adopt().await })
            })
            .collect();
        let mut most = 0;
        while !takes.iter().all(|take| take.is_finished()) {
            most = most.max(pool.builders());
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        for take in takes {
            assert!(!take.await.expect("task").expect("an isolate built for the cold start").is_closed());
        }
        assert!((1..=cores).contains(&most), "{most} builders at once for {cores} cores");
        assert_eq!(pool.built_on_demand(), waiting as u64);
        assert_eq!(pool.builders(), 0);
    });
}
