//! A store held by one process (or one open handle) refuses a second open.

mod common;

use std::process::Command;

use brink_kv::{KvError, KvOptions, KvStore};

const PROBE_ENV: &str = "BRINK_KV_LOCK_PROBE_DIR";

#[test]
fn second_open_in_process_is_store_locked() {
    let dir = tempfile::tempdir().unwrap();
    let first = KvStore::open(dir.path(), KvOptions::default()).unwrap();
    let err = KvStore::open(dir.path(), KvOptions::default()).unwrap_err();
    assert!(matches!(err, KvError::StoreLocked { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("kv.redb") && msg.contains("in use by another brink process"),
        "{msg}"
    );
    drop(first);
    assert!(KvStore::open(dir.path(), KvOptions::default()).is_ok());
}

#[test]
fn open_while_another_process_holds_the_store_is_store_locked() {
    let dir = tempfile::tempdir().unwrap();
    let held = KvStore::open(dir.path(), KvOptions::default()).unwrap();
    let probe = |dir: &std::path::Path| {
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "lock_probe_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(PROBE_ENV, dir)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let out = probe(dir.path());
    assert!(out.contains("PROBE: locked"), "child output: {out}");
    drop(held);
    let out = probe(dir.path());
    assert!(out.contains("PROBE: opened"), "child output: {out}");
}

/// Runs in a child process spawned by the test above; a no-op otherwise.
#[test]
fn lock_probe_child() {
    let Some(dir) = std::env::var_os(PROBE_ENV) else {
        return;
    };
    match KvStore::open(std::path::Path::new(&dir), KvOptions::default()) {
        Ok(_) => println!("PROBE: opened"),
        Err(KvError::StoreLocked { .. }) => println!("PROBE: locked"),
        Err(other) => println!("PROBE: error {other}"),
    }
}
