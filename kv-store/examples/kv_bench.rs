//! Quick latency/throughput numbers for the embedded KV store on a temp dir:
//! uncached get, cached get, and durable (fsync) put. Runs in well under 30 s.
//!
//! `cargo run --release -p brink-kv --example kv_bench`

use std::time::{Duration, Instant};

use brink_kv::{AtomicOperation, KvOptions, KvStore, Mutation, PutOptions};
use bytes::Bytes;

const KEYS: usize = 10_000;
const VALUE_BYTES: usize = 256;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let total: Duration = samples.iter().sum();
    let mean = total / samples.len() as u32;
    println!(
        "{name:<22} n={:<6} mean={:>9.2?} p50={:>9.2?} p99={:>9.2?} ({:.0} ops/s single-threaded)",
        samples.len(),
        mean,
        percentile(&samples, 0.50),
        percentile(&samples, 0.99),
        samples.len() as f64 / total.as_secs_f64()
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = KvStore::open(dir.path(), KvOptions::default())?;
    let kv = store.blocking_namespace("BENCH")?;
    let value = Bytes::from(vec![b'x'; VALUE_BYTES]);
    println!(
        "brink-kv bench: {KEYS} keys, {VALUE_BYTES}-byte values, data dir {}",
        dir.path().display()
    );

    // Load in batches (one fsync per 1000 keys) so setup stays fast.
    for chunk in 0..KEYS / 1000 {
        let mutations = (chunk * 1000..(chunk + 1) * 1000)
            .map(|i| Mutation::Set {
                key: format!("key:{i:06}"),
                value: value.clone(),
                options: PutOptions::default(),
            })
            .collect();
        kv.atomic(AtomicOperation {
            checks: vec![],
            mutations,
        })?;
    }

    // Durable puts: each one is its own redb commit with fsync.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut puts = Vec::new();
    let mut i = 0usize;
    while Instant::now() < deadline && puts.len() < 2000 {
        let key = format!("key:{:06}", (i * 7919) % KEYS);
        let t = Instant::now();
        kv.put(&key, value.clone(), PutOptions::default())?;
        puts.push(t.elapsed());
        i += 1;
    }
    report("put (fsync)", puts);

    // Uncached gets: cacheTtl None always reads redb.
    let mut uncached = Vec::with_capacity(50_000);
    for i in 0..50_000usize {
        let key = format!("key:{:06}", (i * 104_729) % KEYS);
        let t = Instant::now();
        let hit = kv.get(&key, None)?;
        uncached.push(t.elapsed());
        if hit.is_none() {
            return Err(format!("missing {key}").into());
        }
    }
    report("get (uncached)", uncached);

    // Cached gets: warm every key once, then read with a long cacheTtl.
    let ttl = Some(Duration::from_secs(600));
    for i in 0..KEYS {
        kv.get(&format!("key:{i:06}"), ttl)?;
    }
    let mut cached = Vec::with_capacity(200_000);
    for i in 0..200_000usize {
        let key = format!("key:{:06}", (i * 104_729) % KEYS);
        let t = Instant::now();
        kv.get(&key, ttl)?;
        cached.push(t.elapsed());
    }
    report("get (cached)", cached);

    let t = Instant::now();
    let page = kv.list(brink_kv::ListOptions::default())?;
    println!("list 1000 keys         {:>9.2?}", t.elapsed());
    assert_eq!(page.keys.len(), 1000);
    Ok(())
}
