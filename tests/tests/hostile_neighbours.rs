//! Hostile tenants next to a well-behaved one in one `brink serve` process:
//! an endless loop, a memory bomb, a recursion bomb (JS and native), a flood
//! of timers, a never-ending streamed response, and a worker that catches
//! its own termination. The well-behaved tenant answers every request
//! correctly throughout, and no tenant can see another's state or reach the
//! admin API.

use std::time::Duration;

use brink_tests::{client, worker, BrinkServe};
use futures::StreamExt;

const GOOD_BODY: &str = "good brink kv-ok secret:12";

fn deploy_good(serve: &BrinkServe) {
    serve.deploy(
        worker("neighbour-good.js"),
        "good",
        &["--route", "good.test", "--var", "NAME=brink", "--secret", "SECRET=supersecret1", "--kv", "COUNTS"],
    );
}

fn deploy_attack(serve: &BrinkServe, attack: &str, extra: &[&str]) {
    let route = format!("{attack}.test");
    let var = format!("ATTACK={attack}");
    let mut args = vec!["--route", route.as_str(), "--var", var.as_str()];
    args.extend_from_slice(extra);
    serve.deploy(worker("neighbour-hostile.js"), attack, &args);
}

/// Ten requests to the good tenant, each answered correctly.
async fn good_keeps_answering(serve: &BrinkServe, during: &str) {
    for _ in 0..10 {
        let (status, body) = serve.get("good.test", "/").await;
        assert_eq!((status, body.as_str()), (200, GOOD_BODY), "the good tenant failed during the {during} attack");
    }
}

#[tokio::test]
async fn a_well_behaved_tenant_keeps_answering_next_to_each_attack() {
    let serve = BrinkServe::start(&[]);
    deploy_good(&serve);
    let limits = ["--cpu-ms", "200", "--wall-ms", "5000"];
    for attack in ["loop", "recursion", "timers", "stream", "catch"] {
        deploy_attack(&serve, attack, &limits);
    }
    deploy_attack(&serve, "memory", &["--cpu-ms", "10000", "--wall-ms", "20000"]);
    good_keeps_answering(&serve, "no").await;

    for (attack, expected) in [("loop", 503), ("memory", 503), ("catch", 503), ("recursion", 200), ("timers", 200)] {
        let url = serve.url("/");
        let host = format!("{attack}.test");
        let hostile = tokio::spawn(async move {
            let response = client().get(url).header("host", host).send().await.expect("hostile request");
            (response.status().as_u16(), response.text().await.unwrap_or_default())
        });
        good_keeps_answering(&serve, attack).await;
        let (status, body) = hostile.await.unwrap();
        assert_eq!(status, expected, "{attack}: {body}");
        if attack == "recursion" {
            assert!(body.starts_with("survived"), "{body}");
        }
        good_keeps_answering(&serve, attack).await;
    }

    // A stream that never ends: read some of it, keep the good tenant busy,
    // then hang up. Its CPU is charged to its request until the limit.
    let response = client().get(serve.url("/")).header("host", "stream.test").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let mut chunks = response.bytes_stream();
    let first = chunks.next().await.expect("a first chunk").expect("chunk");
    assert!(String::from_utf8_lossy(&first).starts_with("chunk 0"));
    good_keeps_answering(&serve, "stream").await;
    drop(chunks);
    good_keeps_answering(&serve, "stream").await;

    // Every terminated isolate is logged with its worker, and the attackers
    // never took the process or the good tenant down.
    for attack in ["loop", "memory", "catch"] {
        let needle = format!("worker=\"{attack}\"");
        assert!(
            serve.logs().lines().any(|line| line.contains("exceeded a limit") && line.contains(&needle))
                || serve.logs().lines().any(|line| line.contains("exceeded a limit") && line.contains(&format!("worker={attack}"))),
            "no limit line for {attack}:\n{}",
            serve.logs()
        );
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    good_keeps_answering(&serve, "after all").await;
}

#[tokio::test]
async fn a_tenant_cannot_see_its_neighbours_or_reach_the_admin_api() {
    let serve = BrinkServe::start(&[]);
    deploy_good(&serve);
    let admin = format!("ADMIN_URL={}", serve.admin);
    let public = format!("PUBLIC_URL={}", serve.base);
    deploy_attack(&serve, "snoop", &["--var", &admin, "--var", &public, "--kv", "COUNTS"]);
    good_keeps_answering(&serve, "snoop").await;
    let (status, body) = serve.get("snoop.test", "/").await;
    assert_eq!(status, 200, "{body}");
    let found: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(found["globalSecret"], "undefined");
    assert_eq!(found["globalGood"], "undefined", "the good tenant's global leaked");
    assert_eq!(found["envKeys"], "ADMIN_URL,ATTACK,COUNTS,PUBLIC_URL");
    for target in [format!("{}/v1/workers", serve.admin), format!("{}/", serve.base)] {
        let verdict = found[&target].as_str().unwrap_or_default();
        assert!(verdict.starts_with("refused"), "{target}: {verdict}");
    }
    // The snoop's own COUNTS is not the good tenant's.
    assert!(!serve.logs().contains("supersecret1"), "a secret reached the log");
}

/// Scheduling policies of the process's isolate threads
/// (`/proc/PID/task/*/stat`). A pool refill bootstrapping in the idle class
/// is named `warming-N`, not `isolate-N`: it runs no tenant's code yet, so
/// it is not one of the demotions these tests look for.
fn thread_policies(pid: u32) -> Vec<i64> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return vec![] };
    tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("stat")).ok())
        .filter_map(|stat| {
            let (head, rest) = stat.rsplit_once(')')?;
            let comm = head.split_once('(')?.1;
            // After the `(comm)` field: state is field 3, policy field 41.
            let policy = rest.split_whitespace().nth(38)?.parse().ok()?;
            (comm.starts_with("isolate-") && comm != "isolate-pool").then_some(policy)
        })
        .collect()
}

