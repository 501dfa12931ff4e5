//! A NATS JetStream cluster of real `nats-server` processes for tests
//! (feature `test-cluster`): on 127.0.0.1, on ports picked here, with its
//! state in a temporary directory, killed when dropped.
//!
//! The binary is `$BRINK_NATS_SERVER`, else `third_party/nats-server/bin/nats-server`
//! in the workspace (installed by `scripts/install-nats.sh`, which `make test`
//! runs), else `nats-server` on `PATH`. A missing binary is an error that says
//! how to install it: tests must fail, never skip, without a server.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a node may take to accept connections and a cluster to elect its
/// JetStream meta leader. Generous: CI machines are busy.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// One node's fixed settings.
struct Node {
    name: String,
    client_port: u16,
    config: PathBuf,
    log: PathBuf,
    process: Option<Child>,
}

/// A running cluster. Dropping it kills every node.
pub struct NatsCluster {
    dir: tempfile::TempDir,
    binary: PathBuf,
    nodes: Vec<Node>,
}

/// Errors starting or controlling the cluster.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// No nats-server binary was found.
    #[error(
        "nats-server not found (looked at {0}, and on PATH); the replicated KV tests need it: install it with `bash scripts/install-nats.sh` (make test does) or set BRINK_NATS_SERVER"
    )]
    NoBinary(String),
    /// Setting up files or processes failed.
    #[error("NATS test cluster: {0}")]
    Io(#[from] std::io::Error),
    /// A node did not come up in time.
    #[error("NATS test cluster: {what} within {timeout:?}; node logs: {logs}")]
    NotReady {
        /// What did not happen.
        what: String,
        /// How long it waited.
        timeout: Duration,
        /// The tail of each node's log.
        logs: String,
    },
}

