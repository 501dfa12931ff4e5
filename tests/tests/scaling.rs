//! Isolates come and go with load in `brink serve`: a worker starts with
//! none, gets one on its first request, more while its requests queue for
//! the CPU (not while they wait on timers or I/O), gives
//! them back when idle (down to zero), comes back on the next request, and a
//! process-wide cap evicts the least recently used idle isolate first. No
//! eviction drops an in-flight request or a pending `waitUntil`.

use std::time::{Duration, Instant};

use brink_tests::origin::Origin;
use brink_tests::{client, worker, BrinkServe};

/// A `brink serve` with `config` (TOML) written to a file of its own.
fn serve_with(config: &str) -> (BrinkServe, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("brink.toml");
    std::fs::write(&path, config).unwrap();
    let serve = BrinkServe::start(&["--config", path.to_str().unwrap()]);
    (serve, dir)
}

async fn metrics(serve: &BrinkServe) -> String {
    let response = client().get(format!("{}/metrics", serve.admin)).bearer_auth(&serve.token).send().await.unwrap();
    response.text().await.unwrap()
}

/// The value of the metric line starting with `series ` (0 when absent).
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0.0)
}

async fn wait_for_metric(serve: &BrinkServe, series: &str, wanted: impl Fn(f64) -> bool, timeout: Duration) -> f64 {
    let deadline = Instant::now() + timeout;
    loop {
        let value = metric(&metrics(serve).await, series);
        if wanted(value) {
            return value;
        }
        assert!(Instant::now() < deadline, "{series} stayed at {value}\n{}", metrics(serve).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A GET of `path` on elastic.test, running on its own task.
fn spawn_get(serve: &BrinkServe, path: &str) -> tokio::task::JoinHandle<(u16, String)> {
    let url = serve.url(path);
    tokio::spawn(async move {
        let response = client().get(url).header("host", "elastic.test").send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    })
}

#[tokio::test]
async fn workers_scale_up_under_load_and_back_to_zero_when_idle() {
    let (serve, _dir) = serve_with("[scaling]\nidle_timeout_secs = 1\nmax_isolates_per_worker = 2\n");
    serve.deploy(worker("serve-app.js"), "elastic", &["--route", "elastic.test", "--var", "WHO=elastic", "--var", "V=1"]);
    // The deploy proved the code loads in one isolate; idle, it goes away.
    wait_for_metric(&serve, "brink_live_isolates", |live| live == 0.0, Duration::from_secs(10)).await;

    // Cold start on the first request.
    assert_eq!(serve.get("elastic.test", "/").await, (200, "elastic:1 /".to_string()));
    assert!(metric(&metrics(&serve).await, "brink_live_isolates") >= 1.0);

    // Requests waiting on timers share the one isolate: no second starts.
    let waiting: Vec<_> = (0..6).map(|_| spawn_get(&serve, "/slow?ms=700")).collect();
    for request in waiting {
        assert_eq!(request.await.unwrap(), (200, "elastic:1".to_string()));
    }
    assert_eq!(metric(&metrics(&serve).await, "brink_live_isolates"), 1.0, "{}", metrics(&serve).await);

    // Requests that keep the isolate's thread busy queue for its CPU: a
    // second starts. Load goes on until it does (on a busy machine the
    // thread may get less than the half of a core that counts as busy).
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut busy = Vec::new();
    while metric(&metrics(&serve).await, "brink_live_isolates") < 2.0 {
        assert!(Instant::now() < deadline, "no second isolate started\n{}", metrics(&serve).await);
        busy.retain(|request: &tokio::task::JoinHandle<(u16, String)>| !request.is_finished());
        while busy.len() < 6 {
            busy.push(spawn_get(&serve, "/busy?slices=100"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for request in busy {
        assert_eq!(request.await.unwrap(), (200, "elastic:1".to_string()));
    }
    let cold_starts = metric(&metrics(&serve).await, "brink_cold_starts_total{worker=\"elastic\"}");
    assert!(cold_starts >= 3.0, "deploy, first request and scale-up: {cold_starts}");

    // Idle again: back to zero, counted as evictions, and the next request
    // brings the worker back.
    wait_for_metric(&serve, "brink_live_isolates", |live| live == 0.0, Duration::from_secs(10)).await;
    assert!(metric(&metrics(&serve).await, "brink_evictions_total") >= 2.0);
    assert_eq!(serve.get("elastic.test", "/again").await, (200, "elastic:1 /again".to_string()));
}

#[tokio::test]
async fn eviction_waits_for_pending_wait_until_work() {
    let origin = Origin::start();
    let (serve, _dir) = serve_with("[scaling]\nidle_timeout_secs = 1\n");
    let origin_var = format!("ORIGIN={}", origin.url(""));
    // The worker's waitUntil reports to a loopback origin; serve's outbound
    // guard would refuse it, so the report is only attempted, and what is
    // checked is that the isolate survives until the work has finished.
    serve.deploy(worker("wait-until.js"), "patient", &["--route", "patient.test", "--var", &origin_var]);
    let (status, body) = serve.get("patient.test", "/?tag=late&delay=2500").await;
    assert_eq!((status, body.as_str()), (200, "responded before the background work"));
    // The isolate is idle (no request in flight) long before its waitUntil
    // settles; eviction closes it, and it must finish that work first.
    assert!(
        serve.wait_for_log("evicting an idle isolate", Duration::from_secs(10)),
        "{}",
        serve.logs()
    );
    let ran = "Uncaught (in waitUntil) TypeError: fetch() to 127.0.0.1 refused";
    assert!(serve.wait_for_log(ran, Duration::from_secs(10)), "{}", serve.logs());
    let logs = serve.logs();
    assert!(
        logs.find("evicting an idle isolate") < logs.find(ran),
        "the waitUntil work must run on after its isolate was evicted:\n{logs}"
    );
    assert!(!serve.logs().contains("waitUntil work cancelled"), "{}", serve.logs());
}

#[tokio::test]
async fn at_the_process_cap_the_least_recently_used_idle_isolate_goes_first() {
    let (serve, _dir) = serve_with("[scaling]\nmax_live_isolates = 2\nidle_timeout_secs = 600\n");
    for name in ["one", "two", "three"] {
        let route = format!("{name}.test");
        let who = format!("WHO={name}");
        serve.deploy(worker("serve-app.js"), name, &["--route", &route, "--var", &who, "--var", "V=1"]);
    }
    // Three deploys, each proved in an isolate, under a cap of two.
    assert!(metric(&metrics(&serve).await, "brink_live_isolates") <= 2.0, "{}", metrics(&serve).await);
    // Use two and three, then one: one's isolate is brought back and the
    // least recently used (two) is the one evicted.
    assert_eq!(serve.get("two.test", "/").await.0, 200);
    assert_eq!(serve.get("three.test", "/").await.0, 200);
    assert_eq!(serve.get("one.test", "/").await.0, 200);
    let text = metrics(&serve).await;
    assert!(metric(&text, "brink_live_isolates") <= 2.0, "{text}");
    assert!(metric(&text, "brink_evictions_total") >= 2.0, "{text}");
    // Everyone still answers.
    for name in ["one", "two", "three"] {
        let host = format!("{name}.test");
        assert_eq!(serve.get(&host, "/").await, (200, format!("{name}:1 /")));
    }
}
