//! The replicated backend against a real 3-node NATS JetStream cluster on
//! loopback (started here), next to the embedded store in the same run:
//!
//! - cross-POP propagation: a put through POP A, POP B polling its local
//!   index until the key shows up (from the put's start, and from its
//!   acknowledgement);
//! - local reads on POP B (read cache, and index without cache) against the
//!   embedded store's;
//! - put latency (one writer) and throughput (8 writers), R3 vs embedded.
//!
//! `cargo run --release -p brink-kv --example nats_bench` (needs nats-server:
//! `bash scripts/install-nats.sh`). Takes about a minute.

use std::sync::Arc;
use std::time::{Duration, Instant};

use brink_kv::test_cluster::NatsCluster;
use brink_kv::{BlockingNamespace, KvOptions, KvStore, NatsOptions, PutOptions};
use bytes::Bytes;

const VALUE_BYTES: usize = 256;
const PROPAGATION_SAMPLES: usize = 500;
const READS: usize = 50_000;
const PUTS: usize = 1_000;
const WRITERS: usize = 8;
const PUTS_PER_WRITER: usize = 250;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let total: Duration = samples.iter().sum();
    println!(
        "{name:<34} n={:<6} mean={:>9.2?} p50={:>9.2?} p99={:>9.2?}",
        samples.len(),
        total / samples.len().max(1) as u32,
        percentile(&samples, 0.50),
        percentile(&samples, 0.99),
    );
}

fn reads(kv: &BlockingNamespace, cache_ttl: Option<Duration>) -> Vec<Duration> {
    let keys: Vec<String> = (0..100).map(|i| format!("read-{i}")).collect();
    (0..READS)
        .map(|i| {
            let start = Instant::now();
            let entry = kv.get(&keys[i % keys.len()], cache_ttl);
            let took = start.elapsed();
            assert!(matches!(entry, Ok(Some(_))), "read-{i}: {entry:?}");
            took
        })
        .collect()
}

fn put_latency(kv: &BlockingNamespace, value: &Bytes, prefix: &str) -> Vec<Duration> {
    (0..PUTS)
        .map(|i| {
            let start = Instant::now();
            kv.put(&format!("{prefix}-{i}"), value.clone(), PutOptions::default()).expect("put");
            start.elapsed()
        })
        .collect()
}

fn put_throughput(kv: &BlockingNamespace, value: &Bytes, prefix: &str) -> f64 {
    let start = Instant::now();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (kv, value, prefix) = (kv.clone(), value.clone(), prefix.to_owned());
            std::thread::spawn(move || {
                for i in 0..PUTS_PER_WRITER {
                    kv.put(&format!("{prefix}-{w}-{i}"), value.clone(), PutOptions::default()).expect("put");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().expect("writer");
    }
    (WRITERS * PUTS_PER_WRITER) as f64 / start.elapsed().as_secs_f64()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cluster = NatsCluster::start(3)?;
    let dir = tempfile::tempdir()?;
    let pop = |name: &str| -> Result<Arc<KvStore>, brink_kv::KvError> {
        let mut options = NatsOptions::new(cluster.urls(), dir.path().join(name));
        options.pop = name.to_owned();
        KvStore::open_nats(options, KvOptions::default())
    };
    let a = pop("a")?.blocking_namespace("BENCH")?;
    let b = pop("b")?.blocking_namespace("BENCH")?;
    let embedded_store = KvStore::open(&dir.path().join("embedded"), KvOptions::default())?;
    let embedded = embedded_store.blocking_namespace("BENCH")?;
    let value = Bytes::from(vec![b'x'; VALUE_BYTES]);
    println!("brink-kv NATS bench: 3-node JetStream cluster (R3) on loopback, {VALUE_BYTES}-byte values");

    // Propagation: POP B polls its own index (no cache) for A's write.
    let mut from_start = Vec::with_capacity(PROPAGATION_SAMPLES);
    let mut from_ack = Vec::with_capacity(PROPAGATION_SAMPLES);
    for i in 0..PROPAGATION_SAMPLES {
        let key = format!("prop-{i}");
        let start = Instant::now();
        a.put(&key, value.clone(), PutOptions::default())?;
        let acked = Instant::now();
        let deadline = acked + Duration::from_secs(10);
        while b.get(&key, None)?.is_none() {
            if Instant::now() > deadline {
                return Err(format!("{key} did not reach POP B within 10 s").into());
            }
            std::thread::sleep(Duration::from_micros(50));
        }
        let seen = Instant::now();
        from_start.push(seen - start);
        from_ack.push(seen - acked);
    }
    report("propagation A->B, from put start", from_start);
    report("propagation A->B, from put ack", from_ack);

    for i in 0..100 {
        a.put(&format!("read-{i}"), value.clone(), PutOptions::default())?;
        embedded.put(&format!("read-{i}"), value.clone(), PutOptions::default())?;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while b.get("read-99", None)?.is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    report("get, cached: NATS POP B", reads(&b, Some(Duration::from_secs(60))));
    report("get, cached: embedded", reads(&embedded, Some(Duration::from_secs(60))));
    report("get, uncached: NATS POP B index", reads(&b, None));
    report("get, uncached: embedded redb", reads(&embedded, None));
    let strong: Vec<Duration> = (0..1_000)
        .map(|i| {
            let start = Instant::now();
            let entry = b.get_strong(&format!("read-{}", i % 100));
            assert!(matches!(entry, Ok(Some(_))));
            start.elapsed()
        })
        .collect();
    report("get, strong: NATS POP B -> leader", strong);

    report("put, one writer: NATS R3", put_latency(&a, &value, "lat"));
    report("put, one writer: embedded", put_latency(&embedded, &value, "lat"));
    let nats_rate = put_throughput(&a, &value, "tp");
    let embedded_rate = put_throughput(&embedded, &value, "tp");
    println!(
        "put, {WRITERS} writers: NATS R3 {nats_rate:.0} ops/s, embedded {embedded_rate:.0} ops/s (NATS / embedded = {:.2}x)",
        nats_rate / embedded_rate
    );
    Ok(())
}
