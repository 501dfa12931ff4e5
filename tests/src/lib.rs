//! Test harness: starts real `brink` processes on ports they pick, collects
//! their logs, and stops them when a test ends.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub mod origin;
pub mod tls;

/// The `brink` binary under test (built by `cargo build --release`).
pub fn brink_bin() -> PathBuf {
    if let Ok(path) = std::env::var("BRINK_BIN") {
        return PathBuf::from(path);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let bin = target.join("release/brink");
    assert!(
        bin.exists(),
        "{} not found: run `cargo build --release -p brink-gateway` first (make test does)",
        bin.display()
    );
    bin
}

/// A worker fixture in `tests/workers/`.
pub fn worker(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("workers").join(name)
}

/// A repository example in `examples/`.
pub fn example(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(path)
}

/// A running `brink dev`.
pub struct Brink {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// Port it listens on.
    pub port: u16,
    logs: Arc<Mutex<String>>,
}

fn spawn_log_reader(child: &mut Child) -> Arc<Mutex<String>> {
    let logs = Arc::new(Mutex::new(String::new()));
    if let Some(stderr) = child.stderr.take() {
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("[brink] {line}");
                sink.lock().unwrap().push_str(&line);
                sink.lock().unwrap().push('\n');
            }
        });
    }
    logs
}

