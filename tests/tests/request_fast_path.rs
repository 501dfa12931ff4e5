//! The request path's native shortcuts give exactly what deno_fetch's
//! JavaScript gives: header inits validated in one op
//! (patches/deno_fetch/0001, runtime/src/api/headers.rs), async handlers
//! answered without a promise reaction, and the incoming request's
//! `redirect` being "manual" as on Workers. The expected answers are what
//! `deno serve` gave for the same worker (workers/header-init.js).

use brink_tests::{client, worker, Brink};

/// (case, expected JSON answer) as Deno 2.9 answers them.
const CASES: &[(&str, &str)] = &[
    ("one-content-type", r#"{"status":200,"headers":[["content-type","text/plain; charset=utf-8"]]}"#),
    ("literal-content-type", r#"{"status":200,"headers":[["content-type","application/json"]]}"#),
    (
        "several",
        r#"{"status":200,"headers":[["cache-control","no-store"],["content-type","text/plain;charset=UTF-8"],["x-a","1"],["x-b","2"]]}"#,
    ),
    (
        "trimmed",
        r#"{"status":200,"headers":[["content-type","text/plain;charset=UTF-8"],["x-empty",""],["x-padded","value"]]}"#,
    ),
    ("duplicate-case", r#"{"status":200,"headers":[["content-type","text/plain;charset=UTF-8"],["x-dup","1, 2, 3"]]}"#),
    ("latin1", "{\"status\":200,\"headers\":[[\"content-type\",\"text/plain;charset=UTF-8\"],[\"x-latin1\",\"caf\u{e9}\"]]}"),
    (
        "non-string",
        r#"{"status":200,"headers":[["content-type","text/plain;charset=UTF-8"],["x-number","42"],["x-object","from toString"]]}"#,
    ),
    ("getter", r#"{"status":200,"headers":[["content-type","text/plain;charset=UTF-8"],["x-getter","got"]]}"#),
    ("inherited", r#"{"status":200,"headers":[["content-type","text/plain;charset=UTF-8"],["x-own","yes"]]}"#),
    (
        "numeric-keys",
        r#"{"status":200,"headers":[["1","one"],["2","two"],["content-type","text/plain;charset=UTF-8"],["x-z","z"]]}"#,
    ),
    ("bad-name", r#"{"error":"TypeError: Invalid header name: \"bad name\""}"#),
    ("bad-value-newline", r#"{"error":"TypeError: Invalid header value: \"a\nb\""}"#),
    ("bad-value-nul", r#"{"error":"TypeError: Invalid header value: \"a\u0000b\""}"#),
    (
        "not-byte-string",
        r#"{"error":"TypeError: Failed to construct 'Response': Argument 2 is not a valid ByteString"}"#,
    ),
    ("empty-name", r#"{"error":"TypeError: Invalid header name: \"\""}"#),
    (
        "set-cookie",
        r#"{"status":200,"headers":[["content-type","text/plain;charset=UTF-8"],["set-cookie","a=1"],["set-cookie","b=2"]]}"#,
    ),
    ("content-type-with-space", r#"{"status":200,"headers":[["content-type","text/html"]]}"#),
    ("array", r#"{"status":200,"headers":[["content-type","text/plain;charset=UTF-8"],["x-a","1, 2"]]}"#),
];

async fn answer(brink: &Brink, path: &str) -> serde_json::Value {
    let response = client().get(brink.url(path)).send().await.expect("request");
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.expect("JSON answer")
}

#[tokio::test]
async fn header_inits_behave_as_in_deno_fetch() {
    let brink = Brink::start(worker("header-init.js"), &[]);
    let mut wrong = Vec::new();
    for (case, expected) in CASES {
        let expected: serde_json::Value = serde_json::from_str(expected).expect("expected JSON");
        let got = answer(&brink, &format!("/?case={case}")).await;
        if got != expected {
            wrong.push(format!("{case}: got {got}, expected {expected}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test]
async fn response_json_takes_a_header_record_too() {
    let brink = Brink::start(worker("header-init.js"), &[]);
    let got = answer(&brink, "/?case=several&json").await;
    let expected: serde_json::Value = serde_json::from_str(
        r#"{"status":200,"headers":[["cache-control","no-store"],["content-type","application/json"],["x-a","1"],["x-b","2"]]}"#,
    )
    .expect("expected JSON");
    assert_eq!(got, expected);
    let cookies = answer(&brink, "/?case=set-cookie&getSetCookie").await;
    assert_eq!(cookies["setCookie"], serde_json::json!(["a=1", "b=2"]));
}

#[tokio::test]
async fn the_fast_path_headers_reach_the_client() {
    let brink = Brink::start(worker("header-init.js"), &[]);
    // The worker answers with `{ "content-type": "application/json" }`, and a
    // single content-type header of any valid value stays on the static path.
    let response = client().get(brink.url("/?case=one-content-type")).send().await.expect("request");
    let content_type = response.headers()["content-type"].clone();
    let length = response.headers()["content-length"].clone();
    let body = response.text().await.expect("body");
    assert_eq!(content_type, "application/json");
    assert_eq!(length, body.len().to_string().as_str());
}

#[tokio::test]
async fn incoming_requests_do_not_follow_redirects() {
    let brink = Brink::start(worker("header-init.js"), &[]);
    let body = client().get(brink.url("/redirect")).send().await.expect("request").text().await.expect("body");
    assert_eq!(body, "manual");
}

#[tokio::test]
async fn parts_made_on_first_use_read_as_before() {
    // A string body kept as the string until read, response and request URL
    // lists and the request's caches made on first use
    // (patches/deno_fetch/0008): what the worker reads is what deno_fetch
    // gave when it made them all at once.
    let brink = Brink::start(worker("header-init.js"), &[]);
    let got = answer(&brink, "/lazy").await;
    let expected = serde_json::json!({
        "plain": {
            "text": "text",
            "bodyUsed": true,
            "secondRead": "TypeError",
            "headers": [["content-type", "text/x-a"]],
            "url": "",
            "redirected": false,
            "clone": ["text", [["content-type", "text/x-a"]]],
        },
        "json": {"headers": [["content-type", "application/x-json"]], "body": {"a": 1}},
        "created": {"status": 201, "headers": [["content-type", "application/json"]], "body": "[1]"},
        "stream": "streamed",
        "request": {
            "path": "/lazy",
            "method": "GET",
            "aborted": false,
            "host": true,
            "copy": ["/lazy", "GET"],
            "clone": "/lazy",
        },
    });
    assert_eq!(got, expected);
}

#[tokio::test]
async fn objects_built_alike_in_every_request_read_as_built() {
    // The engine keeps the shapes a request's objects leave behind for the
    // next request's (patches/v8x/0017). Every kind of shape change must
    // still give each object exactly its own properties, order and
    // prototype, in the first request and in the ones that reuse shapes.
    let brink = Brink::start(worker("shapes.js"), &[]);
    for i in 0..40 {
        let got = answer(&brink, &format!("/same?i={i}")).await;
        let expected = serde_json::json!({
            "literal": [["a", "b", "c"], i, i],
            "grown": ["first", "second", "third"],
            "deleted": [["keep", "also", "added"], false],
            "hidden": [["shown"], 2],
            "frozen": [true, "TypeError", 1],
            "child": [["own"], format!("from proto {i}"), true],
            "reparented": [format!("from proto {i}"), true],
            "point": [["x", "y", "z"], true, -i],
            "reordered": ["third", "first", "second"],
            "accessor": [["value", "plain"], i * 2],
        });
        assert_eq!(got, expected, "request {i}");
    }
}

#[tokio::test]
async fn objects_built_through_remembered_transitions_read_as_built() {
    // Each shape remembers the shape its last added property led to
    // (patches/v8x/0018), and the next object adding the same property takes
    // it without a lookup. Objects that follow those transitions must read
    // exactly as built while their neighbours delete, redefine, freeze or
    // re-prototype their own properties, when one shape leads to hundreds
    // of names, and when names (and their shapes) are freed and made again
    // between requests. The expected answer is what node gives.
    let brink = Brink::start(worker("shapes.js"), &[]);
    for i in 0..30 {
        let got = answer(&brink, &format!("/transitions?i={i}")).await;
        let name = format!("k{}", i % 7);
        let expected = serde_json::json!({
            "a": [["y", name, "z"], false, 5],
            "b": [["x", "y", name, "z"], 1, 4],
            "p": [["p"], [], 1, false, ["p"], 2],
            "alternating": ["even,tail", "odd,tail", "even,tail", "odd,tail", "even,tail", "odd,tail"],
            "shared": [["m", "n"], 2, ["m", "n"], 3],
            "flags": [["v"], false, ["u", "v", "w"], true],
            "proto": [["q", "after"], true, ["q", "after"], false],
            "frozen": [true, false, ["c", "d"]],
            "array": [["0", "2", "extra"], 3, false],
            "many": true,
        });
        assert_eq!(got, expected, "request {i}");
    }
}

#[tokio::test]
async fn kept_shapes_do_not_keep_prototypes_past_the_heap_limit() {
    // Each request makes a prototype holding ~4 MB and objects on it. A kept
    // shape holds its prototype, so without bounds the kept shapes alone
    // would hold 256 of them (1 GB) and hit a 48 MiB heap limit within a
    // dozen requests; the engine empties its kept shapes at every GC and
    // near the limit, so every request answers.
    let brink = Brink::start(worker("shapes.js"), &["--heap-mib", "48"]);
    for i in 0..60 {
        let response = client().get(brink.url(&format!("/heavy?i={i}"))).send().await.expect("request");
        let status = response.status().as_u16();
        let body = response.text().await.expect("body");
        assert_eq!((status, body), (200, format!("{}", 500_000 + 2 * i)), "request {i}\n{}", brink.logs());
    }
}

#[tokio::test]
async fn requests_queued_together_each_get_their_own_answer() {
    // The isolate thread dispatches the requests waiting in its channel a
    // few at a time and answers each batch before taking the next
    // (runtime/src/isolate.rs, DISPATCH_BATCH). Many requests sent at once
    // to one isolate, answered now, after a microtask, after a timer or with
    // a header set by a microtask, must each get exactly their own answer.
    let brink = Brink::start(worker("queued.js"), &["--isolates", "1"]);
    for round in 0..3 {
        let requests = (0..64).map(|n| {
            let url = brink.url(&format!("/?n={n}"));
            async move {
                let response = client().get(url).send().await.expect("request");
                assert_eq!(response.status(), 200, "request {n}");
                let late = response.headers().get("x-late").map(|v| v.to_str().unwrap().to_string());
                (n, late, response.text().await.expect("body"))
            }
        });
        for (n, late, body) in futures::future::join_all(requests).await {
            let expected = match n % 4 {
                0 => format!("now {n}"),
                1 => format!("microtask {n}"),
                2 => format!("timer {n}"),
                _ => format!("late header {n}"),
            };
            assert_eq!(body, expected, "round {round}");
            assert_eq!(late, (n % 4 == 3).then(|| n.to_string()), "round {round}, request {n}");
        }
    }
}
