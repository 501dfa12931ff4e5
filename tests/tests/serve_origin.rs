//! Origins for `brink serve` deploys: `brink deploy --origin` and the admin
//! API's `origin` field, stored with the version (rollback brings the old
//! origin back, a restart keeps it), shown by `brink versions` and
//! `brink workers list --json`, and checked at deploy. Two workers on two
//! hosts reach two different real origin servers. The `[proxy]` config
//! section applies to every worker.

use std::time::Duration;

use brink_tests::origin::Origin;
use brink_tests::{client, worker, BrinkServe};
use serde_json::Value;

fn json_of(output: &std::process::Output) -> Value {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("JSON output")
}

/// The paths each origin was asked for.
fn paths(origin: &Origin) -> Vec<String> {
    origin.requests().into_iter().map(|seen| seen.path).collect()
}

#[tokio::test]
async fn each_worker_reaches_its_own_origin_and_rollback_brings_the_old_one_back() {
    let serve = BrinkServe::start(&[]);
    let (first, second) = (Origin::start(), Origin::start());
    let (first_url, second_url) = (first.url(""), second.url(""));
    serve.deploy(worker("origin-proxy.js"), "shop", &["--route", "shop.test", "--origin", &first_url]);
    serve.deploy(worker("origin-proxy.js"), "blog", &["--route", "blog.test", "--origin", &second_url]);

    let (status, body) = serve.get("shop.test", "/cart").await;
    assert_eq!((status, body.as_str()), (200, "GET /cart"));
    let (status, body) = serve.get("blog.test", "/post").await;
    assert_eq!((status, body.as_str()), (200, "GET /post"));
    assert_eq!(paths(&first), ["/cart"]);
    assert_eq!(paths(&second), ["/post"]);
    // passThroughOnException() falls back to the worker's own origin too.
    let (status, _) = serve.get("blog.test", "/throw").await;
    assert_eq!(status, 200);
    assert_eq!(paths(&second), ["/post", "/throw"]);

    // Listed with the worker and its versions.
    let workers = json_of(&serve.cli(&["workers", "list", "--json"]));
    let shop = workers.as_array().unwrap().iter().find(|w| w["name"] == "shop").unwrap();
    assert_eq!(shop["origin"], first_url.as_str());

    // Version 2 of shop has the other origin; rolling back to 1 restores the first.
    serve.deploy(worker("origin-proxy.js"), "shop", &["--route", "shop.test", "--origin", &second_url]);
    serve.get("shop.test", "/v2").await;
    assert_eq!(paths(&second).last().map(String::as_str), Some("/v2"));
    let versions = json_of(&serve.cli(&["versions", "shop", "--json"]));
    let origins: Vec<&str> = versions.as_array().unwrap().iter().map(|v| v["origin"].as_str().unwrap()).collect();
    assert_eq!(origins, [first_url.as_str(), second_url.as_str()]);
    let table = serve.cli(&["versions", "shop"]);
    assert!(String::from_utf8_lossy(&table.stdout).contains(&second_url), "{}", String::from_utf8_lossy(&table.stdout));
    assert!(serve.cli(&["rollback", "shop", "1"]).status.success());
    serve.get("shop.test", "/back").await;
    assert_eq!(paths(&first).last().map(String::as_str), Some("/back"));

    // A restart brings each worker back with its active version's origin.
    let serve = serve.restart();
    serve.get("shop.test", "/restarted").await;
    serve.get("blog.test", "/restarted").await;
    assert_eq!(paths(&first).last().map(String::as_str), Some("/restarted"));
    assert_eq!(paths(&second).last().map(String::as_str), Some("/restarted"));

    // A version deployed without an origin has none: its own host is just
    // another host, refused as before (127.0.0.1's name is not public).
    serve.deploy(worker("origin-proxy.js"), "blog", &["--route", "blog.test"]);
    let count = first.requests().len() + second.requests().len();
    let (status, _) = serve.get("blog.test", "/none").await;
    assert_eq!(status, 500);
    assert_eq!(first.requests().len() + second.requests().len(), count);
    let workers = json_of(&serve.cli(&["workers", "list", "--json"]));
    let blog = workers.as_array().unwrap().iter().find(|w| w["name"] == "blog").unwrap();
    assert_eq!(blog.get("origin"), None);
}

#[tokio::test]
async fn origins_that_are_not_plain_http_urls_are_refused_at_deploy() {
    let serve = BrinkServe::start(&[]);
    for (origin, message) in [
        ("ftp://origin.test", "must be an http or https URL"),
        ("file:///etc/passwd", "must be an http or https URL"),
        ("origin.test", "is not a URL"),
        ("http://user:secret@origin.test", "must not contain a user name or password"),
        ("http://origin.test/base/", "scheme://host[:port] only"),
        ("http://origin.test/?q=1", "scheme://host[:port] only"),
    ] {
        let output = serve.cli(&["deploy", worker("origin-proxy.js").to_str().unwrap(), "--name", "bad", "--route", "bad.test", "--origin", origin]);
        assert!(!output.status.success(), "{origin} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(message), "{origin}: {stderr}");
        assert!(!stderr.contains("secret"), "a password is never echoed: {stderr}");
    }
    // The admin API itself refuses with a 400 and stores nothing.
    let upload = serde_json::json!({
        "entry": "w.js",
        "modules": { "w.js": "ZXhwb3J0IGRlZmF1bHQgeyBmZXRjaCgpIHsgcmV0dXJuIG5ldyBSZXNwb25zZSgieCIpOyB9IH0=" },
        "origin": "gopher://origin.test",
    });
    let response = client()
        .post(format!("{}/v1/workers/bad/versions", serve.admin))
        .bearer_auth(&serve.token)
        .json(&upload)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("must be an http or https URL"));
    let workers = json_of(&serve.cli(&["workers", "list", "--json"]));
    assert_eq!(workers, serde_json::json!([]));
}

#[tokio::test]
async fn the_proxy_section_sets_forwarding_for_every_worker_and_config_workers_take_an_origin() {
    let origin = Origin::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("brink.toml");
    let entry = worker("client-address.js");
    std::fs::write(
        &config,
        format!(
            "[proxy]\nforwarded_headers = \"forwarded\"\n\n[[workers]]\nname = \"edge\"\nentry = {:?}\nroutes = [\"edge.test\"]\norigin = {:?}\n",
            entry.display().to_string(),
            origin.url("")
        ),
    )
    .unwrap();
    let serve = BrinkServe::start(&["--config", config.to_str().unwrap()]);
    assert!(serve.wait_for_log("config worker deployed", Duration::from_secs(10)), "{}", serve.logs());
    let response = client()
        .get(serve.url("/page"))
        .header("host", "edge.test")
        .header("x-forwarded-for", "1.2.3.4")
        .header("cf-connecting-ip", "1.2.3.4")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let seen = origin.requests().pop().unwrap();
    let header = |name: &str| seen.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    assert_eq!(header("forwarded").as_deref(), Some("for=127.0.0.1;host=\"edge.test\";proto=http"));
    assert_eq!(header("x-forwarded-for"), None, "the client's header was dropped, none added");
    assert_eq!(header("cf-connecting-ip").as_deref(), Some("127.0.0.1"));
    // Unchanged at the next start: the stored version (and origin) is kept.
    let serve = serve.restart();
    assert!(serve.wait_for_log("config worker unchanged", Duration::from_secs(10)), "{}", serve.logs());
}
