//! get/put/delete round trips, metadata, get_many, persistence and limits.

mod common;

use brink_kv::{KvError, KvOptions, KvStore, ListOptions, PutOptions};
use bytes::Bytes;
use common::temp_store;

#[test]
fn put_get_delete_round_trip() {
    let (_dir, store) = temp_store();
    let kv = store.namespace("TEST").unwrap();
    assert_eq!(kv.name(), "TEST");
    assert!(kv.get("k", None).unwrap().is_none());

    let v1 = kv
        .put("k", Bytes::from_static(b"one"), PutOptions::default())
        .unwrap();
    let e = kv.get("k", None).unwrap().unwrap();
    assert_eq!(e.value, Bytes::from_static(b"one"));
    assert_eq!(e.version, v1);
    assert_eq!(e.metadata, None);
    assert_eq!(e.expiration, None);

    let v2 = kv
        .put("k", Bytes::from_static(b"two"), PutOptions::default())
        .unwrap();
    assert!(v2 > v1, "versions increase: {v1} then {v2}");
    assert_eq!(
        kv.get("k", None).unwrap().unwrap().value,
        Bytes::from_static(b"two")
    );

    kv.delete("k").unwrap();
    assert!(kv.get("k", None).unwrap().is_none());
    kv.delete("k").unwrap(); // deleting an absent key is fine
    assert_eq!(store.stored_entries().unwrap(), 0);
}

#[test]
fn binary_and_empty_values() {
    let (_dir, store) = temp_store();
    let kv = store.namespace("TEST").unwrap();
    let bin: Vec<u8> = (0..=255u8).collect();
    kv.put("bin", Bytes::from(bin.clone()), PutOptions::default())
        .unwrap();
    kv.put("empty", Bytes::new(), PutOptions::default())
        .unwrap();
    assert_eq!(
        kv.get("bin", None).unwrap().unwrap().value.as_ref(),
        bin.as_slice()
    );
    assert_eq!(kv.get("empty", None).unwrap().unwrap().value.len(), 0);
}

#[test]
fn namespaces_are_isolated() {
    let (_dir, store) = temp_store();
    let a = store.namespace("A").unwrap();
    let ab = store.namespace("AB").unwrap();
    a.put("Bx", Bytes::from_static(b"a"), PutOptions::default())
        .unwrap();
    ab.put("x", Bytes::from_static(b"ab"), PutOptions::default())
        .unwrap();
    assert!(ab.get("Bx", None).unwrap().is_none());
    assert!(a.get("x", None).unwrap().is_none());
    let names = |ns: &brink_kv::KvNamespace| -> Vec<String> {
        ns.list(ListOptions::default())
            .unwrap()
            .keys
            .into_iter()
            .map(|k| k.name)
            .collect()
    };
    assert_eq!(names(&a), vec!["Bx"]);
    assert_eq!(names(&ab), vec!["x"]);
}

#[test]
fn namespace_names_are_validated() {
    let (_dir, store) = temp_store();
    for bad in ["", "has space", "dot.ted", "slash/", &"n".repeat(65)] {
        let err = store.namespace(bad).unwrap_err();
        assert!(
            matches!(err, KvError::InvalidNamespaceName { .. }),
            "{bad:?}: {err}"
        );
    }
    assert!(store.namespace(&"n".repeat(64)).is_ok());
    assert!(store.namespace("My_KV-2").is_ok());
}

