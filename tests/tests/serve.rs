//! `brink serve`: deploys through the real CLI, requests over real sockets,
//! restarts of the real process.

use std::time::Duration;

use brink_tests::{client, worker, BrinkServe, SERVE_TOKEN};
use serde_json::Value;

fn app() -> std::path::PathBuf {
    worker("serve-app.js")
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn json_of(output: &std::process::Output) -> Value {
    assert!(output.status.success(), "command failed: {}", stderr(output));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(output)))
}

async fn admin_get(serve: &BrinkServe, path: &str, token: Option<&str>) -> (u16, String) {
    let mut request = client().get(format!("{}{path}", serve.admin));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn two_workers_on_two_hosts_and_404_for_an_unknown_host() {
    let serve = BrinkServe::start(&[]);
    assert_eq!(serve.deploy(app(), "alpha", &["--route", "alpha.test", "--var", "WHO=alpha", "--var", "V=1"]), 1);
    assert_eq!(serve.deploy(app(), "beta", &["--route", "beta.test", "--var", "WHO=beta", "--var", "V=1"]), 1);
    assert_eq!(serve.get("alpha.test", "/x").await, (200, "alpha:1 /x".into()));
    assert_eq!(serve.get("BETA.test:80", "/y").await, (200, "beta:1 /y".into()));
    let (status, body) = serve.get("gamma.test", "/").await;
    assert_eq!(status, 404);
    assert!(body.contains("gamma.test"), "{body}");

    let list = json_of(&serve.cli(&["workers", "list", "--json"]));
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|w| w["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["alpha", "beta"]);
    assert_eq!(list[0]["routes"], serde_json::json!(["alpha.test"]));
    let table = stdout(&serve.cli(&["workers", "list"]));
    assert!(table.starts_with("NAME"), "{table}");
    assert!(table.contains("alpha") && table.contains("beta.test"), "{table}");
}

#[tokio::test]
async fn deploy_uploads_imported_modules_and_refuses_code_that_does_not_load() {
    let serve = BrinkServe::start(&[]);
    serve.deploy(worker("modules/worker.js"), "mods", &["--route", "mods.test", "--var", "NAME=brink"]);
    assert_eq!(serve.get("mods.test", "/").await, (200, "hello, brink! (vanilla)".into()));

    let entry = worker("syntax-error.js").display().to_string();
    let output = serve.cli(&["deploy", &entry, "--name", "broken", "--route", "broken.test"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("syntax-error.js"), "{}", stderr(&output));
    assert!(stderr(&output).contains("400"), "{}", stderr(&output));
    // Nothing was created: no worker, no route.
    assert_eq!(serve.get("broken.test", "/").await.0, 404);
    assert!(json_of(&serve.cli(&["workers", "list", "--json"])).as_array().unwrap().iter().all(|w| w["name"] != "broken"));
}

#[tokio::test]
async fn a_restart_brings_back_workers_versions_routes_vars_secrets_and_kv() {
    let serve = BrinkServe::start(&[]);
    serve.deploy(app(), "keep", &["--route", "keep.test", "--var", "WHO=keep", "--var", "V=1"]);
    let v2 = serve.deploy(
        app(),
        "keep",
        &["--route", "keep.test", "--route", "*.keep.test", "--var", "WHO=keep", "--var", "V=2", "--secret", "SECRET=abcdef", "--kv", "COUNTS"],
    );
    assert_eq!(v2, 2);
    assert_eq!(serve.get("keep.test", "/count").await, (200, "1".into()));
    assert_eq!(serve.get("keep.test", "/count").await, (200, "2".into()));

    let serve = serve.restart();
    assert_eq!(serve.get("keep.test", "/").await, (200, "keep:2 /".into()));
    assert_eq!(serve.get("x.keep.test", "/").await, (200, "keep:2 /".into()));
    assert_eq!(serve.get("keep.test", "/secret").await, (200, "secret of length 6".into()));
    assert_eq!(serve.get("keep.test", "/count").await, (200, "3".into()));
    let versions = json_of(&serve.cli(&["versions", "keep", "--json"]));
    let numbers: Vec<u64> = versions.as_array().unwrap().iter().map(|v| v["version"].as_u64().unwrap()).collect();
    assert_eq!(numbers, [1, 2]);
    assert_eq!(versions[1]["active"], true);
    // Version 1 is still there to roll back to, as it was.
    json_of(&serve.cli(&["rollback", "keep", "1", "--json"]));
    assert_eq!(serve.get("keep.test", "/").await, (200, "keep:1 /".into()));
    assert_eq!(serve.get("keep.test", "/secret").await, (200, "no secret".into()));
}

#[tokio::test]
async fn rollback_switches_versions_and_survives_a_restart() {
    let serve = BrinkServe::start(&[]);
    for v in 1..=3 {
        let var = format!("V={v}");
        serve.deploy(app(), "roll", &["--route", "roll.test", "--var", "WHO=roll", "--var", &var]);
    }
    assert_eq!(serve.get("roll.test", "/").await.1, "roll:3 /");
    let output = serve.cli(&["rollback", "roll", "1"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(serve.get("roll.test", "/").await.1, "roll:1 /");
    let versions = json_of(&serve.cli(&["versions", "roll", "--json"]));
    let active: Vec<u64> =
        versions.as_array().unwrap().iter().filter(|v| v["active"] == true).map(|v| v["version"].as_u64().unwrap()).collect();
    assert_eq!(active, [1]);

    let output = serve.cli(&["rollback", "roll", "9"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("no version 9"), "{}", stderr(&output));
    assert_eq!(serve.get("roll.test", "/").await.1, "roll:1 /");

    let serve = serve.restart();
    assert_eq!(serve.get("roll.test", "/").await.1, "roll:1 /");
    // The next deploy gets the next number, not a reused one.
    assert_eq!(serve.deploy(app(), "roll", &["--route", "roll.test", "--var", "WHO=roll", "--var", "V=4"]), 4);
}

#[tokio::test]
async fn delete_stops_routing_at_once_and_for_good() {
    let serve = BrinkServe::start(&[]);
    serve.deploy(app(), "gone", &["--route", "gone.test", "--var", "WHO=gone", "--var", "V=1"]);
    serve.deploy(app(), "stay", &["--route", "stay.test", "--var", "WHO=stay", "--var", "V=1"]);
    // A keep-alive connection opened before the delete sees it on its next request.
    let keep_alive = client();
    let url = serve.url("/");
    let first = keep_alive.get(&url).header("host", "gone.test").send().await.unwrap();
    assert_eq!(first.text().await.unwrap(), "gone:1 /");
    // A request in flight during the delete finishes.
    let slow = {
        let client = keep_alive.clone();
        let url = serve.url("/slow?ms=800");
        tokio::spawn(async move { client.get(url).header("host", "gone.test").send().await.unwrap().text().await.unwrap() })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let output = serve.cli(&["delete", "gone"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let after = keep_alive.get(&url).header("host", "gone.test").send().await.unwrap();
    assert_eq!(after.status(), 404);
    assert_eq!(slow.await.unwrap(), "gone:1");
    assert_eq!(serve.get("stay.test", "/").await.1, "stay:1 /");
    assert!(!serve.cli(&["versions", "gone"]).status.success());
    assert!(!serve.cli(&["delete", "gone"]).status.success());

    let serve = serve.restart();
    assert_eq!(serve.get("gone.test", "/").await.0, 404);
    assert_eq!(serve.get("stay.test", "/").await.1, "stay:1 /");
    // The name is free again and starts over.
    assert_eq!(serve.deploy(app(), "gone", &["--route", "gone.test", "--var", "WHO=gone", "--var", "V=9"]), 1);
}

#[tokio::test]
async fn the_most_specific_route_wins_and_taken_routes_are_refused() {
    let serve = BrinkServe::start(&[]);
    serve.deploy(app(), "site", &["--route", "shop.test", "--var", "WHO=site", "--var", "V=1"]);
    serve.deploy(app(), "api", &["--route", "shop.test/api/", "--var", "WHO=api", "--var", "V=1"]);
    serve.deploy(app(), "wild", &["--route", "*.shop.test", "--var", "WHO=wild", "--var", "V=1"]);
    serve.deploy(app(), "eu", &["--route", "*.eu.shop.test", "--route", "www.shop.test/api/v2/", "--var", "WHO=eu", "--var", "V=1"]);
    for (host, path, who) in [
        ("shop.test", "/", "site"),
        ("shop.test", "/apix", "site"),
        ("shop.test", "/api/users", "api"),
        ("www.shop.test", "/", "wild"),
        ("www.shop.test", "/api/v2/x", "eu"),
        ("a.b.shop.test", "/", "wild"),
        ("fr.eu.shop.test", "/api/", "eu"),
    ] {
        let (status, body) = serve.get(host, path).await;
        assert_eq!(status, 200, "{host}{path}");
        assert!(body.starts_with(&format!("{who}:")), "{host}{path} went to {body}");
    }
    assert_eq!(serve.get("eu.shop.test.evil", "/").await.0, 404);

    let entry = app().display().to_string();
    let output = serve.cli(&["deploy", &entry, "--name", "thief", "--route", "SHOP.test/api/*", "--var", "WHO=thief", "--var", "V=1"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("already used by worker \"api\""), "{}", stderr(&output));
    assert!(stderr(&output).contains("409"), "{}", stderr(&output));
    assert!(serve.get("shop.test", "/api/").await.1.starts_with("api:"));
    // The owner itself may redeploy with the route.
    serve.deploy(app(), "api", &["--route", "shop.test/api/", "--var", "WHO=api", "--var", "V=2"]);
    assert_eq!(serve.get("shop.test", "/api/").await.1, "api:2 /api/");
}

#[tokio::test]
async fn a_new_version_takes_over_atomically_under_load() {
    let serve = BrinkServe::start(&[]);
    serve.deploy(app(), "hot", &["--route", "hot.test", "--var", "WHO=hot", "--var", "V=0"]);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut loaders = Vec::new();
    for _ in 0..4 {
        let (stop, url) = (stop.clone(), serve.url("/"));
        loaders.push(tokio::spawn(async move {
            // One keep-alive client per loader: its connection outlives every switch.
            let client = client();
            let mut seen = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let response = client.get(&url).header("host", "hot.test").send().await.expect("request failed");
                let status = response.status().as_u16();
                let body = response.text().await.expect("body failed");
                assert_eq!(status, 200, "a request failed during a switch: {body}");
                let version: u64 = body
                    .strip_prefix("hot:")
                    .and_then(|rest| rest.strip_suffix(" /"))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("unexpected body {body:?}"));
                seen.push(version);
            }
            seen
        }));
    }
    for v in 1..=20u64 {
        let var = format!("V={v}");
        assert_eq!(serve.deploy(app(), "hot", &["--route", "hot.test", "--var", "WHO=hot", "--var", &var]), v + 1);
        // Acknowledged means serving: the very next request gets it.
        assert_eq!(serve.get("hot.test", "/").await.1, format!("hot:{v} /"));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut total = 0;
    for loader in loaders {
        let seen = loader.await.unwrap();
        total += seen.len();
        // Each client's requests are sequential, so it never goes back to an older version.
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "a client went back to an older version: {seen:?}");
    }
    assert!(total > 20, "the load did not run ({total} requests)");
}

#[tokio::test]
async fn without_the_right_token_nothing_is_read_or_changed() {
    let serve = BrinkServe::start(&[]);
    serve.deploy(app(), "safe", &["--route", "safe.test", "--var", "WHO=safe", "--var", "V=1"]);
    for token in [None, Some("wrong-token"), Some("test-admin-token-012345678"), Some("")] {
        for path in ["/v1/workers", "/v1/workers/safe/versions", "/v1/workers/safe/tail", "/metrics", "/v1/nothing"] {
            let (status, body) = admin_get(&serve, path, token).await;
            assert_eq!(status, 401, "{path} with {token:?}: {body}");
            assert!(!body.contains("safe.test"), "{body}");
        }
        let mut delete = client().delete(format!("{}/v1/workers/safe", serve.admin));
        let mut rollback = client().post(format!("{}/v1/workers/safe/rollback", serve.admin)).body(r#"{"version":1}"#);
        if let Some(token) = token {
            delete = delete.bearer_auth(token);
            rollback = rollback.bearer_auth(token);
        }
        assert_eq!(delete.send().await.unwrap().status(), 401);
        assert_eq!(rollback.send().await.unwrap().status(), 401);
        let entry = app().display().to_string();
        let output = serve.cli_with_token(&["deploy", &entry, "--name", "safe", "--route", "evil.test", "--var", "WHO=evil", "--var", "V=2"], token);
        assert!(!output.status.success());
        let output = serve.cli_with_token(&["delete", "safe"], token);
        assert!(!output.status.success());
        if token.is_some_and(|t| !t.is_empty()) {
            assert!(stderr(&output).contains("401"), "{}", stderr(&output));
        } else {
            assert!(stderr(&output).contains("BRINK_ADMIN_TOKEN"), "{}", stderr(&output));
        }
    }
    assert_eq!(serve.get("safe.test", "/").await, (200, "safe:1 /".into()));
    assert_eq!(serve.get("evil.test", "/").await.0, 404);
    assert_eq!(json_of(&serve.cli(&["versions", "safe", "--json"])).as_array().unwrap().len(), 1);
    // Only the health check is open.
    assert_eq!(admin_get(&serve, "/healthz", None).await, (200, "ok\n".into()));
    // The token in a query string or another scheme does not count.
    let (status, _) = admin_get(&serve, &format!("/v1/workers?token={SERVE_TOKEN}"), None).await;
    assert_eq!(status, 401);
    let basic = client().get(format!("{}/v1/workers", serve.admin)).header("authorization", format!("Basic {SERVE_TOKEN}"));
    assert_eq!(basic.send().await.unwrap().status(), 401);
}

#[tokio::test]
async fn secrets_are_write_only() {
    let secret = "s3cr3t-value-that-must-never-show";
    let serve = BrinkServe::start(&[]);
    let secret_arg = format!("SECRET={secret}");
    serve.deploy(app(), "vault", &["--route", "vault.test", "--var", "WHO=vault", "--var", "V=1", "--secret", &secret_arg]);
    assert_eq!(serve.get("vault.test", "/secret").await.1, format!("secret of length {}", secret.len()));
    // A bad deploy that carries the secret does not echo it either.
    let entry = worker("syntax-error.js").display().to_string();
    let failed = serve.cli(&["deploy", &entry, "--name", "vault", "--secret", &secret_arg]);
    assert!(!failed.status.success());
    let dup = serve.cli(&["deploy", &app().display().to_string(), "--name", "vault", "--secret", &secret_arg, "--var", "SECRET=x"]);
    assert!(!dup.status.success());

    let mut shown = vec![
        stdout(&serve.cli(&["workers", "list", "--json"])),
        stdout(&serve.cli(&["workers", "list"])),
        stdout(&serve.cli(&["versions", "vault", "--json"])),
        stdout(&serve.cli(&["versions", "vault"])),
        admin_get(&serve, "/v1/workers/vault", Some(SERVE_TOKEN)).await.1,
        admin_get(&serve, "/metrics", Some(SERVE_TOKEN)).await.1,
        stderr(&failed),
        stdout(&failed),
        stderr(&dup),
    ];
    let versions = json_of(&serve.cli(&["versions", "vault", "--json"]));
    assert_eq!(versions[0]["secret_names"], serde_json::json!(["SECRET"]));
    let meta = std::fs::read_to_string(serve.data_dir.join("workers/vault/v1/meta.json")).unwrap();
    shown.push(meta);
    shown.push(serve.logs());
    for text in &shown {
        assert!(!text.contains(secret), "a secret value was shown:\n{text}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(serve.data_dir.join("workers/vault/v1/secrets.json")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "secrets.json is readable by others: {mode:o}");
    }
}

#[tokio::test]
async fn kv_namespaces_are_per_tenant_unless_shared_on_purpose() {
    let serve = BrinkServe::start(&[]);
    for name in ["one", "two"] {
        let (route, who) = (format!("{name}.test"), format!("WHO={name}"));
        serve.deploy(app(), name, &["--route", &route, "--var", &who, "--var", "V=1", "--kv", "COUNTS"]);
    }
    for name in ["three", "four"] {
        let (route, who) = (format!("{name}.test"), format!("WHO={name}"));
        serve.deploy(app(), name, &["--route", &route, "--var", &who, "--var", "V=1", "--kv", "COUNTS=shared-counts"]);
    }
    assert_eq!(serve.get("one.test", "/count").await.1, "1");
    assert_eq!(serve.get("one.test", "/count").await.1, "2");
    assert_eq!(serve.get("two.test", "/count").await.1, "1", "worker two saw worker one's COUNTS");
    assert_eq!(serve.get("three.test", "/count").await.1, "1");
    assert_eq!(serve.get("four.test", "/count").await.1, "2", "an explicitly shared namespace is shared");
    // A deploy cannot name another worker's own namespace.
    let output = serve.cli(&["deploy", &app().display().to_string(), "--name", "spy", "--kv", "COUNTS=one__COUNTS"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("reserved"), "{}", stderr(&output));
}

#[tokio::test]
async fn tail_streams_only_that_workers_lines() {
    let serve = BrinkServe::start(&[]);
    serve.deploy(app(), "loud", &["--route", "loud.test", "--var", "WHO=loud", "--var", "V=1"]);
    serve.deploy(app(), "other", &["--route", "other.test", "--var", "WHO=other", "--var", "V=1"]);
    let mut tail = std::process::Command::new(brink_tests::brink_bin())
        .args(["tail", "loud", "--json"])
        .env("BRINK_ADMIN_URL", &serve.admin)
        .env("BRINK_ADMIN_TOKEN", SERVE_TOKEN)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout_pipe = tail.stdout.take().unwrap();
    let stderr_pipe = tail.stderr.take().unwrap();
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let connected = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let lines = lines.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout_pipe).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        let connected = connected.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr_pipe).lines().map_while(Result::ok) {
                if line.contains("tailing loud") {
                    connected.store(true, std::sync::atomic::Ordering::SeqCst);
                }
            }
        });
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !connected.load(std::sync::atomic::Ordering::SeqCst) {
        assert!(std::time::Instant::now() < deadline, "brink tail did not connect");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    serve.get("other.test", "/log?m=from-other").await;
    serve.get("loud.test", "/log?m=from-loud").await;
    // The stream survives a deploy of the same worker.
    serve.deploy(app(), "loud", &["--route", "loud.test", "--var", "WHO=loud", "--var", "V=2"]);
    serve.get("loud.test", "/log?m=after-deploy").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while lines.lock().unwrap().len() < 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = tail.kill();
    let _ = tail.wait();
    let lines = lines.lock().unwrap().clone();
    let messages: Vec<String> = lines
        .iter()
        .map(|line| serde_json::from_str::<Value>(line).unwrap_or_else(|_| panic!("not NDJSON: {line}")))
        .map(|value| value["message"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(messages.iter().any(|m| m.contains("loud says from-loud")), "{lines:?}");
    assert!(messages.iter().any(|m| m.contains("loud says after-deploy")), "{lines:?}");
    assert!(!messages.iter().any(|m| m.contains("other")), "another worker's line leaked: {lines:?}");
    // Unknown workers cannot be tailed.
    assert_eq!(admin_get(&serve, "/v1/workers/nobody/tail", Some(SERVE_TOKEN)).await.0, 404);
}

#[tokio::test]
async fn metrics_count_requests_by_worker_and_status() {
    let serve = BrinkServe::start(&[]);
    serve.deploy(app(), "meter", &["--route", "meter.test", "--var", "WHO=meter", "--var", "V=1"]);
    for _ in 0..3 {
        assert_eq!(serve.get("meter.test", "/").await.0, 200);
    }
    assert_eq!(serve.get("meter.test", "/throw").await.0, 500);
    let (status, text) = admin_get(&serve, "/metrics", Some(SERVE_TOKEN)).await;
    assert_eq!(status, 200);
    for expected in [
        "brink_requests_total{worker=\"meter\",status=\"200\"} 3",
        "brink_requests_total{worker=\"meter\",status=\"500\"} 1",
        "brink_cold_starts_total{worker=\"meter\"} ",
        "brink_cpu_seconds_total{worker=\"meter\"} ",
        "brink_request_duration_seconds_count{worker=\"meter\"} 4",
        "brink_live_isolates ",
        "brink_pool_warm_isolates ",
        "brink_evictions_total ",
        "# TYPE brink_limit_terminations_total counter",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    // A new version does not reset the worker's counters.
    serve.deploy(app(), "meter", &["--route", "meter.test", "--var", "WHO=meter", "--var", "V=2"]);
    assert_eq!(serve.get("meter.test", "/").await.0, 200);
    let (_, text) = admin_get(&serve, "/metrics", Some(SERVE_TOKEN)).await;
    assert!(text.contains("brink_requests_total{worker=\"meter\",status=\"200\"} 4"), "{text}");
    let cold_starts: u64 = text
        .lines()
        .find_map(|line| line.strip_prefix("brink_cold_starts_total{worker=\"meter\"} "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no cold starts for meter in\n{text}"));
    assert!(cold_starts >= 2, "cold starts went back to {cold_starts} after a deploy");
}

#[test]
fn an_unknown_config_key_fails_at_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("brink.toml");
    std::fs::write(&config, "[limits]\ncpu_ms = 50\ncpu_msec = 50\n").unwrap();
    let config = config.display().to_string();
    let (status, logs) = BrinkServe::start_expecting_failure(&["--config", &config], Some(SERVE_TOKEN));
    assert!(!status.success());
    assert!(logs.contains("cpu_msec"), "{logs}");

    std::fs::write(dir.path().join("brink.toml"), "[scaling]\nidle_timeout_secs = \"soon\"\n").unwrap();
    let (status, logs) = BrinkServe::start_expecting_failure(&["--config", &config], Some(SERVE_TOKEN));
    assert!(!status.success());
    assert!(logs.contains("idle_timeout_secs"), "{logs}");
}

#[test]
fn without_an_admin_token_serve_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data").display().to_string();
    let (status, logs) = BrinkServe::start_expecting_failure(&["--data-dir", &data], None);
    assert!(!status.success());
    assert!(logs.contains("BRINK_ADMIN_TOKEN") && logs.contains("admin.token_file"), "{logs}");
}

#[tokio::test]
async fn token_file_and_config_declared_workers() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "file-token-42\n").unwrap();
    let config = dir.path().join("brink.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"data\"\n[admin]\ntoken_file = \"token\"\n[[workers]]\nname = \"static\"\nentry = {:?}\nroutes = [\"static.test\"]\nvars = {{ WHO = \"static\", V = \"cfg\" }}\n",
            app().display().to_string()
        ),
    )
    .unwrap();
    let config = config.display().to_string();
    let (mut child, public, admin) = start_with_config(&config);
    let response = client().get(format!("{public}/")).header("host", "static.test").send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "static:cfg /");
    let ok = client().get(format!("{admin}/v1/workers")).bearer_auth("file-token-42").send().await.unwrap();
    assert_eq!(ok.status(), 200);
    let wrong = client().get(format!("{admin}/v1/workers")).bearer_auth(SERVE_TOKEN).send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let _ = child.kill();
    let _ = child.wait();

    // Restarting with the same file does not pile up identical versions.
    let (mut child, public, admin) = start_with_config(&config);
    let versions = client().get(format!("{admin}/v1/workers/static/versions")).bearer_auth("file-token-42").send().await.unwrap();
    let versions: Value = versions.json().await.unwrap();
    assert_eq!(versions.as_array().unwrap().len(), 1, "{versions}");
    let response = client().get(format!("{public}/")).header("host", "static.test").send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "static:cfg /");
    let _ = child.kill();
    let _ = child.wait();
}

/// Starts `brink serve --config FILE` with no token in the environment;
/// returns the process and its public and admin URLs.
fn start_with_config(config: &str) -> (std::process::Child, String, String) {
    let mut child = std::process::Command::new(brink_tests::brink_bin())
        .args(["serve", "--config", config, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
        .env_remove("BRINK_ADMIN_TOKEN")
        .env("NO_COLOR", "1")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr_pipe = child.stderr.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr_pipe).lines().map_while(Result::ok) {
            eprintln!("[brink] {line}");
            let _ = sender.send(line);
        }
    });
    let mut public = None;
    let mut admin = None;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while public.is_none() || admin.is_none() {
        let line = receiver.recv_timeout(deadline - std::time::Instant::now()).expect("serve did not start");
        let url = |marker: &str| line.find(marker).map(|at| line[at + marker.len()..].split_whitespace().next().unwrap().to_string());
        public = public.or(url("public listener on "));
        admin = admin.or(url("admin API on "));
    }
    (child, public.unwrap(), admin.unwrap())
}
