//! Request metrics and the Prometheus text rendering behind `GET /metrics`.
//!
//! Counters that the gateway sees (requests by worker and status, latency)
//! live here; counters that only the runtime sees (cold starts, CPU, limit
//! terminations, live isolates) are read from each worker's stats when the
//! metrics are rendered, so there is one source for each number.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use brink_runtime::Limit;

/// Upper bounds of the latency histogram's buckets, in seconds.
const DURATION_BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// What the gateway counts about the requests it routes, by worker.
#[derive(Default)]
pub struct RequestMetrics {
    by_worker: Mutex<BTreeMap<String, WorkerRequests>>,
}

/// One worker's requests: counts by status and a latency histogram.
#[derive(Default)]
struct WorkerRequests {
    by_status: BTreeMap<u16, u64>,
    /// Counts per bucket of [`DURATION_BUCKETS`], then +Inf (not cumulative).
    buckets: [u64; DURATION_BUCKETS.len() + 1],
    duration_sum_us: u64,
}

impl RequestMetrics {
    /// Counts one request answered with `status` after `elapsed` (until the
    /// response head). `worker` is empty for requests no worker was routed.
    pub fn record(&self, worker: &str, status: u16, elapsed: Duration) {
        let Ok(mut by_worker) = self.by_worker.lock() else { return };
        let requests = match by_worker.get_mut(worker) {
            Some(requests) => requests,
            None => by_worker.entry(worker.to_string()).or_default(),
        };
        *requests.by_status.entry(status).or_insert(0) += 1;
        let seconds = elapsed.as_secs_f64();
        let bucket = DURATION_BUCKETS.iter().position(|bound| seconds <= *bound).unwrap_or(DURATION_BUCKETS.len());
        requests.buckets[bucket] += 1;
        requests.duration_sum_us =
            requests.duration_sum_us.saturating_add(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX));
    }

    /// Forgets a deleted worker's counters, so a long-running server does
    /// not keep a series for every worker it ever served.
    pub fn forget(&self, worker: &str) {
        if let Ok(mut by_worker) = self.by_worker.lock() {
            by_worker.remove(worker);
        }
    }

    fn render(&self, out: &mut String) {
        let Ok(by_worker) = self.by_worker.lock() else { return };
        out.push_str("# HELP brink_requests_total Requests answered, by worker and status.\n");
        out.push_str("# TYPE brink_requests_total counter\n");
        for (worker, requests) in by_worker.iter() {
            for (status, count) in &requests.by_status {
                let _ = writeln!(out, "brink_requests_total{{worker=\"{}\",status=\"{status}\"}} {count}", label(worker));
            }
        }
        out.push_str("# HELP brink_request_duration_seconds Time from a request's arrival to its response head, by worker.\n");
        out.push_str("# TYPE brink_request_duration_seconds histogram\n");
        for (worker, requests) in by_worker.iter() {
            let worker = label(worker);
            let mut cumulative = 0;
            for (index, bound) in DURATION_BUCKETS.iter().enumerate() {
                cumulative += requests.buckets[index];
                let _ = writeln!(out, "brink_request_duration_seconds_bucket{{worker=\"{worker}\",le=\"{bound}\"}} {cumulative}");
            }
            cumulative += requests.buckets[DURATION_BUCKETS.len()];
            let _ = writeln!(out, "brink_request_duration_seconds_bucket{{worker=\"{worker}\",le=\"+Inf\"}} {cumulative}");
            let sum = requests.duration_sum_us as f64 / 1e6;
            let _ = writeln!(out, "brink_request_duration_seconds_sum{{worker=\"{worker}\"}} {sum}");
            let _ = writeln!(out, "brink_request_duration_seconds_count{{worker=\"{worker}\"}} {cumulative}");
        }
    }
}

/// One worker's runtime counters, as read from its stats.
pub struct WorkerSample {
    /// The worker's name.
    pub worker: String,
    /// Isolates running its code now.
    pub live_isolates: usize,
    /// Isolates that had to load its code.
    pub cold_starts: u64,
    /// Its idle isolates evicted.
    pub evictions: u64,
    /// CPU time its JavaScript used.
    pub cpu_ns: u64,
    /// Limit hits by limit (see `WorkerStats::limit_hits`).
    pub limit_hits: Vec<(Limit, u64)>,
}

impl WorkerSample {
    /// Adds `other`'s counters (not its gauge) to this one's.
    pub fn add(&mut self, other: &WorkerSample) {
        self.cold_starts += other.cold_starts;
        self.evictions += other.evictions;
        self.cpu_ns += other.cpu_ns;
        for (limit, count) in &other.limit_hits {
            match self.limit_hits.iter_mut().find(|(hit, _)| hit == limit) {
                Some((_, total)) => *total += count,
                None => self.limit_hits.push((*limit, *count)),
            }
        }
    }
}

