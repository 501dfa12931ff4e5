//! The Cache API: `caches.default` and `caches.open()` with match/put/delete
//! as Workers documents them — Cache-Control, Expires, Set-Cookie, Vary,
//! conditional requests, ranges, what put refuses — one store per process
//! that keeps tenants apart and stays within its size.

use std::time::Duration;

use brink_tests::{client, worker, Brink, BrinkServe};
use serde_json::Value;

async fn get(brink: &Brink, path: &str, headers: &[(&str, &str)]) -> Value {
    let mut request = client().get(brink.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("request");
    assert_eq!(response.status(), 200, "{path}");
    let text = response.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

async fn put(brink: &Brink, query: &str) {
    assert_eq!(get(brink, &format!("/put?{query}"), &[]).await, "put", "{query}");
}

async fn matched(brink: &Brink, key: &str, headers: &[(&str, &str)]) -> Value {
    get(brink, &format!("/match?key={key}"), headers).await
}

#[tokio::test]
async fn put_match_delete_round_trip() {
    let brink = Brink::start(worker("cache.js"), &[]);
    assert_eq!(matched(&brink, "a", &[]).await, serde_json::json!({"miss": true}));
    put(&brink, "key=a&cc=max-age%3D600&type=text/plain&body=hello").await;
    let hit = matched(&brink, "a", &[]).await;
    assert_eq!(hit["status"], 200);
    assert_eq!(hit["body"], "hello");
    assert_eq!(hit["headers"]["content-type"], "text/plain");
    assert_eq!(hit["headers"]["cf-cache-status"], "HIT");
    // A second put replaces the first.
    put(&brink, "key=a&cc=max-age%3D600&body=again").await;
    assert_eq!(matched(&brink, "a", &[]).await["body"], "again");
    assert_eq!(get(&brink, "/delete?key=a", &[]).await["deleted"], true);
    assert_eq!(get(&brink, "/delete?key=a", &[]).await["deleted"], false);
    assert_eq!(matched(&brink, "a", &[]).await["miss"], true);
}

#[tokio::test]
async fn named_caches_are_separate_from_the_default_one() {
    let brink = Brink::start(worker("cache.js"), &[]);
    put(&brink, "key=n&cc=max-age%3D600&body=default").await;
    put(&brink, "key=n&cc=max-age%3D600&body=named&cache=one").await;
    assert_eq!(matched(&brink, "n", &[]).await["body"], "default");
    assert_eq!(get(&brink, "/match?key=n&cache=one", &[]).await["body"], "named");
    assert_eq!(get(&brink, "/match?key=n&cache=two", &[]).await["miss"], true);
}

#[tokio::test]
async fn what_must_not_be_stored_is_not() {
    let brink = Brink::start(worker("cache.js"), &[]);
    for (key, query) in [
        ("no-store", "cc=no-store"),
        ("private", "cc=private%2C%20max-age%3D60"),
        ("no-cache", "cc=no-cache"),
        ("zero", "cc=max-age%3D0"),
        ("past", "expires=Thu%2C%2001%20Jan%201970%2000%3A00%3A00%20GMT"),
        ("cookie", "cc=max-age%3D60&cookie=session%3D1"),
        ("server-error", "status=500"),
    ] {
        put(&brink, &format!("key={key}&{query}")).await;
        assert_eq!(matched(&brink, key, &[]).await["miss"], true, "{key} was stored");
    }
    // private=Set-Cookie stores the response without its cookie.
    put(&brink, "key=strip&cc=private%3DSet-Cookie%2C%20max-age%3D60&cookie=session%3D1").await;
    let hit = matched(&brink, "strip", &[]).await;
    assert_eq!(hit["status"], 200);
    assert!(hit["headers"].get("set-cookie").is_none(), "{hit}");
    // Defaults when nothing is said: a 200 and a 404 are kept.
    put(&brink, "key=plain").await;
    assert_eq!(matched(&brink, "plain", &[]).await["status"], 200);
    // A response that is not stored still supersedes the stored one.
    put(&brink, "key=plain&cc=no-store").await;
    assert_eq!(matched(&brink, "plain", &[]).await["miss"], true, "a superseded entry answered");
    put(&brink, "key=missing&status=404&body=gone").await;
    assert_eq!(matched(&brink, "missing", &[]).await["status"], 404);
}

#[tokio::test]
async fn entries_expire_after_their_lifetime() {
    let brink = Brink::start(worker("cache.js"), &[]);
    put(&brink, "key=short&cc=max-age%3D1").await;
    put(&brink, "key=s-maxage&cc=max-age%3D1%2C%20s-maxage%3D600").await;
    let expires = httpdate_in(600);
    put(&brink, &format!("key=expires&expires={}", urlencode(&expires))).await;
    assert_eq!(matched(&brink, "short", &[]).await["status"], 200);
    // Waiting past a lifetime is what is being tested; no timing is asserted.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(matched(&brink, "short", &[]).await["miss"], true);
    assert_eq!(matched(&brink, "s-maxage", &[]).await["status"], 200, "s-maxage wins over max-age");
    assert_eq!(matched(&brink, "expires", &[]).await["status"], 200);
}

fn httpdate_in(seconds: u64) -> String {
    let at = std::time::SystemTime::now() + Duration::from_secs(seconds);
    let days = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let secs = at.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let (day_count, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = day_count as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        days[(day_count % 7) as usize],
        day,
        months[(month - 1) as usize],
        year,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

#[tokio::test]
async fn conditional_requests_get_304() {
    let brink = Brink::start(worker("cache.js"), &[]);
    put(&brink, "key=c&cc=max-age%3D600&etag=%22v1%22&lm=Wed%2C%2021%20Oct%202015%2007%3A28%3A00%20GMT").await;
    let hit = matched(&brink, "c", &[("if-none-match", "\"v1\"")]).await;
    assert_eq!(hit["status"], 304);
    assert_eq!(hit["body"], "");
    assert_eq!(hit["headers"]["etag"], "\"v1\"");
    assert_eq!(matched(&brink, "c", &[("if-none-match", "W/\"v1\", \"v0\"")]).await["status"], 304);
    assert_eq!(matched(&brink, "c", &[("if-none-match", "\"v2\"")]).await["status"], 200);
    let since_later = [("if-modified-since", "Thu, 22 Oct 2015 07:28:00 GMT")];
    assert_eq!(matched(&brink, "c", &since_later).await["status"], 304);
    let since_earlier = [("if-modified-since", "Tue, 20 Oct 2015 07:28:00 GMT")];
    assert_eq!(matched(&brink, "c", &since_earlier).await["status"], 200);
    // If-None-Match decides when both are sent.
    let both = [("if-none-match", "\"v2\""), ("if-modified-since", "Thu, 22 Oct 2015 07:28:00 GMT")];
    assert_eq!(matched(&brink, "c", &both).await["status"], 200);
}

#[tokio::test]
async fn ranges_of_cached_bodies() {
    let brink = Brink::start(worker("cache.js"), &[]);
    put(&brink, "key=r&cc=max-age%3D600&body=0123456789").await;
    let part = matched(&brink, "r", &[("range", "bytes=2-5")]).await;
    assert_eq!(part["status"], 206);
    assert_eq!(part["body"], "2345");
    assert_eq!(part["headers"]["content-range"], "bytes 2-5/10");
    assert_eq!(matched(&brink, "r", &[("range", "bytes=-3")]).await["body"], "789");
    assert_eq!(matched(&brink, "r", &[("range", "bytes=7-")]).await["body"], "789");
    let unsatisfiable = matched(&brink, "r", &[("range", "bytes=20-30")]).await;
    assert_eq!(unsatisfiable["status"], 416);
    assert_eq!(unsatisfiable["headers"]["content-range"], "bytes */10");
    // Several ranges are answered with the whole body.
    assert_eq!(matched(&brink, "r", &[("range", "bytes=0-1,3-4")]).await["status"], 200);
}

#[tokio::test]
async fn vary_selects_the_variant() {
    let brink = Brink::start(worker("cache.js"), &[]);
    let put_as = |language: &'static str, body: &'static str| {
        let url = brink.url(&format!("/put?key=v&cc=max-age%3D600&vary=Accept-Language&body={body}"));
        async move {
            let response = client().get(url).header("accept-language", language).send().await.unwrap();
            assert_eq!(response.status(), 200);
        }
    };
    put_as("en", "hello").await;
    put_as("fr", "bonjour").await;
    assert_eq!(matched(&brink, "v", &[("accept-language", "en")]).await["body"], "hello");
    assert_eq!(matched(&brink, "v", &[("accept-language", "fr")]).await["body"], "bonjour");
    assert_eq!(matched(&brink, "v", &[("accept-language", "de")]).await["miss"], true);
    assert_eq!(matched(&brink, "v", &[]).await["miss"], true);
}

#[tokio::test]
async fn put_refuses_what_workers_refuses() {
    let brink = Brink::start(worker("cache.js"), &[]);
    let errors = get(&brink, "/errors", &[]).await;
    assert_eq!(errors["post"], "TypeError: Cannot cache response to non-GET request.");
    assert_eq!(errors["partial"], "TypeError: Cannot cache response to a range request (206 Partial Content).");
    assert_eq!(errors["varyStar"], "TypeError: Cannot cache response with 'Vary: *' header.");
    assert_eq!(errors["error"], "TypeError: Cache is unable to store an error response");
    assert_eq!(errors["notAResponse"], "TypeError: Failed to execute 'put' on 'Cache': parameter 2 is not of type 'Response'.");
    assert_eq!(errors["relative"], "TypeError: Invalid URL: /relative");
    assert_eq!(errors["postMatch"], "undefined");
    assert_eq!(errors["postDelete"], "false");
    assert_eq!(errors["illegal"], "TypeError: Illegal constructor");
}

#[tokio::test]
async fn the_store_stays_within_its_size() {
    let brink = Brink::start(worker("cache.js"), &["--cache-mib", "32"]);
    // 200 entries of 1 MiB against a 32 MiB store: most are evicted, and
    // the process does not grow by anything like 200 MiB.
    let before = brink.peak_rss();
    let filled = get(&brink, "/fill?n=200&kib=1024", &[]).await;
    let hits = filled["hits"].as_u64().unwrap();
    // At most 32 fit; moka evicts in its housekeeping, so allow a margin.
    assert!(hits > 0 && hits < 100, "{hits} of 200 entries kept in 32 MiB");
    // What the store keeps is bounded; the JS heap (up to its 128 MiB limit)
    // also holds the bodies the worker built, until they are collected.
    let growth = brink.peak_rss().saturating_sub(before);
    assert!(growth < 192 * 1024 * 1024, "grew by {} MiB", growth / (1024 * 1024));
}

#[tokio::test]
async fn brink_serve_sizes_the_store_from_its_config_and_refuses_larger_entries() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("brink.toml");
    std::fs::write(&config, "[cache]\nmemory_bytes = 4194304\nmax_entry_bytes = 65536\n").unwrap();
    let server = BrinkServe::start(&["--config", config.to_str().unwrap()]);
    server.deploy(worker("cache.js"), "sized", &["--route", "sized.localhost"]);
    // One KiB over the cap is not stored (the put still resolves, as on
    // Workers); an entry of exactly the cap is.
    let (_, over) = server.get("sized.localhost", "/fill?n=1&kib=65").await;
    assert_eq!(over, r#"{"hits":0}"#);
    let (_, at_cap) = server.get("sized.localhost", "/fill?n=1&kib=64").await;
    assert_eq!(at_cap, r#"{"hits":1}"#);
    // A later put over the cap for the same URL is not stored, and the
    // entry it supersedes is gone too (no stale answer).
    let (_, superseded) = server.get("sized.localhost", "/fill?n=1&kib=65").await;
    assert_eq!(superseded, r#"{"hits":0}"#);
    // 4 MiB hold at most 64 entries of 60 KiB.
    let (_, filled) = server.get("sized.localhost", "/fill?n=200&kib=60").await;
    let hits: Value = serde_json::from_str(&filled).unwrap();
    let hits = hits["hits"].as_u64().unwrap();
    assert!(hits > 0 && hits < 100, "{hits} of 200 entries of 60 KiB kept in 4 MiB");
}

#[tokio::test]
async fn tenants_never_see_each_others_entries() {
    let server = BrinkServe::start(&[]);
    server.deploy(worker("cache.js"), "alice", &["--route", "alice.localhost"]);
    server.deploy(worker("cache.js"), "bob", &["--route", "bob.localhost"]);
    let (status, _) = server.get("alice.localhost", "/put?key=secret&cc=max-age%3D600&body=alice-only").await;
    assert_eq!(status, 200);
    let (_, alice) = server.get("alice.localhost", "/match?key=secret").await;
    assert!(alice.contains("alice-only"), "{alice}");
    // Same URL, same cache names: bob finds nothing, and cannot delete it.
    let (_, bob) = server.get("bob.localhost", "/match?key=secret").await;
    assert_eq!(bob, r#"{"miss":true}"#);
    let (_, bob_named) = server.get("bob.localhost", "/match?key=secret&cache=one").await;
    assert_eq!(bob_named, r#"{"miss":true}"#);
    let (_, deleted) = server.get("bob.localhost", "/delete?key=secret").await;
    assert_eq!(deleted, r#"{"deleted":false}"#);
    let (_, still) = server.get("alice.localhost", "/match?key=secret").await;
    assert!(still.contains("alice-only"), "{still}");
    // Bob's own entry under the same URL does not touch alice's.
    server.get("bob.localhost", "/put?key=secret&cc=max-age%3D600&body=bob-only").await;
    let (_, alice_again) = server.get("alice.localhost", "/match?key=secret").await;
    assert!(alice_again.contains("alice-only"), "{alice_again}");
}

/// `brink serve` with a disk tier at `<data dir>/cache` of `disk_bytes`
/// behind a memory tier of `memory_bytes`; the config file's directory
/// must outlive the server (a restart reads it again).
fn disk_server(config_dir: &std::path::Path, memory_bytes: u64, disk_bytes: u64) -> BrinkServe {
    let config = config_dir.join("brink.toml");
    std::fs::write(
        &config,
        format!("[cache]\nmemory_bytes = {memory_bytes}\nmax_entry_bytes = {memory_bytes}\ndisk_dir = \"cache\"\ndisk_bytes = {disk_bytes}\n"),
    )
    .unwrap();
    BrinkServe::start(&["--config", config.to_str().unwrap()])
}

/// The disk tier's entry files (not its secret, not a write in progress)
/// and their sizes.
fn entry_files(server: &BrinkServe) -> Vec<(std::path::PathBuf, u64)> {
    let Ok(entries) = std::fs::read_dir(server.data_dir.join("cache")) else { return Vec::new() };
    entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            name != "secret" && name != "lock" && !name.ends_with(".tmp")
        })
        .filter_map(|entry| Some((entry.path(), entry.metadata().ok()?.len())))
        .collect()
}

/// Waits (a bounded while) until the entry files satisfy `done`: disk
/// writes and removals finish in the background after a put or delete.
async fn wait_for_files(server: &BrinkServe, what: &str, done: impl Fn(&[(std::path::PathBuf, u64)]) -> bool) {
    for _ in 0..200 {
        if done(&entry_files(server)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: {:?}", entry_files(server));
}

async fn get_json(server: &BrinkServe, host: &str, path: &str) -> Value {
    let (status, body) = server.get(host, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or(Value::String(body))
}

/// GET `path` on `host` with request headers; the fixture's description.
async fn get_with(server: &BrinkServe, host: &str, path: &str, headers: &[(&str, &str)]) -> Value {
    let mut request = client().get(server.url(path)).header("host", host);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("request");
    assert_eq!(response.status(), 200, "{path}");
    serde_json::from_str(&response.text().await.expect("body")).expect("json")
}

#[tokio::test]
async fn the_disk_tier_serves_what_memory_cannot_hold_and_survives_a_restart() {
    let config = tempfile::tempdir().unwrap();
    // 64 KiB of memory, 2 MiB of disk: 20 entries of 16 KiB fit only on disk.
    let server = disk_server(config.path(), 64 * 1024, 2 * 1024 * 1024);
    server.deploy(worker("cache.js"), "tiered", &["--route", "tiered.localhost"]);
    assert_eq!(get_json(&server, "tiered.localhost", "/fill?n=20&kib=16").await["hits"], 20, "a match right after its put");
    wait_for_files(&server, "20 entries on disk", |files| files.len() == 20).await;
    assert_eq!(get_json(&server, "tiered.localhost", "/hits?n=20").await["hits"], 20, "memory holds at most 4 of them");
    // HTTP semantics of an entry read back from disk (after a restart the
    // memory tier is empty, so every hit below is a disk hit).
    let put = "/put?key=r&cc=max-age%3D600&etag=%22v1%22&vary=Accept-Language&body=0123456789";
    let response = client().get(server.url(put)).header("host", "tiered.localhost").header("accept-language", "en").send().await.unwrap();
    assert_eq!(response.status(), 200);
    wait_for_files(&server, "21 entries", |files| files.len() == 21).await;
    let server = server.restart();
    assert_eq!(get_json(&server, "tiered.localhost", "/hits?n=20").await["hits"], 20, "the disk tier survives a restart");
    let part = get_with(&server, "tiered.localhost", "/match?key=r", &[("range", "bytes=2-5"), ("accept-language", "en")]).await;
    assert_eq!((part["status"].as_u64(), part["body"].as_str()), (Some(206), Some("2345")), "{part}");
    assert_eq!(part["headers"]["content-range"], "bytes 2-5/10");
    let restart = server.restart();
    let not_modified = get_with(&restart, "tiered.localhost", "/match?key=r", &[("if-none-match", "\"v1\""), ("accept-language", "en")]).await;
    assert_eq!(not_modified["status"], 304, "{not_modified}");
    let other_language = get_with(&restart, "tiered.localhost", "/match?key=r", &[("accept-language", "fr")]).await;
    assert_eq!(other_language["miss"], true, "Vary from disk");
    // delete removes the entry from both tiers and its file.
    assert_eq!(get_json(&restart, "tiered.localhost", "/delete?key=r").await["deleted"], true);
    wait_for_files(&restart, "the deleted entry's file removed", |files| files.len() == 20).await;
    let restart = restart.restart();
    assert_eq!(get_json(&restart, "tiered.localhost", "/match?key=r").await["miss"], true);
}

/// A second `Vary` variant put while the first is only on disk (a restart
/// emptied memory) joins it instead of replacing it.
#[tokio::test]
async fn a_variant_put_next_to_one_only_on_disk_joins_it() {
    let config = tempfile::tempdir().unwrap();
    let server = disk_server(config.path(), 1024 * 1024, 1024 * 1024);
    server.deploy(worker("cache.js"), "varied", &["--route", "varied.localhost"]);
    let put = |server: &BrinkServe, language: &str| {
        let path = format!("/put?key=v&cc=max-age%3D600&vary=Accept-Language&body={language}-body");
        client().get(server.url(&path)).header("host", "varied.localhost").header("accept-language", language).send()
    };
    assert_eq!(put(&server, "en").await.unwrap().status(), 200);
    wait_for_files(&server, "the first variant on disk", |files| files.len() == 1).await;
    let server = server.restart();
    assert_eq!(put(&server, "fr").await.unwrap().status(), 200);
    for language in ["en", "fr", "en"] {
        let found = get_with(&server, "varied.localhost", "/match?key=v", &[("accept-language", language)]).await;
        assert_eq!(found["body"], format!("{language}-body"), "{language}: {found}");
    }
    // And both are on disk for the next start.
    let server = server.restart();
    for language in ["fr", "en"] {
        let found = get_with(&server, "varied.localhost", "/match?key=v", &[("accept-language", language)]).await;
        assert_eq!(found["body"], format!("{language}-body"), "{language} after a restart: {found}");
    }
}

/// A crash between a worker's delete (its directory renamed away) and the
/// purge of its cache entries: the next start drops the entries of every
/// worker that is no longer deployed, and keeps the others'.
#[tokio::test]
async fn a_restart_drops_the_disk_entries_of_a_worker_deleted_before_a_crash() {
    let config = tempfile::tempdir().unwrap();
    let server = disk_server(config.path(), 1024 * 1024, 1024 * 1024);
    for name in ["kept", "gone"] {
        server.deploy(worker("cache.js"), name, &["--route", &format!("{name}.localhost")]);
        assert_eq!(get_json(&server, &format!("{name}.localhost"), "/fill?n=3&kib=1").await["hits"], 3);
    }
    wait_for_files(&server, "6 entries on disk", |files| files.len() == 6).await;
    let workers = server.data_dir.join("workers");
    std::fs::rename(workers.join("gone"), workers.join(".deleted-gone-1")).unwrap();
    let server = server.restart();
    wait_for_files(&server, "the deleted worker's 3 entries removed", |files| files.len() == 3).await;
    assert!(server.logs().contains("dropped the entries of workers no longer deployed"), "{}", server.logs());
    assert_eq!(get_json(&server, "kept.localhost", "/hits?n=3").await["hits"], 3, "the deployed worker keeps its entries");
    // A new worker of the deleted one's name starts with an empty cache.
    server.deploy(worker("cache.js"), "gone", &["--route", "gone.localhost"]);
    assert_eq!(get_json(&server, "gone.localhost", "/hits?n=3").await["hits"], 0);
}

#[tokio::test]
async fn a_corrupt_or_truncated_file_is_a_miss_and_is_removed() {
    let config = tempfile::tempdir().unwrap();
    let server = disk_server(config.path(), 1024 * 1024, 1024 * 1024);
    server.deploy(worker("cache.js"), "damaged", &["--route", "damaged.localhost"]);
    get_json(&server, "damaged.localhost", "/fill?n=2&kib=4").await;
    wait_for_files(&server, "2 entries", |files| files.len() == 2).await;
    let mut files = entry_files(&server);
    files.sort();
    // One has a flipped byte in its body, the other is cut short; neither
    // must be served after a restart (memory is empty then).
    let mut bytes = std::fs::read(&files[0].0).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&files[0].0, &bytes).unwrap();
    let bytes = std::fs::read(&files[1].0).unwrap();
    std::fs::write(&files[1].0, &bytes[..bytes.len() - 100]).unwrap();
    // A file of another format version is removed at start.
    let mut foreign = bytes.clone();
    foreign[4] = 99;
    let foreign_path = server.data_dir.join("cache").join(format!("{}-{:016x}", "ab".repeat(32), 1u64));
    std::fs::write(&foreign_path, &foreign).unwrap();
    let server = server.restart();
    assert!(!foreign_path.exists(), "a file of an unknown version was kept");
    assert_eq!(get_json(&server, "damaged.localhost", "/hits?n=2").await["hits"], 0);
    wait_for_files(&server, "damaged files removed", |files| files.is_empty()).await;
    // The cache keeps working.
    assert_eq!(get_json(&server, "damaged.localhost", "/fill?n=2&kib=4").await["hits"], 2);
}

#[tokio::test]
async fn tenants_never_see_each_others_entries_on_disk() {
    let config = tempfile::tempdir().unwrap();
    let server = disk_server(config.path(), 1024 * 1024, 1024 * 1024);
    server.deploy(worker("cache.js"), "alice", &["--route", "alice.localhost"]);
    server.deploy(worker("cache.js"), "bob", &["--route", "bob.localhost"]);
    get_json(&server, "alice.localhost", "/put?key=secret&cc=max-age%3D600&body=alice-only").await;
    wait_for_files(&server, "alice's entry", |files| files.len() == 1).await;
    // File names are hashes: nothing of the worker, cache or URL.
    let (path, _) = &entry_files(&server)[0];
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    assert!(!name.contains("alice") && !name.contains("secret") && !name.contains("cache.test"), "{name}");
    let server = server.restart();
    assert_eq!(get_json(&server, "bob.localhost", "/match?key=secret").await["miss"], true);
    assert_eq!(get_json(&server, "bob.localhost", "/delete?key=secret").await["deleted"], false);
    assert_eq!(get_json(&server, "alice.localhost", "/match?key=secret").await["body"], "alice-only");
    // A deleted worker's entries go with it: a new worker of the same name
    // (anyone's) starts with an empty cache.
    let deleted = server.cli(&["delete", "alice"]);
    assert!(deleted.status.success(), "{}", String::from_utf8_lossy(&deleted.stderr));
    wait_for_files(&server, "alice's entries purged", |files| files.is_empty()).await;
    server.deploy(worker("cache.js"), "alice", &["--route", "alice.localhost"]);
    assert_eq!(get_json(&server, "alice.localhost", "/match?key=secret").await["miss"], true);
}

#[tokio::test]
async fn a_hostile_tenant_cannot_grow_the_disk_tier_past_its_bound() {
    let config = tempfile::tempdir().unwrap();
    let bound = 300 * 1024;
    let server = disk_server(config.path(), 64 * 1024, bound);
    server.deploy(worker("cache.js"), "victim", &["--route", "victim.localhost"]);
    server.deploy(worker("cache.js"), "hog", &["--route", "hog.localhost"]);
    get_json(&server, "victim.localhost", "/fill?n=4&kib=16").await;
    // 100 entries of 16 KiB against 300 KiB: the hog evicts cold entries
    // (the victim's among them) but the tier stays within its bound.
    get_json(&server, "hog.localhost", "/fill?n=100&kib=16").await;
    wait_for_files(&server, "within the bound", |files| {
        let total: u64 = files.iter().map(|(_, size)| size).sum();
        total <= bound && files.len() >= 10
    })
    .await;
    let kept = get_json(&server, "hog.localhost", "/hits?n=100").await["hits"].as_u64().unwrap();
    assert!((10..=25).contains(&kept), "{kept} of 100 entries of 16 KiB in 300 KiB (and 64 KiB of memory)");
}

#[tokio::test]
async fn bad_disk_tier_settings_fail_the_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_dir = dir.path().join("file");
    std::fs::write(&not_a_dir, "x").unwrap();
    for (toml, key) in [
        ("[cache]\ndisk_dir = \"c\"\ndisk_bytes = 0\n".to_string(), "cache.disk_bytes"),
        ("[cache]\ndisk_bytes = 1000\n".to_string(), "cache.disk_bytes"),
        (format!("[cache]\ndisk_dir = {:?}\n", not_a_dir.join("sub").display().to_string()), "cache.disk_dir"),
    ] {
        let config = dir.path().join("brink.toml");
        std::fs::write(&config, &toml).unwrap();
        let data = dir.path().join("data");
        let (status, logs) = BrinkServe::start_expecting_failure(
            &["--config", config.to_str().unwrap(), "--data-dir", data.to_str().unwrap()],
            Some(brink_tests::SERVE_TOKEN),
        );
        assert!(!status.success(), "{toml}");
        assert!(logs.contains(key), "{toml}: {logs}");
    }
    // A second server given a directory another one is using.
    let shared = dir.path().join("shared");
    let config = dir.path().join("first.toml");
    std::fs::write(&config, format!("[cache]\ndisk_dir = {:?}\n", shared.display().to_string())).unwrap();
    let first = BrinkServe::start(&["--config", config.to_str().unwrap()]);
    let (status, logs) = BrinkServe::start_expecting_failure(
        &["--config", config.to_str().unwrap(), "--data-dir", dir.path().join("second").to_str().unwrap()],
        Some(brink_tests::SERVE_TOKEN),
    );
    assert!(!status.success(), "two servers shared a disk_dir");
    assert!(logs.contains("cache.disk_dir") && logs.contains("another brink process is using this directory"), "{logs}");
    // The first one is unharmed, and the directory is free again once it stops.
    first.deploy(worker("cache.js"), "first", &["--route", "first.localhost"]);
    assert_eq!(get_json(&first, "first.localhost", "/fill?n=1&kib=1").await["hits"], 1);
    drop(first);
    let again = BrinkServe::start(&["--config", config.to_str().unwrap()]);
    assert_eq!(again.get("none.localhost", "/").await.0, 404);
}