#[test]
fn metadata_round_trips_in_get_and_list() {
    let (_dir, store) = temp_store();
    let kv = store.namespace("TEST").unwrap();
    let meta = r#"{"owner":"ann","n":[1,2,3]}"#.to_string();
    kv.put(
        "k",
        Bytes::from_static(b"v"),
        PutOptions {
            metadata: Some(meta.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        kv.get("k", None).unwrap().unwrap().metadata.as_deref(),
        Some(meta.as_str())
    );
    let page = kv.list(ListOptions::default()).unwrap();
    assert_eq!(page.keys[0].metadata.as_deref(), Some(meta.as_str()));
    // Overwriting without metadata drops it, as in Workers KV.
    kv.put("k", Bytes::from_static(b"v2"), PutOptions::default())
        .unwrap();
    assert_eq!(kv.get("k", None).unwrap().unwrap().metadata, None);
}

#[test]
fn get_many_returns_in_request_order() {
    let (_dir, store) = temp_store();
    let kv = store.namespace("TEST").unwrap();
    for i in 0..5 {
        kv.put(
            &format!("k{i}"),
            Bytes::from(format!("v{i}")),
            PutOptions::default(),
        )
        .unwrap();
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
    let cached = kv
        .get_many(&keys, Some(std::time::Duration::from_secs(60)))
        .unwrap();
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
        let kv = store.namespace("TEST").unwrap();
        v = kv
            .put(
                "k",
                Bytes::from_static(b"durable"),
                PutOptions {
                    metadata: Some("1".into()),
                    ..Default::default()
                },
            )
            .unwrap();
        kv.put("gone", Bytes::from_static(b"x"), PutOptions::default())
            .unwrap();
        kv.delete("gone").unwrap();
    }
    let store = KvStore::open(dir.path(), KvOptions::default()).unwrap();
    let kv = store.namespace("TEST").unwrap();
    let e = kv.get("k", None).unwrap().unwrap();
    assert_eq!(e.value, Bytes::from_static(b"durable"));
    assert_eq!(e.metadata.as_deref(), Some("1"));
    assert_eq!(e.version, v);
    assert!(kv.get("gone", None).unwrap().is_none());
    // The version counter survives too.
    let next = kv
        .put("k2", Bytes::from_static(b"x"), PutOptions::default())
        .unwrap();
    assert!(next > v);
}

/// Every rejected put leaves the store untouched.
#[test]
fn limit_violations_store_nothing() {
    let (_dir, store) = temp_store();
    let kv = store.namespace("TEST").unwrap();
    let put =
        |key: &str, len: usize, opts: PutOptions| kv.put(key, Bytes::from(vec![b'x'; len]), opts);

    let err = put(&"k".repeat(513), 1, PutOptions::default()).unwrap_err();
    assert!(matches!(err, KvError::KeyTooLong { len: 513, .. }));
    assert!(err.is_range_error());
    assert_eq!(
        err.to_string(),
        "KV put() failed: key length 513 exceeds the limit of 512 bytes"
    );
    // Length counts UTF-8 bytes: 171 × 'é' (2 bytes) = 342 ok; 257 × 2 = 514 too long.
    assert!(put(&"é".repeat(171), 1, PutOptions::default()).is_ok());
    kv.delete(&"é".repeat(171)).unwrap();
    assert!(matches!(
        put(&"é".repeat(257), 1, PutOptions::default()),
        Err(KvError::KeyTooLong { len: 514, .. })
    ));
    assert!(put(&"k".repeat(512), 1, PutOptions::default()).is_ok());
    kv.delete(&"k".repeat(512)).unwrap();

    let err = put("", 1, PutOptions::default()).unwrap_err();
    assert!(matches!(err, KvError::EmptyKey { .. }) && !err.is_range_error());
    for reserved in [".", ".."] {
        let err = put(reserved, 1, PutOptions::default()).unwrap_err();
        assert!(matches!(err, KvError::ReservedKey { .. }) && !err.is_range_error());
    }

    let err = put("big", 26_214_401, PutOptions::default()).unwrap_err();
    assert!(matches!(err, KvError::ValueTooLarge { len: 26_214_401 }));
    assert!(err.is_range_error());
    assert!(err.to_string().contains("26214400"), "{err}");

    let meta = format!("\"{}\"", "m".repeat(1023)); // 1025 bytes serialized
    let err = put(
        "meta",
        1,
        PutOptions {
            metadata: Some(meta),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(matches!(err, KvError::MetadataTooLarge { len: 1025 }));
    assert!(err.is_range_error());
    assert!(err.to_string().contains("1024"), "{err}");
    let err = put(
        "meta",
        1,
        PutOptions {
            metadata: Some("{not json".into()),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(matches!(err, KvError::InvalidMetadata { .. }) && !err.is_range_error());

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for opts in [
        PutOptions {
            expiration: Some(0),
            ..Default::default()
        },
        PutOptions {
            expiration: Some(now - 10),
            ..Default::default()
        },
        PutOptions {
            expiration_ttl: Some(0),
            ..Default::default()
        },
    ] {
        let err = put("exp", 1, opts.clone()).unwrap_err();
        assert!(
            matches!(err, KvError::InvalidExpiration { .. }),
            "{opts:?}: {err}"
        );
        assert!(err.to_string().contains("expiration"), "{err}");
    }
    let err = put(
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
    put(
        "max",
        26_214_400,
        PutOptions {
            metadata: Some(meta),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        kv.get("max", None).unwrap().unwrap().value.len(),
        26_214_400
    );
}

#[test]
fn reads_validate_keys_too() {
    let (_dir, store) = temp_store();
    let kv = store.namespace("TEST").unwrap();
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