/// Isolate threads of the process in the idle scheduling class (`SCHED_IDLE`).
fn idle_threads(pid: u32) -> usize {
    thread_policies(pid).iter().filter(|policy| **policy == i64::from(libc::SCHED_IDLE)).count()
}

#[tokio::test]
async fn a_long_turn_runs_at_the_lowest_priority_so_short_turns_go_first() {
    let serve = BrinkServe::start(&[]);
    deploy_good(&serve);
    deploy_attack(&serve, "burn", &["--cpu-ms", "5000", "--wall-ms", "10000"]);
    deploy_attack(&serve, "loop", &["--cpu-ms", "1500", "--wall-ms", "10000"]);
    good_keeps_answering(&serve, "no").await;
    assert_eq!(idle_threads(serve.pid()), 0, "{:?}", thread_policies(serve.pid()));

    // While a loop spins, its isolate thread is demoted, and the good
    // tenant still answers.
    let looping = tokio::spawn({
        let url = serve.url("/");
        async move { client().get(url).header("host", "loop.test").send().await.map(|r| r.status().as_u16()) }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while idle_threads(serve.pid()) == 0 {
        assert!(std::time::Instant::now() < deadline, "no thread was demoted: {:?}", thread_policies(serve.pid()));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    good_keeps_answering(&serve, "loop").await;
    assert_eq!(looping.await.unwrap().unwrap(), 503);

    // A long but finite turn is demoted too, and, where the process may
    // raise priorities again (root here), promoted when it ends.
    assert_eq!(serve.get("burn.test", "/?ms=400").await, (200, "burnt".to_string()));
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while idle_threads(serve.pid()) > 0 {
            assert!(std::time::Instant::now() < deadline, "still demoted: {:?}", thread_policies(serve.pid()));
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    good_keeps_answering(&serve, "burn").await;
}

#[tokio::test]
async fn a_worker_that_keeps_hitting_its_limit_gets_cheaper_isolates() {
    // One isolate per worker, so each termination is followed by exactly one
    // replacement (no second isolate started while a burn keeps one busy).
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("brink.toml");
    std::fs::write(&config, "[scaling]\nmax_isolates_per_worker = 1\n").unwrap();
    let serve = BrinkServe::start(&["--config", config.to_str().unwrap()]);
    deploy_good(&serve);
    deploy_attack(&serve, "burn", &["--cpu-ms", "100", "--wall-ms", "10000"]);
    good_keeps_answering(&serve, "no").await;

    // One termination: the replacement runs at normal priority (on a server
    // that may raise priorities again, as root here can). A burn spins for
    // wall-clock time; 5 s leaves its demoted thread room to reach the
    // 100 ms CPU limit even when other processes keep both cores busy.
    assert_eq!(serve.get("burn.test", "/?ms=5000").await.0, 503);
    assert_eq!(serve.get("burn.test", "/?ms=0").await, (200, "burnt".to_string()));
    // SAFETY: geteuid has no preconditions.
    let may_raise_priorities = unsafe { libc::geteuid() } == 0;
    if may_raise_priorities {
        // The terminated isolate's thread, demoted while it looped, may take
        // a moment to exit; its replacement is not demoted.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while idle_threads(serve.pid()) != 0 {
            assert!(std::time::Instant::now() < deadline, "{:?}", thread_policies(serve.pid()));
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    // Three within a few seconds: its next isolate is demoted before it runs
    // a single long turn, and the one after that starts late.
    for _ in 0..2 {
        assert_eq!(serve.get("burn.test", "/?ms=5000").await.0, 503);
    }
    assert_eq!(serve.get("burn.test", "/?ms=0").await, (200, "burnt".to_string()));
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    // The terminated isolates' threads may take a moment to exit.
    while idle_threads(serve.pid()) != 1 {
        assert!(std::time::Instant::now() < deadline, "{:?}", thread_policies(serve.pid()));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(serve.logs().contains("delaying its next isolate"), "{}", serve.logs());
    good_keeps_answering(&serve, "burn").await;
}
