//! The KV backends the behaviour suites (`kv.rs`, `kv_hostile.rs`,
//! `serve_kv.rs`) run against: a worker's code must behave the same on the
//! embedded store and on the replicated one, so each backend-agnostic test
//! is one function taking a [`Backend`], instantiated once per backend by
//! [`on_each_backend!`]. The NATS variant starts its own 3-node JetStream
//! cluster (`brink_kv::test_cluster`), so tests never share streams.
// Each test file uses only some of these.
#![allow(dead_code)]

use std::path::Path;

use brink_kv::test_cluster::NatsCluster;
use brink_tests::{Brink, BrinkServe};

/// Where a test's `brink` keeps its KV.
pub enum Backend {
    /// The embedded redb store in the data directory.
    Embedded,
    /// A NATS JetStream cluster, with the POP's index in the data directory.
    Nats(NatsCluster),
}

impl Backend {
    pub fn embedded() -> Backend {
        Backend::Embedded
    }

    pub fn nats() -> Backend {
        Backend::Nats(NatsCluster::start(3).unwrap_or_else(|error| panic!("{error}")))
    }

    pub fn is_embedded(&self) -> bool {
        matches!(self, Backend::Embedded)
    }

    /// The flags that select this backend (for `brink dev` and `brink serve`).
    pub fn flags(&self) -> Vec<String> {
        match self {
            Backend::Embedded => Vec::new(),
            Backend::Nats(cluster) => vec!["--kv-nats".to_owned(), cluster.urls_joined()],
        }
    }

    /// `brink dev` running `worker` with the data directory `dir` and `args`.
    pub fn dev(&self, worker: impl AsRef<Path>, dir: &Path, args: &[&str]) -> Brink {
        let flags = self.flags();
        let mut all: Vec<&str> = vec!["--data-dir", dir.to_str().expect("utf-8 path")];
        all.extend(args);
        all.extend(flags.iter().map(String::as_str));
        Brink::start(worker, &all)
    }

    /// `brink serve` with `args`.
    pub fn serve(&self, args: &[&str]) -> BrinkServe {
        let flags = self.flags();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(flags.iter().map(String::as_str));
        BrinkServe::start(&all)
    }
}

/// For each `name`, a test `embedded::name` and a test `nats::name`, each
/// calling the async function `name(backend)` of the enclosing file.
macro_rules! on_each_backend {
    ($($name:ident),+ $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::kv_backend::Backend::embedded()).await
                }
            )+
        }
        mod nats {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::kv_backend::Backend::nats()).await
                }
            )+
        }
    };
}
