//! get/put/delete round trips, metadata, get_many, persistence and limits.

mod common;

use std::time::Duration;

use brink_kv::{KvError, KvOptions, KvStore, ListOptions, PutOptions};
use bytes::Bytes;
use common::{
    expires_at, expires_in, get_text, key_names, put, temp_store, unix_now, with_metadata,
};

#[test]
fn put_get_delete_round_trip() {
    let (_dir, store) = temp_store();
    let kv = store.blocking_namespace("TEST").unwrap();
    assert_eq!(kv.name(), "TEST");
    assert!(kv.get("k", None).unwrap().is_none());

    let v1 = put(&kv, "k", "one");
    let e = kv.get("k", None).unwrap().unwrap();
    assert_eq!(e.value, Bytes::from_static(b"one"));
    assert_eq!(e.version, v1);
    assert_eq!(e.metadata, None);
    assert_eq!(e.expiration, None);

    let v2 = put(&kv, "k", "two");
    assert!(v2 > v1, "versions increase: {v1} then {v2}");
    assert_eq!(get_text(&kv, "k", None).as_deref(), Some("two"));

    kv.delete("k").unwrap();
    assert!(kv.get("k", None).unwrap().is_none());
    kv.delete("k").unwrap(); // deleting an absent key is fine
    assert_eq!(store.stored_entries().unwrap(), 0);
}

#[test]
fn binary_and_empty_values() {
    let (_dir, store) = temp_store();
    let kv = store.blocking_namespace("TEST").unwrap();
    let bin: Vec<u8> = (0..=255u8).collect();
    put(&kv, "bin", bin.clone());
    put(&kv, "empty", Bytes::new());
    assert_eq!(
        kv.get("bin", None).unwrap().unwrap().value.as_ref(),
        bin.as_slice()
    );
    assert_eq!(kv.get("empty", None).unwrap().unwrap().value.len(), 0);
}

#[test]
fn namespaces_are_isolated() {
    let (_dir, store) = temp_store();
    let a = store.blocking_namespace("A").unwrap();
    let ab = store.blocking_namespace("AB").unwrap();
    put(&a, "Bx", "a");
    put(&ab, "x", "ab");
    assert!(ab.get("Bx", None).unwrap().is_none());
    assert!(a.get("x", None).unwrap().is_none());
    assert_eq!(key_names(&a.list(ListOptions::default()).unwrap()), ["Bx"]);
    assert_eq!(key_names(&ab.list(ListOptions::default()).unwrap()), ["x"]);
}

#[test]
fn namespace_names_are_validated() {
    let (_dir, store) = temp_store();
    for bad in ["", "has space", "dot.ted", "slash/", &"n".repeat(65)] {
        let err = store.blocking_namespace(bad).unwrap_err();
        assert!(
            matches!(err, KvError::InvalidNamespaceName { .. }),
            "{bad:?}: {err}"
        );
    }
    assert!(store.blocking_namespace(&"n".repeat(64)).is_ok());
    assert!(store.blocking_namespace("My_KV-2").is_ok());
}

#[test]
fn metadata_round_trips_in_get_and_list() {
    let (_dir, store) = temp_store();
    let kv = store.blocking_namespace("TEST").unwrap();
    let meta = r#"{"owner":"ann","n":[1,2,3]}"#.to_string();
    kv.put("k", Bytes::from_static(b"v"), with_metadata(meta.clone()))
        .unwrap();
    assert_eq!(
        kv.get("k", None).unwrap().unwrap().metadata.as_deref(),
        Some(meta.as_str())
    );
    let page = kv.list(ListOptions::default()).unwrap();
    assert_eq!(page.keys[0].metadata.as_deref(), Some(meta.as_str()));
    // Overwriting without metadata drops it, as in Workers KV.
    put(&kv, "k", "v2");
    assert_eq!(kv.get("k", None).unwrap().unwrap().metadata, None);
}

#[test]
fn get_many_returns_in_request_order() {
    let (_dir, store) = temp_store();
    let kv = store.blocking_namespace("TEST").unwrap();
    for i in 0..5 {
        put(&kv, &format!("k{i}"), format!("v{i}"));
    }
    let keys: Vec<String> = ["k3", "missing", "k0", "k4"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let got = kv.get_many(&keys, None).unwrap();
    let values: Vec<Option<String>> = got
        .iter()
        .map(|e| {
            e.as_ref()
                .map(|e| String::from_utf8_lossy(&e.value).into_owned())
        })
        .collect();
    assert_eq!(
        values,
        vec![
            Some("v3".into()),
            None,
            Some("v0".into()),
            Some("v4".into())
        ]
    );
    // Cached path gives the same answers.
    let cached = kv.get_many(&keys, Some(Duration::from_secs(60))).unwrap();
    assert_eq!(cached, got);

    let hundred: Vec<String> = (0..100).map(|i| format!("k{i}")).collect();
    assert_eq!(kv.get_many(&hundred, None).unwrap().len(), 100);
    let too_many: Vec<String> = (0..101).map(|i| format!("k{i}")).collect();
    let err = kv.get_many(&too_many, None).unwrap_err();
    assert!(matches!(err, KvError::TooManyKeys { count: 101 }), "{err}");
    assert!(err.is_range_error());
}

#[test]
fn data_persists_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let v;
    {
        let store = KvStore::open(dir.path(), KvOptions::default()).unwrap();
        let kv = store.blocking_namespace("TEST").unwrap();
        v = kv
            .put("k", Bytes::from_static(b"durable"), with_metadata("1"))
            .unwrap();
        put(&kv, "gone", "x");
        kv.delete("gone").unwrap();
    }
    let store = KvStore::open(dir.path(), KvOptions::default()).unwrap();
    let kv = store.blocking_namespace("TEST").unwrap();
    let e = kv.get("k", None).unwrap().unwrap();
    assert_eq!(e.value, Bytes::from_static(b"durable"));
    assert_eq!(e.metadata.as_deref(), Some("1"));
    assert_eq!(e.version, v);
    assert!(kv.get("gone", None).unwrap().is_none());
    // The version counter survives too.
    let next = put(&kv, "k2", "x");
    assert!(next > v);
}

