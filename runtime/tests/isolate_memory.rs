//! Isolates give their memory back when they exit: creating and dropping
//! many blank isolates must not grow the process.

use brink_runtime::isolate::spawn_blank_isolate;
use brink_runtime::Limits;

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb * 1024
}

fn cycle() {
    let isolate = spawn_blank_isolate(Limits::default()).expect("isolate");
    let mut exited = isolate.exit_signal();
    drop(isolate);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async { exited.wait_for(|done| *done).await.unwrap() });
}

#[test]
fn dropped_blank_isolates_free_their_memory() {
    // ISOLATE_CYCLES lets a leak hunt under valgrind run a few cycles only.
    let cycles: usize = std::env::var("ISOLATE_CYCLES").ok().and_then(|n| n.parse().ok()).unwrap_or(40);
    for _ in 0..5.min(cycles) {
        cycle();
    }
    let before = rss_bytes();
    for _ in 0..cycles {
        cycle();
    }
    let grown = rss_bytes().saturating_sub(before);
    eprintln!("{cycles} isolates created and dropped: RSS grew {} KiB", grown / 1024);
    assert!(grown < (cycles as u64) * 64 * 1024 + 4 * 1024 * 1024, "RSS grew {} MiB over {cycles} isolates", grown / (1024 * 1024));
}
