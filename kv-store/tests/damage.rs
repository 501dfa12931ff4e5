//! Damaged and missing store files: an existing file that is not a readable
//! store (empty, truncated, garbled, not redb at all) is refused with
//! `KvError::Corrupted` naming the file, never reinitialised and never a panic;
//! opening for reads only creates nothing.

mod common;

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

use brink_kv::{KvError, KvOptions, KvStore, STORE_FILE_NAME};

use common::{get_text, put};

fn quiet_options() -> KvOptions {
    KvOptions {
        cache_max_bytes: 0,
        reclaim_interval: Duration::ZERO,
    }
}

/// A store in `dir` holding 200 keys of 3000 bytes, closed again.
fn make_store(dir: &Path) {
    let store = KvStore::open(dir, quiet_options()).unwrap();
    let kv = store.blocking_namespace("KV").unwrap();
    for i in 0..200 {
        put(&kv, &format!("k{i}"), vec![7u8; 3000]);
    }
}

fn store_file(dir: &Path) -> std::path::PathBuf {
    dir.join(STORE_FILE_NAME)
}

/// Opens the damaged store both ways and checks each refuses it clearly,
/// leaving the file's bytes as they were.
fn assert_refused(dir: &Path, what: &str) {
    let before = std::fs::read(store_file(dir)).unwrap();
    for existing_only in [false, true] {
        let result = if existing_only {
            KvStore::open_existing(dir, quiet_options())
        } else {
            KvStore::open(dir, quiet_options())
        };
        let err = result.expect_err(what);
        assert!(matches!(err, KvError::Corrupted { .. }), "{what}: {err:?}");
        let msg = err.to_string();
        assert!(msg.contains(&store_file(dir).display().to_string()), "{what}: {msg}");
        assert!(msg.contains("is corrupted"), "{what}: {msg}");
        assert!(!err.is_invalid_input(), "{what}");
    }
    assert_eq!(std::fs::read(store_file(dir)).unwrap(), before, "{what}: file was modified");
}

#[test]
fn zero_length_file_is_refused_not_reinitialised() {
    let dir = tempfile::tempdir().unwrap();
    make_store(dir.path());
    std::fs::File::create(store_file(dir.path())).unwrap(); // truncates to 0
    assert_refused(dir.path(), "zero-length");
    let msg = KvStore::open(dir.path(), quiet_options()).unwrap_err().to_string();
    assert!(msg.contains("the file is empty"), "{msg}");
    assert_eq!(std::fs::metadata(store_file(dir.path())).unwrap().len(), 0);
}

#[test]
fn truncated_file_is_refused() {
    for keep in [100u64, 0] {
        let dir = tempfile::tempdir().unwrap();
        make_store(dir.path());
        let path = store_file(dir.path());
        let len = std::fs::metadata(&path).unwrap().len();
        // 0 here means "half the file": redb asserts on that one internally.
        let keep = if keep == 0 { len / 2 } else { keep };
        std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(keep).unwrap();
        assert_refused(dir.path(), &format!("truncated to {keep} bytes"));
    }
}

#[test]
fn garbled_file_is_refused() {
    // (offset, what): the magic number, the header after it, the first pages.
    for (offset, what) in [(0u64, "magic"), (9, "header"), (4096, "pages")] {
        let dir = tempfile::tempdir().unwrap();
        make_store(dir.path());
        let mut file = std::fs::OpenOptions::new().write(true).open(store_file(dir.path())).unwrap();
        file.seek(SeekFrom::Start(offset)).unwrap();
        let garbage: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        file.write_all(&garbage).unwrap();
        drop(file);
        assert_refused(dir.path(), &format!("garbled {what}"));
    }
}

#[test]
fn a_text_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(store_file(dir.path()), "not a database\n".repeat(100)).unwrap();
    assert_refused(dir.path(), "text file");
}

#[test]
fn open_existing_creates_nothing() {
    let parent = tempfile::tempdir().unwrap();
    let missing = parent.path().join("no-such-dir");
    let err = KvStore::open_existing(&missing, quiet_options()).unwrap_err();
    assert!(matches!(err, KvError::NoStore { .. }), "{err:?}");
    assert_eq!(err.to_string(), format!("no KV store at {}", missing.display()));
    assert!(!missing.exists(), "open_existing created the data directory");

    // An existing directory without a store file: still nothing created.
    let err = KvStore::open_existing(parent.path(), quiet_options()).unwrap_err();
    assert!(matches!(err, KvError::NoStore { .. }), "{err:?}");
    assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 0);
}

#[test]
fn open_existing_reads_a_good_store() {
    let dir = tempfile::tempdir().unwrap();
    make_store(dir.path());
    let store = KvStore::open_existing(dir.path(), quiet_options()).unwrap();
    let kv = store.blocking_namespace("KV").unwrap();
    assert_eq!(get_text(&kv, "k5", None).map(|v| v.len()), Some(3000));
}

#[test]
fn creating_a_store_leaves_only_the_store_file() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("data");
    let store = KvStore::open(&dir, quiet_options()).unwrap();
    put(&store.blocking_namespace("KV").unwrap(), "a", "1");
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec![STORE_FILE_NAME.to_owned()]);
}