/// Every rejected put leaves the store untouched.
#[test]
fn limit_violations_store_nothing() {
    let (_dir, store) = temp_store();
    let kv = store.blocking_namespace("TEST").unwrap();
    // Returns the Result, unlike common::put: here most puts must fail.
    let try_put =
        |key: &str, len: usize, opts: PutOptions| kv.put(key, Bytes::from(vec![b'x'; len]), opts);

    let err = try_put(&"k".repeat(513), 1, PutOptions::default()).unwrap_err();
    assert!(matches!(err, KvError::KeyTooLong { len: 513, .. }));
    assert!(err.is_range_error());
    assert_eq!(
        err.to_string(),
        "KV put() failed: key length 513 exceeds the limit of 512 bytes"
    );
    // Length counts UTF-8 bytes: 171 × 'é' (2 bytes) = 342 ok; 257 × 2 = 514 too long.
    assert!(try_put(&"é".repeat(171), 1, PutOptions::default()).is_ok());
    kv.delete(&"é".repeat(171)).unwrap();
    assert!(matches!(
        try_put(&"é".repeat(257), 1, PutOptions::default()),
        Err(KvError::KeyTooLong { len: 514, .. })
    ));
    assert!(try_put(&"k".repeat(512), 1, PutOptions::default()).is_ok());
    kv.delete(&"k".repeat(512)).unwrap();

    let err = try_put("", 1, PutOptions::default()).unwrap_err();
    assert!(matches!(err, KvError::EmptyKey { .. }) && !err.is_range_error());
    for reserved in [".", ".."] {
        let err = try_put(reserved, 1, PutOptions::default()).unwrap_err();
        assert!(matches!(err, KvError::ReservedKey { .. }) && !err.is_range_error());
    }

    let err = try_put("big", 26_214_401, PutOptions::default()).unwrap_err();
    assert!(matches!(err, KvError::ValueTooLarge { len: 26_214_401 }));
    assert!(err.is_range_error());
    assert!(err.to_string().contains("26214400"), "{err}");

    let meta = format!("\"{}\"", "m".repeat(1023)); // 1025 bytes serialized
    let err = try_put("meta", 1, with_metadata(meta)).unwrap_err();
    assert!(matches!(err, KvError::MetadataTooLarge { len: 1025 }));
    assert!(err.is_range_error());
    assert!(err.to_string().contains("1024"), "{err}");
    let err = try_put("meta", 1, with_metadata("{not json")).unwrap_err();
    assert!(matches!(err, KvError::InvalidMetadata { .. }) && !err.is_range_error());

    let now = unix_now();
    for opts in [expires_at(0), expires_at(now - 10), expires_in(0)] {
        let err = try_put("exp", 1, opts.clone()).unwrap_err();
        assert!(
            matches!(err, KvError::InvalidExpiration { .. }),
            "{opts:?}: {err}"
        );
        assert!(err.to_string().contains("expiration"), "{err}");
    }
    let err = try_put(
        "exp",
        1,
        PutOptions {
            expiration: Some(now + 100),
            expiration_ttl: Some(100),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(matches!(err, KvError::ConflictingExpiration));

    assert_eq!(store.stored_entries().unwrap(), 0);
    assert!(kv.list(ListOptions::default()).unwrap().keys.is_empty());

    // Exactly at the limits is accepted.
    let meta = format!("\"{}\"", "m".repeat(1022)); // 1024 bytes
    try_put("max", 26_214_400, with_metadata(meta)).unwrap();
    assert_eq!(
        kv.get("max", None).unwrap().unwrap().value.len(),
        26_214_400
    );
}

#[test]
fn reads_validate_keys_too() {
    let (_dir, store) = temp_store();
    let kv = store.blocking_namespace("TEST").unwrap();
    let err = kv.get(&"k".repeat(600), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "KV get() failed: key length 600 exceeds the limit of 512 bytes"
    );
    assert!(matches!(
        kv.delete(""),
        Err(KvError::EmptyKey { op: "delete" })
    ));
}
