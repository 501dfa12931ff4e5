//! list(): byte order, prefixes, limits and cursor pagination.

mod common;

use brink_kv::{AtomicOperation, KvError, BlockingNamespace, ListOptions};
use bytes::Bytes;
use common::{expires_at, key_names, put, set, temp_store, unix_now};

/// Follows cursors to the end: every name in order, and how many pages it took.
fn collect_all(
    kv: &BlockingNamespace,
    prefix: Option<&str>,
    limit: Option<usize>,
) -> (Vec<String>, usize) {
    let mut names = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = kv
            .list(ListOptions {
                prefix: prefix.map(str::to_owned),
                limit,
                cursor: cursor.take(),
            })
            .unwrap();
        pages += 1;
        assert!(page.keys.len() <= limit.unwrap_or(1000));
        names.extend(page.keys.into_iter().map(|k| k.name));
        if page.list_complete {
            assert!(page.cursor.is_none());
            break;
        }
        cursor = Some(page.cursor.expect("incomplete page has a cursor"));
    }
    (names, pages)
}

#[test]
fn paginates_2500_keys_with_two_prefixes() {
    let (_dir, store) = temp_store();
    let kv = store.blocking_namespace("TEST").unwrap();
    // One atomic op per 500 keys keeps the test fast (one fsync each).
    let mut expected_a = Vec::new();
    let mut expected_b = Vec::new();
    for chunk in 0..5 {
        let mut op = AtomicOperation::default();
        for i in chunk * 500..(chunk + 1) * 500 {
            let key = if i % 2 == 0 {
                format!("user:{i:05}")
            } else {
                format!("post:{i:05}")
            };
            if i % 2 == 0 {
                expected_a.push(key.clone())
            } else {
                expected_b.push(key.clone())
            }
            op.mutations.push(set(&key, "v"));
        }
        assert!(kv.atomic(op).unwrap().ok);
    }
    expected_a.sort();
    expected_b.sort();
    let mut expected_all: Vec<String> = expected_a.iter().chain(&expected_b).cloned().collect();
    expected_all.sort();

    // Default limit is 1000: 2500 keys take 3 pages.
    let (all, pages) = collect_all(&kv, None, None);
    assert_eq!(pages, 3);
    assert_eq!(all, expected_all);

    let first = kv.list(ListOptions::default()).unwrap();
    assert_eq!(first.keys.len(), 1000);
    assert!(!first.list_complete);

    let (users, pages) = collect_all(&kv, Some("user:"), Some(300));
    assert_eq!(users, expected_a);
    assert_eq!(pages, 5); // 1250 keys / 300 per page
    let (posts, _) = collect_all(&kv, Some("post:"), Some(1000));
    assert_eq!(posts, expected_b);

    let (narrow, pages) = collect_all(&kv, Some("user:001"), Some(10));
    assert_eq!(narrow.len(), 50);
    assert_eq!(pages, 5);
    assert!(collect_all(&kv, Some("nope"), None).0.is_empty());

    // Exactly `limit` keys left: the page is complete, with no cursor.
    let page = kv
        .list(ListOptions {
            prefix: Some("user:001".into()),
            limit: Some(50),
            cursor: None,
        })
        .unwrap();
    assert_eq!(page.keys.len(), 50);
    assert!(page.list_complete);
}

#[test]
fn cursor_survives_concurrent_writes() {
    let (_dir, store) = temp_store();
    let kv = store.blocking_namespace("TEST").unwrap();
    for k in ["a", "b", "c", "d"] {
        put(&kv, k, "v");
    }
    let page = kv
        .list(ListOptions {
            limit: Some(2),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(key_names(&page), ["a", "b"]);
    kv.delete("b").unwrap();
    put(&kv, "bb", "v");
    let next = kv
        .list(ListOptions {
            limit: Some(2),
            cursor: page.cursor,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(key_names(&next), ["bb", "c"]);
}

#[test]
fn list_reports_expiration_and_rejects_bad_options() {
    let (_dir, store) = temp_store();
    let kv = store.blocking_namespace("TEST").unwrap();
    let now = unix_now();
    kv.put("k", Bytes::from_static(b"v"), expires_at(now + 3600))
        .unwrap();
    assert_eq!(
        kv.list(ListOptions::default()).unwrap().keys[0].expiration,
        Some(now + 3600)
    );

    for limit in [0, 1001] {
        let err = kv
            .list(ListOptions {
                limit: Some(limit),
                ..Default::default()
            })
            .unwrap_err();
        assert!(
            matches!(err, KvError::InvalidListLimit { .. }) && err.is_range_error(),
            "{err}"
        );
    }
    let err = kv
        .list(ListOptions {
            cursor: Some("not-a-cursor".into()),
            ..Default::default()
        })
        .unwrap_err();
    assert!(matches!(err, KvError::InvalidCursor) && !err.is_range_error());
    let err = kv
        .list(ListOptions {
            prefix: Some("p".repeat(513)),
            ..Default::default()
        })
        .unwrap_err();
    assert!(matches!(err, KvError::PrefixTooLong { .. }));
}
