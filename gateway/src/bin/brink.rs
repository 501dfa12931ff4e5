//! The `brink` command. Thin by design: flags become a config struct and
//! the library does the rest.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use brink_gateway::config::{parse_kv_binding, parse_var, DevConfig, KvBinding};
use brink_runtime::Limits;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "brink", version, about = "Brink: a multi-tenant edge worker runtime")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a worker project (TypeScript entry, brink.toml, a test, a README).
    Init(InitArgs),
    /// Serve one worker locally; every host name is routed to it.
    Dev(DevArgs),
    /// Read and write a local KV namespace (refuses while brink holds the store).
    Kv(KvArgs),
    /// Serve many tenants' workers, deployed through the admin API.
    Serve(ServeArgs),
    /// Upload a worker as a new version; returns once it serves.
    Deploy(DeployArgs),
    /// List the workers of a running server.
    Workers(WorkersArgs),
    /// List a worker's versions.
    Versions(VersionsArgs),
    /// Switch a worker back (or forward) to one of its versions.
    Rollback(RollbackArgs),
    /// Delete a worker: routing stops at once, in-flight requests finish.
    Delete(DeleteArgs),
    /// Stream a worker's console lines, uncaught errors and limit terminations.
    Tail(TailArgs),
    /// Manage a running server's TLS certificates.
    Certs(CertsArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// The config file (TOML; see docs/config.md).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address of the public listener [default: 127.0.0.1:8080].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Address of the admin API [default: 127.0.0.1:9090].
    #[arg(long)]
    admin_listen: Option<SocketAddr>,
    /// Address of the TLS listener: TCP, and UDP on the same port for HTTP/3.
    #[arg(long)]
    tls_listen: Option<SocketAddr>,
    #[command(flatten)]
    websockets: brink_gateway::websocket::WebSocketArgs,
    /// No HTTP/3 on the TLS listener's port.
    #[arg(long)]
    no_h3: bool,
    /// Where deployments and the KV store live [default: .brink].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Keep KV in a NATS JetStream cluster (comma-separated nats:// URLs);
    /// overrides `kv.nats.servers` and selects `kv.backend = "nats"`.
    #[arg(long = "kv-nats", value_name = "URL[,URL...]", value_parser = brink_gateway::kv_config::parse_server_arg)]
    kv_nats: Option<brink_gateway::kv_config::NatsServerList>,
}