/// Finds the nats-server binary (see the module docs).
pub fn nats_server_binary() -> Result<PathBuf, ClusterError> {
    if let Some(path) = std::env::var_os("BRINK_NATS_SERVER") {
        let path = PathBuf::from(path);
        if path.is_file() {
            return Ok(path);
        }
        return Err(ClusterError::NoBinary(format!("$BRINK_NATS_SERVER={} (no such file)", path.display())));
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let local = workspace.join("third_party/nats-server/bin/nats-server");
    if local.is_file() {
        return Ok(local);
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let candidate = dir.join("nats-server");
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    Err(ClusterError::NoBinary(local.display().to_string()))
}

/// Ports are picked below Linux's ephemeral range (32768 and up): a port the
/// kernel handed out with `bind(0)` can be taken again as the source port of
/// an outgoing connection (one node dialling a route not yet listening
/// connects to itself) before the node that should listen on it starts.
const PORT_RANGE: std::ops::Range<u32> = 20_000..32_000;

fn free_port() -> std::io::Result<u16> {
    // A random start, so tests running in parallel rarely try the same ports.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let span = PORT_RANGE.end - PORT_RANGE.start;
    let seed = nanos ^ (std::process::id() << 7);
    for i in 0..span {
        let port = PORT_RANGE.start + (seed.wrapping_add(i.wrapping_mul(7919))) % span;
        let port = u16::try_from(port).unwrap_or(20_000);
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err(std::io::Error::other("no free port between 20000 and 32000"))
}

impl NatsCluster {
    /// Starts `size` JetStream nodes clustered together (one node: no
    /// cluster block) with `max_payload` raised to 32 MB, so values up to
    /// Workers' 25 MiB fit, and waits until JetStream answers.
    pub fn start(size: usize) -> Result<NatsCluster, ClusterError> {
        Self::start_with(size, Some("32MB"))
    }

    /// Like [`NatsCluster::start`]; `max_payload: None` keeps the server's default (1 MB).
    /// A start that fails (a port taken in between by a parallel test, say)
    /// is retried on new ports, twice.
    pub fn start_with(size: usize, max_payload: Option<&str>) -> Result<NatsCluster, ClusterError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Self::start_once(size, max_payload) {
                Err(ClusterError::NotReady { .. }) if attempt < 3 => continue,
                other => return other,
            }
        }
    }

    fn start_once(size: usize, max_payload: Option<&str>) -> Result<NatsCluster, ClusterError> {
        let binary = nats_server_binary()?;
        let dir = tempfile::Builder::new().prefix("brink-nats-").tempdir()?;
        let client_ports = (0..size).map(|_| free_port()).collect::<std::io::Result<Vec<_>>>()?;
        let route_ports = (0..size).map(|_| free_port()).collect::<std::io::Result<Vec<_>>>()?;
        let routes: Vec<String> = route_ports
            .iter()
            .map(|p| format!("\"nats-route://127.0.0.1:{p}\""))
            .collect();
        let mut nodes = Vec::with_capacity(size);
        for i in 0..size {
            let name = format!("n{}", i + 1);
            let store = dir.path().join(&name);
            std::fs::create_dir_all(&store)?;
            let mut config = format!(
                "server_name: {name}\nlisten: \"127.0.0.1:{}\"\njetstream {{\n  store_dir: \"{}\"\n  max_memory_store: 64MB\n  max_file_store: 2GB\n}}\n",
                client_ports[i],
                store.display()
            );
            if let Some(max) = max_payload {
                config.push_str(&format!("max_payload: {max}\nmax_pending: 128MB\n"));
            }
            if size > 1 {
                config.push_str(&format!(
                    "cluster {{\n  name: brinktest\n  listen: \"127.0.0.1:{}\"\n  routes: [{}]\n}}\n",
                    route_ports[i],
                    routes.join(", ")
                ));
            }
            let config_path = dir.path().join(format!("{name}.conf"));
            std::fs::write(&config_path, config)?;
            nodes.push(Node {
                log: dir.path().join(format!("{name}.log")),
                name,
                client_port: client_ports[i],
                config: config_path,
                process: None,
            });
        }
        let mut cluster = NatsCluster { dir, binary, nodes };
        for i in 0..size {
            cluster.spawn(i)?;
        }
        cluster.wait_ready()?;
        Ok(cluster)
    }

    fn spawn(&mut self, i: usize) -> Result<(), ClusterError> {
        let node = &mut self.nodes[i];
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&node.log)?;
        let child = Command::new(&self.binary)
            .arg("-c")
            .arg(&node.config)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        node.process = Some(child);
        Ok(())
    }

    /// Client URLs of every node, `nats://127.0.0.1:PORT`.
    pub fn urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| format!("nats://127.0.0.1:{}", n.client_port))
            .collect()
    }

    /// Client URLs joined by commas, as `--kv-nats` takes them.
    pub fn urls_joined(&self) -> String {
        self.urls().join(",")
    }

    /// The temporary directory holding the nodes' state and logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The node leading the Raft group of KV namespace `namespace`'s stream
    /// (the one whose loss forces an election), as an index for
    /// [`NatsCluster::kill`]. The stream must exist (used once).
    pub fn leader_of_namespace(&self, namespace: &str) -> Result<usize, ClusterError> {
        let urls = self.urls();
        let stream = super::codec::stream_name(namespace);
        let probe = std::thread::spawn(move || -> Result<Option<String>, String> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let client = async_nats::connect(urls).await.map_err(|e| e.to_string())?;
                let js = async_nats::jetstream::new(client);
                let mut handle = js.get_stream(&stream).await.map_err(|e| e.to_string())?;
                let info = handle.info().await.map_err(|e| e.to_string())?;
                Ok(info.cluster.as_ref().and_then(|c| c.leader.clone()))
            })
        });
        let leader = probe
            .join()
            .map_err(|_| std::io::Error::other("the leader probe panicked"))?
            .map_err(std::io::Error::other)?;
        leader
            .and_then(|name| self.nodes.iter().position(|n| n.name == name))
            .ok_or_else(|| ClusterError::Io(std::io::Error::other(format!("stream {namespace} has no known leader"))))
    }

    /// Deletes KV namespace `namespace`'s stream, as an operator might.
    pub fn delete_namespace_stream(&self, namespace: &str) -> Result<(), ClusterError> {
        let urls = self.urls();
        let stream = super::codec::stream_name(namespace);
        let probe = std::thread::spawn(move || -> Result<(), String> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let client = async_nats::connect(urls).await.map_err(|e| e.to_string())?;
                let js = async_nats::jetstream::new(client);
                js.delete_stream(&stream).await.map(|_| ()).map_err(|e| e.to_string())
            })
        });
        probe
            .join()
            .map_err(|_| std::io::Error::other("the delete probe panicked"))?
            .map_err(|e| ClusterError::Io(std::io::Error::other(e)))
    }

    /// Kills node `i` with SIGKILL and waits for it to exit.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].process.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills every node.
    pub fn kill_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }

    /// Starts node `i` again on its old ports and state, and waits until it accepts connections.
    pub fn restart(&mut self, i: usize) -> Result<(), ClusterError> {
        self.kill(i);
        self.spawn(i)?;
        self.wait_listening(i)
    }

    /// Starts every stopped node and waits until JetStream answers.
    pub fn restart_all(&mut self) -> Result<(), ClusterError> {
        for i in 0..self.nodes.len() {
            if self.nodes[i].process.is_none() {
                self.spawn(i)?;
            }
        }
        self.wait_ready()
    }

    fn logs(&self) -> String {
        self.nodes
            .iter()
            .map(|n| {
                let text = std::fs::read_to_string(&n.log).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(8).collect();
                format!("[{}] {}", n.name, tail.into_iter().rev().collect::<Vec<_>>().join(" | "))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn not_ready(&self, what: String) -> ClusterError {
        ClusterError::NotReady {
            what,
            timeout: START_TIMEOUT,
            logs: self.logs(),
        }
    }

    fn wait_listening(&mut self, i: usize) -> Result<(), ClusterError> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.nodes[i].client_port));
        let deadline = Instant::now() + START_TIMEOUT;
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(child) = self.nodes[i].process.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(self.not_ready(format!("node {} exited with {status}", i + 1)));
                }
            }
            if Instant::now() > deadline {
                return Err(self.not_ready(format!("node {} did not listen", i + 1)));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// Waits until every running node listens and JetStream (its meta
    /// leader, in a cluster) answers an account-info request.
    fn wait_ready(&mut self) -> Result<(), ClusterError> {
        for i in 0..self.nodes.len() {
            if self.nodes[i].process.is_some() {
                self.wait_listening(i)?;
            }
        }
        let urls = self.urls();
        // On a thread of its own: callers may be inside an async runtime,
        // where starting another one on the same thread panics.
        let probe = std::thread::spawn(move || -> std::io::Result<bool> {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            Ok(runtime.block_on(async {
            let deadline = Instant::now() + START_TIMEOUT;
            while Instant::now() < deadline {
                if let Ok(client) = async_nats::ConnectOptions::new()
                    .connection_timeout(Duration::from_secs(2))
                    .connect(urls.clone())
                    .await
                {
                    let js = async_nats::jetstream::new(client);
                    if js.query_account().await.is_ok() {
                        return true;
                    }
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            false
        }))
        });
        let ready = probe
            .join()
            .map_err(|_| std::io::Error::other("the readiness probe panicked"))??;
        if ready {
            Ok(())
        } else {
            Err(self.not_ready("JetStream did not answer".to_owned()))
        }
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        self.kill_all();
    }
}