fn dev_command(entry: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(brink_bin());
    command
        .arg("dev")
        .arg(entry)
        .args(["--port", "0", "--host", "127.0.0.1"])
        .args(args)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", std::env::var("BRINK_TEST_LOG").unwrap_or_else(|_| "info".into()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

impl Brink {
    /// Starts `brink dev <entry> --port 0 <args>` and waits until it listens.
    pub fn start(entry: impl AsRef<Path>, args: &[&str]) -> Brink {
        let mut child = dev_command(entry.as_ref(), args).spawn().expect("spawn brink");
        let logs = spawn_log_reader(&mut child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let port = listening_port(&logs.lock().unwrap());
            if let Some(port) = port {
                return Brink { child, base: format!("http://127.0.0.1:{port}"), port, logs };
            }
            if let Ok(Some(status)) = child.try_wait() {
                std::thread::sleep(Duration::from_millis(100));
                panic!("brink exited with {status} before listening:\n{}", logs.lock().unwrap());
            }
            assert!(Instant::now() < deadline, "brink did not start listening:\n{}", logs.lock().unwrap());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Runs `brink dev` expecting it to fail at start; returns status and stderr.
    pub fn start_expecting_failure(entry: impl AsRef<Path>, args: &[&str]) -> (ExitStatus, String) {
        let mut child = dev_command(entry.as_ref(), args).spawn().expect("spawn brink");
        expect_exit(&mut child, |logs| listening_port(logs).is_some(), "brink")
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Everything brink logged so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    /// Waits until the log contains `needle`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        wait_for_text(&self.logs, needle, timeout)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
    }

    /// Waits for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Peak resident memory of the process, in bytes (VmHWM).
    pub fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find(|line| line.starts_with("VmHWM:"))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .unwrap_or(0)
    }
}

impl Drop for Brink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn listening_port(logs: &str) -> Option<u16> {
    // `brink dev --tls` says https.
    let marker = ["listening on http://127.0.0.1:", "listening on https://127.0.0.1:"]
        .into_iter()
        .find(|marker| logs.contains(marker))?;
    let at = logs.find(marker)?;
    let rest = &logs[at + marker.len()..];
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// Waits for `child`, which should fail at start, to exit; returns its status
/// and stderr. Panics if its log shows it `started` (or after a minute).
fn expect_exit(child: &mut Child, started: impl Fn(&str) -> bool, what: &str) -> (ExitStatus, String) {
    let logs = spawn_log_reader(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            std::thread::sleep(Duration::from_millis(100));
            let text = logs.lock().unwrap().clone();
            return (status, text);
        }
        if started(&logs.lock().unwrap()) || Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what} started although it should have failed:\n{}", logs.lock().unwrap());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until the captured `logs` contain `needle`.
fn wait_for_text(logs: &Mutex<String>, needle: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if logs.lock().unwrap().contains(needle) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// An HTTP client for tests (real sockets, no proxy).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().expect("client")
}

/// A running `brink serve` with its own data directory and admin token.
/// Both listeners bind port 0; their addresses are read from the log.
pub struct BrinkServe {
    child: Child,
    /// `http://127.0.0.1:PORT` of the public listener.
    pub base: String,
    /// `http://127.0.0.1:PORT` of the admin API.
    pub admin: String,
    /// The admin token.
    pub token: String,
    /// The data directory (kept across [`BrinkServe::restart`]).
    pub data_dir: PathBuf,
    extra_args: Vec<String>,
    dir_handle: Arc<tempfile::TempDir>,
    logs: Arc<Mutex<String>>,
}

/// The token [`BrinkServe`] starts servers with.
pub const SERVE_TOKEN: &str = "test-admin-token-0123456789";

fn serve_command(args: &[String], token: Option<&str>) -> Command {
    let mut command = Command::new(brink_bin());
    command
        .arg("serve")
        .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("BRINK_ADMIN_TOKEN")
        .env_remove("BRINK_ADMIN_URL")
        .env("RUST_LOG", std::env::var("BRINK_TEST_LOG").unwrap_or_else(|_| "info".into()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(token) = token {
        command.env("BRINK_ADMIN_TOKEN", token);
    }
    command
}

fn logged_url(logs: &str, marker: &str) -> Option<String> {
    let at = logs.find(marker)?;
    let rest = &logs[at + marker.len()..];
    let address: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':').collect();
    address.contains(':').then(|| format!("http://{address}"))
}

impl BrinkServe {
    /// Starts `brink serve` on a fresh data directory with `args` added.
    pub fn start(args: &[&str]) -> BrinkServe {
        BrinkServe::start_with_env(args, &[])
    }

    /// [`BrinkServe::start`] with variables added to the server's
    /// environment (test hooks no worker can reach).
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> BrinkServe {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let data_dir = dir.path().join("data");
        let mut all: Vec<String> = vec!["--data-dir".into(), data_dir.display().to_string()];
        all.extend(args.iter().map(|a| a.to_string()));
        BrinkServe::spawn_with_env(all, dir, data_dir, env)
    }

    fn spawn(args: Vec<String>, dir: Arc<tempfile::TempDir>, data_dir: PathBuf) -> BrinkServe {
        BrinkServe::spawn_with_env(args, dir, data_dir, &[])
    }

    fn spawn_with_env(args: Vec<String>, dir: Arc<tempfile::TempDir>, data_dir: PathBuf, env: &[(&str, &str)]) -> BrinkServe {
        let mut child =
            serve_command(&args, Some(SERVE_TOKEN)).envs(env.iter().copied()).spawn().expect("spawn brink serve");
        let logs = spawn_log_reader(&mut child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            {
                let text = logs.lock().unwrap();
                let public = logged_url(&text, "public listener on http://");
                let admin = logged_url(&text, "admin API on http://");
                if let (Some(base), Some(admin)) = (public, admin) {
                    drop(text);
                    return BrinkServe {
                        child,
                        base,
                        admin,
                        token: SERVE_TOKEN.into(),
                        data_dir,
                        extra_args: args,
                        dir_handle: dir,
                        logs,
                    };
                }
            }
            if let Ok(Some(status)) = child.try_wait() {
                std::thread::sleep(Duration::from_millis(100));
                panic!("brink serve exited with {status} before listening:\n{}", logs.lock().unwrap());
            }
            assert!(Instant::now() < deadline, "brink serve did not start:\n{}", logs.lock().unwrap());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server (SIGKILL: nothing gets a chance to flush) and starts
    /// a new one on the same data directory and arguments.
    pub fn restart(mut self) -> BrinkServe {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let args = std::mem::take(&mut self.extra_args);
        let dir = self.dir_handle.clone();
        let data_dir = self.data_dir.clone();
        drop(self);
        BrinkServe::spawn(args, dir, data_dir)
    }

    /// A scratch directory that lives as long as the server's data.
    pub fn scratch(&self) -> &Path {
        self.dir_handle.path()
    }

    /// Runs `brink serve` with `args` and the environment token `token`,
    /// expecting it to exit; returns its status and stderr.
    pub fn start_expecting_failure(args: &[&str], token: Option<&str>) -> (ExitStatus, String) {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let mut child = serve_command(&args, token).spawn().expect("spawn brink serve");
        expect_exit(&mut child, |logs| logs.contains("admin API on http://"), "brink serve")
    }

    /// Runs a client command (`brink deploy ...`) against this server's
    /// admin API with its token.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        self.cli_with_token(args, Some(&self.token))
    }

    /// Runs a client command with `token` (or none).
    pub fn cli_with_token(&self, args: &[&str], token: Option<&str>) -> std::process::Output {
        let mut command = Command::new(brink_bin());
        command.args(args).env("BRINK_ADMIN_URL", &self.admin).env_remove("BRINK_ADMIN_TOKEN").env("NO_COLOR", "1");
        if let Some(token) = token {
            command.env("BRINK_ADMIN_TOKEN", token);
        }
        command.output().expect("run brink client")
    }

    /// `brink deploy ENTRY --name NAME ARGS --json`, asserting success;
    /// returns the new version.
    pub fn deploy(&self, entry: impl AsRef<Path>, name: &str, args: &[&str]) -> u64 {
        let entry = entry.as_ref().display().to_string();
        let mut all = vec!["deploy", entry.as_str(), "--name", name, "--json"];
        all.extend_from_slice(args);
        let output = self.cli(&all);
        assert!(
            output.status.success(),
            "deploy {name} failed: {}\n{}",
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&output.stdout)
        );
        let answer: serde_json::Value = serde_json::from_slice(&output.stdout).expect("deploy --json output");
        assert_eq!(answer["name"], name);
        answer["version"].as_u64().expect("version number")
    }

    /// The public listener's URL for `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// GET `path` on the public listener with `Host: host`; status and body.
    pub async fn get(&self, host: &str, path: &str) -> (u16, String) {
        let response = client().get(self.url(path)).header("host", host).send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }

    /// Everything the server logged so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    /// Waits until the log contains `needle`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        wait_for_text(&self.logs, needle, timeout)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for BrinkServe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
