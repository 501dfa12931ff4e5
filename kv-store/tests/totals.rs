//! Total-size caps that keep one call from holding huge amounts of memory:
//! a multi-key get returns at most 25 MiB of values, and one atomic commit
//! writes at most 25 MiB of values.

mod common;

use std::time::Duration;

use brink_kv::{AtomicOperation, KvError, MAX_ATOMIC_BYTES, MAX_GET_MANY_BYTES};

use common::{get_text, put, set, temp_store};

const TEN_MIB: usize = 10 * 1024 * 1024;

#[test]
fn get_many_over_the_total_is_a_range_error() {
    let (_dir, store) = temp_store();
    let kv = store.blocking_namespace("KV").unwrap();
    for key in ["a", "b", "c"] {
        put(&kv, key, vec![b'x'; TEN_MIB]);
    }
    let two: Vec<String> = vec!["a".into(), "b".into()];
    assert_eq!(kv.get_many(&two, None).unwrap().len(), 2);

    let three: Vec<String> = vec!["a".into(), "b".into(), "c".into()];
    for cache_ttl in [None, Some(Duration::from_secs(60))] {
        // The second round is answered partly from the read cache, which
        // counts toward the total as well.
        let err = kv.get_many(&three, cache_ttl).unwrap_err();
        assert!(matches!(err, KvError::GetManyTooLarge), "{err:?}");
        assert!(err.is_range_error());
        assert!(err.to_string().contains(&MAX_GET_MANY_BYTES.to_string()), "{err}");
    }
}

#[test]
fn atomic_over_the_total_writes_nothing() {
    let (_dir, store) = temp_store();
    let kv = store.blocking_namespace("KV").unwrap();
    let op = AtomicOperation {
        checks: vec![],
        mutations: vec![set("a", vec![b'x'; TEN_MIB]), set("b", vec![b'x'; TEN_MIB]), set("c", vec![b'x'; TEN_MIB])],
    };
    let err = kv.atomic(op).unwrap_err();
    assert!(matches!(err, KvError::AtomicTooLarge { len } if len == 3 * TEN_MIB), "{err:?}");
    assert!(err.is_range_error());
    assert!(err.to_string().contains(&MAX_ATOMIC_BYTES.to_string()), "{err}");
    assert_eq!(get_text(&kv, "a", None), None);

    let op = AtomicOperation { checks: vec![], mutations: vec![set("a", vec![b'x'; TEN_MIB]), set("b", vec![b'x'; TEN_MIB])] };
    assert!(kv.atomic(op).unwrap().ok);
}
