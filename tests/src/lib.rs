//! Test harness: starts real `brink` processes on ports they pick, collects
//! their logs, and stops them when a test ends.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub mod origin;

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
        let logs = spawn_log_reader(&mut child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                std::thread::sleep(Duration::from_millis(100));
                let text = logs.lock().unwrap().clone();
                return (status, text);
            }
            if listening_port(&logs.lock().unwrap()).is_some() || Instant::now() > deadline {
                let _ = child.kill();
                panic!("brink started although it should have failed:\n{}", logs.lock().unwrap());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
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
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.logs().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
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
    let at = logs.find("listening on http://127.0.0.1:")?;
    let rest = &logs[at + "listening on http://127.0.0.1:".len()..];
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// An HTTP client for tests (real sockets, no proxy).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().expect("client")
}
