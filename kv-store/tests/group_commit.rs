//! Concurrent writers share transactions (group commit); every write must
//! still be applied exactly once, durably, with its own version.

mod common;

use std::collections::HashSet;

use brink_kv::{AtomicCheck, AtomicOperation, KvOptions, KvStore, Mutation, PutOptions};
use common::{get_text, put, temp_store};

#[test]
fn concurrent_puts_all_land_with_distinct_versions() {
    let (dir, store) = temp_store();
    let kv = store.blocking_namespace("group").unwrap();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let kv = kv.clone();
            std::thread::spawn(move || (0..50).map(|i| put(&kv, &format!("t{t}-k{i}"), format!("v{t}-{i}"))).collect::<Vec<u64>>())
        })
        .collect();
    let versions: Vec<u64> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    let distinct: HashSet<u64> = versions.iter().copied().collect();
    assert_eq!(distinct.len(), 400, "versions were reused");

    // Everything is there after reopening the store.
    drop(kv);
    drop(store);
    let store = KvStore::open(dir.path(), KvOptions::default()).unwrap();
    let kv = store.blocking_namespace("group").unwrap();
    for t in 0..8 {
        for i in 0..50 {
            assert_eq!(get_text(&kv, &format!("t{t}-k{i}"), None).as_deref(), Some(format!("v{t}-{i}").as_str()));
        }
    }
}

#[test]
fn a_failed_check_in_a_shared_transaction_writes_nothing_and_spares_the_others() {
    let (_dir, store) = temp_store();
    let kv = store.blocking_namespace("group").unwrap();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let kv = kv.clone();
            std::thread::spawn(move || {
                // Every thread races to create the same key; exactly one wins.
                let op = AtomicOperation {
                    checks: vec![AtomicCheck { key: "winner".into(), version: None }],
                    mutations: vec![
                        Mutation::Set { key: "winner".into(), value: format!("{t}").into(), options: PutOptions::default() },
                        Mutation::Set { key: format!("mine-{t}"), value: "x".into(), options: PutOptions::default() },
                    ],
                };
                let won = kv.atomic(op).unwrap().ok;
                // Plain puts in the same batches are unaffected.
                put(&kv, &format!("plain-{t}"), "p");
                won
            })
        })
        .collect();
    let winners: Vec<usize> = threads
        .into_iter()
        .enumerate()
        .filter_map(|(t, handle)| handle.join().unwrap().then_some(t))
        .collect();
    assert_eq!(winners.len(), 1, "exactly one creator must win: {winners:?}");
    let winner = winners[0];
    assert_eq!(get_text(&kv, "winner", None), Some(winner.to_string()));
    for t in 0..8 {
        let mine = get_text(&kv, &format!("mine-{t}"), None);
        assert_eq!(mine.is_some(), t == winner, "loser {t} wrote part of its operation");
        assert_eq!(get_text(&kv, &format!("plain-{t}"), None).as_deref(), Some("p"));
    }
}