/// How the client commands reach the admin API.
#[derive(clap::Args)]
struct AdminTarget {
    /// The admin API's URL.
    #[arg(long = "admin", env = "BRINK_ADMIN_URL", default_value = "http://127.0.0.1:9090", global = true)]
    admin: String,
    /// The admin bearer token.
    #[arg(long, env = "BRINK_ADMIN_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(clap::Args)]
struct InitArgs {
    /// The new project's directory (created; must be empty if it exists).
    dir: PathBuf,
    /// The worker's name [default: the directory's name].
    #[arg(long)]
    name: Option<String>,
}

#[derive(clap::Args)]
struct DeployArgs {
    /// The worker's entry module (its imports are uploaded with it), or a
    /// project directory [default: the brink.toml in this directory].
    entry: Option<PathBuf>,
    /// The worker's name [default: brink.toml's].
    #[arg(long)]
    name: Option<String>,
    /// A route: HOST or HOST/PATH-PREFIX, HOST may start with `*.` (repeatable).
    #[arg(long = "route")]
    routes: Vec<String>,
    /// A plain-text binding, `env.KEY`: KEY=VALUE (repeatable).
    #[arg(long = "var", value_parser = parse_var)]
    vars: Vec<(String, String)>,
    /// A secret binding, `env.KEY`: KEY=VALUE (repeatable; never shown again).
    #[arg(long = "secret", value_parser = parse_var)]
    secrets: Vec<(String, String)>,
    /// A KV binding: BINDING (the worker's own namespace) or
    /// BINDING=NAMESPACE (a namespace shared on purpose) (repeatable).
    #[arg(long = "kv")]
    kv: Vec<String>,
    /// CPU milliseconds per request.
    #[arg(long)]
    cpu_ms: Option<u64>,
    /// Heap per isolate, MiB (capped at the server's).
    #[arg(long)]
    heap_mib: Option<u64>,
    /// Wall-clock milliseconds per request.
    #[arg(long)]
    wall_ms: Option<u64>,
    /// Outbound fetches per request.
    #[arg(long)]
    subrequests: Option<u32>,
    /// Largest request body, bytes (capped at the server's).
    #[arg(long)]
    max_request_body_bytes: Option<u64>,
    /// Largest response body, bytes (default: no limit).
    #[arg(long)]
    max_response_body_bytes: Option<u64>,
    /// The origin behind the worker (http(s)://HOST[:PORT]): fetch() to the
    /// worker's own hosts goes there, as does ctx.passThroughOnException().
    #[arg(long)]
    origin: Option<String>,
    #[command(flatten)]
    target: AdminTarget,
}

#[derive(clap::Args)]
struct WorkersArgs {
    #[command(subcommand)]
    command: WorkersCommand,
    #[command(flatten)]
    target: AdminTarget,
}

#[derive(Subcommand)]
enum WorkersCommand {
    /// List every worker with its active version and routes.
    List,
}

#[derive(clap::Args)]
struct VersionsArgs {
    /// The worker.
    name: String,
    #[command(flatten)]
    target: AdminTarget,
}

#[derive(clap::Args)]
struct RollbackArgs {
    /// The worker.
    name: String,
    /// The version to serve.
    version: u64,
    #[command(flatten)]
    target: AdminTarget,
}

#[derive(clap::Args)]
struct DeleteArgs {
    /// The worker.
    name: String,
    #[command(flatten)]
    target: AdminTarget,
}

#[derive(clap::Args)]
struct CertsArgs {
    #[command(subcommand)]
    command: CertsCommand,
    #[command(flatten)]
    target: AdminTarget,
}

#[derive(Subcommand)]
enum CertsCommand {
    /// Store (or replace) HOST's certificate; new connections use it at once.
    Put {
        /// The host: a DNS name, or `*.example.com` for a wildcard.
        host: String,
        /// The certificate chain, leaf first (PEM).
        #[arg(long)]
        cert: PathBuf,
        /// The private key (PEM).
        #[arg(long)]
        key: PathBuf,
    },
    /// List certificates: host, expiry, issuer (never a key).
    List,
    /// Delete HOST's certificate.
    Delete {
        /// The host.
        host: String,
    },
}

#[derive(clap::Args)]
struct TailArgs {
    /// The worker.
    name: String,
    #[command(flatten)]
    target: AdminTarget,
}

impl AdminTarget {
    fn client(&self) -> Result<brink_gateway::admin_client::AdminClient, String> {
        brink_gateway::admin_client::AdminClient::new(&self.admin, self.token.clone()).map_err(|e| e.to_string())
    }
}

fn print_json(value: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

/// Runs one admin client command.
async fn run_client(command: Command) -> Result<(), String> {
    use brink_gateway::admin_client::{render_versions, render_workers, DeployOptions};
    match command {
        Command::Deploy(mut args) => {
            let client = args.target.client()?;
            let (entry, project) = entry_or_project(args.entry.take())?;
            let name = match (args.name.take(), &project) {
                (Some(name), _) => name,
                (None, Some(project)) => project.name.clone(),
                (None, None) => return Err("--name is required without a brink.toml".into()),
            };
            if let Some(project) = project {
                // The command line adds to (and for vars, overrides) the file.
                args.routes.splice(0..0, project.routes);
                args.vars.splice(0..0, project.vars);
                args.kv.splice(0..0, project.kv);
            }
            let mut kv = Vec::new();
            for text in &args.kv {
                let binding = parse_kv_binding(text).map_err(|e| e.to_string())?;
                kv.push((binding, text.contains('=')));
            }
            let options = DeployOptions {
                routes: args.routes,
                vars: args.vars,
                secrets: args.secrets,
                kv,
                limits: brink_gateway::deployments::LimitOverrides {
                    cpu_ms: args.cpu_ms,
                    wall_ms: args.wall_ms,
                    heap_mib: args.heap_mib,
                    subrequests: args.subrequests,
                    max_request_body_bytes: args.max_request_body_bytes,
                    max_response_body_bytes: args.max_response_body_bytes,
                },
                origin: args.origin,
            };
            let answer = client.deploy(&name, &entry, options).await.map_err(|e| e.to_string())?;
            if args.target.json {
                print_json(&answer);
            } else {
                let version = answer.get("version").map(|v| v.to_string()).unwrap_or_default();
                println!("deployed {name} version {version}");
            }
        }
        Command::Workers(args) => {
            let WorkersCommand::List = args.command;
            let answer = args.target.client()?.list().await.map_err(|e| e.to_string())?;
            if args.target.json {
                print_json(&answer);
            } else {
                print!("{}", render_workers(&answer));
            }
        }
        Command::Versions(args) => {
            let answer = args.target.client()?.versions(&args.name).await.map_err(|e| e.to_string())?;
            if args.target.json {
                print_json(&answer);
            } else {
                print!("{}", render_versions(&answer));
            }
        }
        Command::Rollback(args) => {
            let answer = args.target.client()?.rollback(&args.name, args.version).await.map_err(|e| e.to_string())?;
            if args.target.json {
                print_json(&answer);
            } else {
                println!("{} now serves version {}", args.name, args.version);
            }
        }
        Command::Delete(args) => {
            let answer = args.target.client()?.delete(&args.name).await.map_err(|e| e.to_string())?;
            if args.target.json {
                print_json(&answer);
            } else {
                println!("deleted {}", args.name);
            }
        }
        Command::Tail(args) => {
            let client = args.target.client()?;
            let name = args.name.clone();
            let mut stdout = std::io::stdout();
            let tail = client.tail(&args.name, args.target.json, &mut stdout, || {
                eprintln!("tailing {name} (Ctrl-C to stop)");
            });
            tokio::select! {
                result = tail => result.map_err(|e| e.to_string())?,
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Command::Certs(args) => {
            use brink_gateway::certs_cli;
            let client = args.target.client()?;
            let answer = match &args.command {
                CertsCommand::Put { host, cert, key } => certs_cli::put(&client, host, cert, key).await,
                CertsCommand::List => certs_cli::list(&client).await,
                CertsCommand::Delete { host } => certs_cli::delete(&client, host).await,
            }
            .map_err(|e| e.to_string())?;
            if args.target.json {
                print_json(&answer);
            } else {
                match &args.command {
                    CertsCommand::Put { host, .. } => {
                        let expires = answer.get("expires").and_then(|v| v.as_str()).unwrap_or_default();
                        println!("stored certificate for {host} (expires {expires})");
                    }
                    CertsCommand::List => print!("{}", certs_cli::render_certificates(&answer)),
                    CertsCommand::Delete { host } => println!("deleted certificate for {host}"),
                }
            }
        }
        Command::Init(_) | Command::Dev(_) | Command::Kv(_) | Command::Serve(_) => {}
    }
    Ok(())
}

#[derive(clap::Args)]
struct KvArgs {
    /// The namespace to operate on.
    #[arg(long, global = true, default_value = "")]
    namespace: String,
    /// Where the embedded KV store keeps its data.
    #[arg(long, global = true, default_value = ".brink")]
    data_dir: PathBuf,
    /// Operate on a running server's store through its admin API
    /// (http://HOST:PORT) instead of a local data directory.
    #[arg(long, global = true)]
    admin: Option<String>,
    /// The admin bearer token (with --admin).
    #[arg(long, env = "BRINK_ADMIN_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    #[command(subcommand)]
    operation: KvOperation,
}

#[derive(Subcommand)]
enum KvOperation {
    /// Print a key's value to stdout.
    Get { key: String },
    /// Store a value (from the argument, or stdin when VALUE is omitted).
    Put {
        key: String,
        value: Option<String>,
        /// Seconds until the key expires.
        #[arg(long)]
        ttl: Option<u64>,
        /// Metadata as JSON.
        #[arg(long)]
        metadata: Option<String>,
    },
    /// Delete a key.
    Delete { key: String },
    /// List keys as JSON lines.
    List {
        #[arg(long)]
        prefix: Option<String>,
        #[arg(long)]
        limit: Option<usize>,
    },
}

fn run_kv(args: KvArgs) -> Result<(), String> {
    use brink_gateway::kv_cli::{run, KvCommand};
    use std::io::Read;
    if args.namespace.is_empty() {
        return Err("--namespace is required".into());
    }
    let command = match args.operation {
        KvOperation::Get { key } => KvCommand::Get { key },
        KvOperation::Put { key, value, ttl, metadata } => {
            let value = match value {
                Some(value) => value.into_bytes(),
                None => {
                    let mut buffer = Vec::new();
                    std::io::stdin().read_to_end(&mut buffer).map_err(|e| e.to_string())?;
                    buffer
                }
            };
            let options = brink_kv::PutOptions { expiration: None, expiration_ttl: ttl, metadata };
            KvCommand::Put { key, value: value.into(), options }
        }
        KvOperation::Delete { key } => KvCommand::Delete { key },
        KvOperation::List { prefix, limit } => KvCommand::List { prefix, limit },
    };
    match args.admin {
        Some(url) => {
            let client = brink_gateway::admin_client::AdminClient::new(&url, args.token).map_err(|e| e.to_string())?;
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
            runtime
                .block_on(brink_gateway::kv_cli::run_remote(&client, &args.namespace, command, &mut std::io::stdout()))
                .map_err(|e| e.to_string())
        }
        None => run(&args.data_dir, &args.namespace, command, &mut std::io::stdout().lock()).map_err(|e| e.to_string()),
    }
}

#[derive(clap::Args)]
struct DevArgs {
    /// The worker's entry module (ES module, TypeScript or service-worker
    /// script), or a project directory [default: the brink.toml in this
    /// directory].
    entry: Option<PathBuf>,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8787)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// A plain-text binding, `env.KEY`: KEY=VALUE (repeatable).
    #[arg(long = "var", value_parser = parse_var)]
    vars: Vec<(String, String)>,
    /// A KV namespace binding, `env.BINDING`: BINDING[=NAMESPACE] (repeatable).
    #[arg(long = "kv", value_parser = parse_kv_binding)]
    kv: Vec<KvBinding>,
    /// Where the embedded KV store keeps its data.
    #[arg(long, default_value = ".brink")]
    data_dir: PathBuf,
    /// A private or loopback host that outbound fetch() may reach (repeatable).
    #[arg(long = "allow-private-host")]
    allowed_private_hosts: Vec<String>,
    /// The origin behind the worker (http(s)://HOST[:PORT]): fetch() to the
    /// worker's own host goes there, as does ctx.passThroughOnException().
    #[arg(long)]
    origin: Option<String>,
    /// Headers naming the client on requests to the origin:
    /// x-forwarded-for (with X-Real-IP), forwarded (RFC 7239) or none.
    #[arg(long, default_value = "x-forwarded-for")]
    forwarded_headers: brink_runtime::api::forwarding::ForwardedHeaders,
    /// Believe the X-Forwarded-For, X-Real-IP and Forwarded headers clients
    /// send (a proxy of yours in front); by default they are removed.
    #[arg(long)]
    trust_forwarded: bool,
    /// MiB of responses the Cache API (caches.default, caches.open) may hold.
    #[arg(long, default_value_t = 256)]
    cache_mib: u64,
    /// Isolates running the worker in parallel.
    #[arg(long, default_value_t = 1)]
    isolates: usize,
    #[command(flatten)]
    websockets: brink_gateway::websocket::WebSocketArgs,
    /// Largest request body accepted, in bytes.
    #[arg(long, default_value_t = 100 * 1024 * 1024)]
    max_body_bytes: u64,
    /// Largest response body the worker may send, in bytes (default: no
    /// limit); a longer streamed body is cut off.
    #[arg(long)]
    max_response_body_bytes: Option<u64>,
    /// CPU milliseconds one request may use, over all of its JavaScript
    /// (handler, continuations, timers, streamed body, waitUntil work).
    #[arg(long, default_value_t = 30_000)]
    cpu_ms: u64,
    /// Milliseconds a request may wait for the worker's response.
    #[arg(long, default_value_t = 30_000)]
    wall_ms: u64,
    /// Heap limit per isolate, in MiB.
    #[arg(long, default_value_t = 128)]
    heap_mib: usize,
    /// Outbound fetch() calls one request may make.
    #[arg(long, default_value_t = 50)]
    subrequests: u32,
    /// Milliseconds a client may take to send a request's head.
    #[arg(long, default_value_t = 30_000)]
    header_timeout_ms: u64,
    /// Milliseconds a connection may stay open with no request running.
    #[arg(long, default_value_t = 60_000)]
    idle_timeout_ms: u64,
    /// Most client connections open at once (further ones wait to be accepted).
    #[arg(long, default_value_t = 10_000)]
    max_connections: usize,
    /// Serve over TLS (and HTTP/3 on the same port) with a self-signed
    /// certificate for localhost, kept in DATA_DIR/tls/.
    #[arg(long)]
    tls: bool,
    /// Keep KV in a NATS JetStream cluster (comma-separated nats:// URLs;
    /// credentials may ride in the URL) instead of the embedded store.
    #[arg(long = "kv-nats", value_name = "URL[,URL...]", value_parser = brink_gateway::kv_config::parse_server_arg)]
    kv_nats: Option<brink_gateway::kv_config::NatsServerList>,
    /// Do not reload the worker when a file of its module graph changes.
    #[arg(long)]
    no_watch: bool,
}

/// The entry file named on the command line, or the project (`brink.toml`)
/// of the directory named there or of the current one.
fn entry_or_project(entry: Option<PathBuf>) -> Result<(PathBuf, Option<brink_gateway::init::Project>), String> {
    match entry {
        Some(entry) if !entry.is_dir() => Ok((entry, None)),
        entry => {
            let dir = entry.unwrap_or_else(|| PathBuf::from("."));
            let project = brink_gateway::init::Project::load(&dir).map_err(|e| e.to_string())?;
            Ok((project.entry.clone(), Some(project)))
        }
    }
}

impl DevArgs {
    fn into_config(mut self) -> Result<DevConfig, String> {
        let (entry, project) = entry_or_project(self.entry.take())?;
        let name = entry.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "worker".into());
        let name = match entry.parent().and_then(|p| p.file_name()) {
            Some(dir) if name == "worker" || name == "index" => dir.to_string_lossy().into_owned(),
            _ => name,
        };
        let mut vars = Vec::new();
        let mut kv = Vec::new();
        let name = match project {
            Some(project) => {
                // A var given on the command line replaces the file's.
                let overridden = |key: &String| self.vars.iter().any(|(cli, _)| cli == key);
                vars.extend(project.vars.into_iter().filter(|(key, _)| !overridden(key)));
                for text in &project.kv {
                    kv.push(parse_kv_binding(text).map_err(|e| format!("brink.toml: {e}"))?);
                }
                project.name
            }
            None => name,
        };
        // The command line adds to (and for vars, overrides) the file.
        vars.extend(self.vars);
        kv.extend(self.kv);
        Ok(DevConfig {
            entry,
            name,
            listen: SocketAddr::new(self.host, self.port),
            vars,
            kv,
            kv_backend: brink_gateway::kv_config::dev_choice(self.kv_nats),
            data_dir: self.data_dir,
            allowed_private_hosts: self.allowed_private_hosts,
            origin: self.origin,
            forwarded_headers: self.forwarded_headers,
            trust_forwarded: self.trust_forwarded,
            cache_bytes: self.cache_mib.saturating_mul(1024 * 1024),
            isolates: self.isolates,
            max_request_body: self.max_body_bytes,
            limits: Limits {
                cpu_per_request: Duration::from_millis(self.cpu_ms),
                wall_clock: Duration::from_millis(self.wall_ms),
                heap_bytes: self.heap_mib.saturating_mul(1024 * 1024),
                subrequests: self.subrequests,
                request_body_bytes: self.max_body_bytes,
                response_body_bytes: self.max_response_body_bytes,
                ..Limits::default()
            },
            header_read_timeout: Duration::from_millis(self.header_timeout_ms),
            shutdown_grace: Duration::from_secs(30),
            idle_timeout: Duration::from_millis(self.idle_timeout_ms),
            max_connections: self.max_connections,
            tls: self.tls,
            watch: !self.no_watch,
        })
    }
}

fn main() -> ExitCode {
    // Before any thread exists (see its docs): a proxy from the environment
    // would carry workers' requests past the outbound address checks.
    brink_runtime::api::outbound_fetch::ignore_proxy_environment();
    // rustls is built with two crypto providers (aws-lc-rs for the
    // listeners, ring for deno_fetch's client), so it cannot pick a process
    // default by itself, and a worker's first fetch() would panic. An error
    // only means one is installed already.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    brink_gateway::logging::init();
    // The startup snapshot is made by this binary re-run in a child process
    // (see brink_runtime::snapshot).
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.len() == 3 && args[1] == brink_runtime::snapshot::SNAPSHOT_SUBCOMMAND {
        return match brink_runtime::snapshot::write_startup_snapshot(std::path::Path::new(&args[2])) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        };
    }
    let cli = Cli::parse();
    // Every open connection is a file descriptor; the default soft limit
    // (often 1024) would run out long before --max-connections.
    #[cfg(unix)]
    match brink_gateway::server::raise_open_file_limit() {
        Ok(limit) => tracing::debug!(limit, "open file limit"),
        Err(error) => tracing::warn!(%error, "cannot raise the open file limit"),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Kv(args) => {
            return match run_kv(args) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("error: {error}");
                    ExitCode::FAILURE
                }
            };
        }
        Command::Init(args) => {
            return match brink_gateway::init::create(&args.dir, args.name.as_deref()) {
                Ok(files) => {
                    for file in files {
                        println!("created {}", file.display());
                    }
                    println!("next: cd {} && brink dev", args.dir.display());
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("error: {error}");
                    ExitCode::FAILURE
                }
            };
        }
        Command::Dev(args) => {
            args.websockets.apply();
            let config = match args.into_config() {
                Ok(config) => config,
                Err(error) => {
                    eprintln!("error: {error}");
                    return ExitCode::FAILURE;
                }
            };
            runtime.block_on(brink_gateway::dev::run(config, brink_gateway::server::shutdown_signal()))
        }
        Command::Serve(args) => {
            args.websockets.apply();
            let overrides = brink_gateway::serve_config::ServeOverrides {
                config: args.config,
                listen: args.listen,
                admin_listen: args.admin_listen,
                tls_listen: args.tls_listen,
                no_h3: args.no_h3,
                data_dir: args.data_dir,
                kv_nats: args.kv_nats.map(|list| list.0),
            };
            let config = match brink_gateway::serve_config::ServeConfig::load(
                &overrides,
                std::env::var("BRINK_ADMIN_TOKEN").ok(),
            ) {
                Ok(config) => config,
                Err(error) => {
                    eprintln!("error: {error}");
                    return ExitCode::FAILURE;
                }
            };
            return match runtime.block_on(brink_gateway::serve::run(config, brink_gateway::server::shutdown_signal())) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("error: {error}");
                    ExitCode::FAILURE
                }
            };
        }
        client_command => {
            return match runtime.block_on(run_client(client_command)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("error: {error}");
                    ExitCode::FAILURE
                }
            };
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