/// Counters of the whole process.
pub struct ProcessSample {
    /// Blank isolates waiting in the pool.
    pub warm_isolates: usize,
    /// Isolates evicted (idle timeout or under the process cap), over all
    /// workers, deleted ones included.
    pub evictions: u64,
}

/// Renders every metric in the Prometheus text format (version 0.0.4).
pub fn render(requests: &RequestMetrics, workers: &[WorkerSample], process: &ProcessSample) -> String {
    let mut out = String::new();
    requests.render(&mut out);
    out.push_str("# HELP brink_cold_starts_total Isolates that loaded a worker's code.\n");
    out.push_str("# TYPE brink_cold_starts_total counter\n");
    for sample in workers {
        let _ = writeln!(out, "brink_cold_starts_total{{worker=\"{}\"}} {}", label(&sample.worker), sample.cold_starts);
    }
    out.push_str("# HELP brink_cpu_seconds_total CPU time used by a worker's JavaScript.\n");
    out.push_str("# TYPE brink_cpu_seconds_total counter\n");
    for sample in workers {
        let seconds = sample.cpu_ns as f64 / 1e9;
        let _ = writeln!(out, "brink_cpu_seconds_total{{worker=\"{}\"}} {seconds}", label(&sample.worker));
    }
    out.push_str(
        "# HELP brink_limit_terminations_total Limits enforced: isolates terminated for CPU time or memory, requests that ran out of wall-clock time or broke a body size limit.\n",
    );
    out.push_str("# TYPE brink_limit_terminations_total counter\n");
    for sample in workers {
        for (limit, count) in &sample.limit_hits {
            let _ = writeln!(
                out,
                "brink_limit_terminations_total{{worker=\"{}\",limit=\"{}\"}} {count}",
                label(&sample.worker),
                limit.label()
            );
        }
    }
    let live: usize = workers.iter().map(|sample| sample.live_isolates).sum();
    out.push_str("# HELP brink_live_isolates Isolates running tenant code.\n");
    out.push_str("# TYPE brink_live_isolates gauge\n");
    let _ = writeln!(out, "brink_live_isolates {live}");
    out.push_str("# HELP brink_pool_warm_isolates Blank pre-warmed isolates waiting in the pool.\n");
    out.push_str("# TYPE brink_pool_warm_isolates gauge\n");
    let _ = writeln!(out, "brink_pool_warm_isolates {}", process.warm_isolates);
    out.push_str("# HELP brink_websockets_open WebSockets open now, from clients and to outbound servers.\n");
    out.push_str("# TYPE brink_websockets_open gauge\n");
    let _ = writeln!(out, "brink_websockets_open {}", brink_runtime::api::websocket::open_sockets());
    out.push_str("# HELP brink_evictions_total Idle tenant isolates evicted.\n");
    out.push_str("# TYPE brink_evictions_total counter\n");
    let _ = writeln!(out, "brink_evictions_total {}", process.evictions);
    out
}

/// Escapes a label value (`\`, `"` and newlines, per the text format).
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_a_cumulative_histogram() {
        let requests = RequestMetrics::default();
        requests.record("a", 200, Duration::from_micros(500));
        requests.record("a", 200, Duration::from_millis(30));
        requests.record("b\"x", 503, Duration::from_secs(20));
        let workers = [WorkerSample {
            worker: "a".into(),
            live_isolates: 2,
            cold_starts: 3,
            evictions: 0,
            cpu_ns: 1_500_000_000,
            limit_hits: vec![(Limit::CpuTime, 1)],
        }];
        let text = render(&requests, &workers, &ProcessSample { warm_isolates: 4, evictions: 5 });
        for line in [
            "brink_requests_total{worker=\"a\",status=\"200\"} 2",
            "brink_requests_total{worker=\"b\\\"x\",status=\"503\"} 1",
            "brink_request_duration_seconds_bucket{worker=\"a\",le=\"0.001\"} 1",
            "brink_request_duration_seconds_bucket{worker=\"a\",le=\"0.05\"} 2",
            "brink_request_duration_seconds_bucket{worker=\"a\",le=\"+Inf\"} 2",
            "brink_request_duration_seconds_count{worker=\"a\"} 2",
            "brink_request_duration_seconds_bucket{worker=\"b\\\"x\",le=\"10\"} 0",
            "brink_request_duration_seconds_bucket{worker=\"b\\\"x\",le=\"+Inf\"} 1",
            "brink_cold_starts_total{worker=\"a\"} 3",
            "brink_cpu_seconds_total{worker=\"a\"} 1.5",
            "brink_limit_terminations_total{worker=\"a\",limit=\"cpu\"} 1",
            "brink_live_isolates 2",
            "brink_pool_warm_isolates 4",
            "brink_evictions_total 5",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
    }
}
