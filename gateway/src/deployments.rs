//! The deployment store: every upload of a worker becomes an immutable,
//! numbered version on disk, and each worker has a pointer to its active
//! version. `brink serve` reads it back at start, so a restart brings back
//! every worker, version, route, var, secret and binding.
//!
//! Layout under the data directory:
//!
//! ```text
//! workers/<name>/v<N>/meta.json        what the version is (no secret values)
//! workers/<name>/v<N>/secrets.json     secret values, mode 0600
//! workers/<name>/v<N>/modules/<path>   the bundle's modules
//! workers/<name>/active.json           {"version": N}
//! ```
//!
//! Crash safety: a version is written into a temporary directory, every
//! file and the directory are fsynced, then the directory is renamed into
//! place and its parent fsynced; the active pointer is a small file replaced
//! the same way. A deploy is acknowledged only after both are durable, so a
//! crash leaves either the old state or the new one, plus at most a
//! temporary directory that the next start removes.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Longest worker name.
pub const MAX_WORKER_NAME: usize = 40;

/// A secret's value. Its `Debug` never shows the value, so a secret cannot
/// reach a log through a `{:?}`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretValue(pub String);

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

/// A KV binding as deployed: `env.BINDING` and, when the deploy named one,
/// an explicit (shared) namespace. Without one, the worker gets a namespace
/// of its own (see [`crate::tenants::scoped_namespace`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvBindingRecord {
    /// The name the worker sees.
    pub binding: String,
    /// The namespace in the store, when given explicitly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Limits a deploy overrides; unset ones follow the server's defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitOverrides {
    /// CPU milliseconds per request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_ms: Option<u64>,
    /// Wall-clock milliseconds per request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_ms: Option<u64>,
    /// Heap per isolate, MiB (capped at the server's heap limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heap_mib: Option<u64>,
    /// Outbound fetches per request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subrequests: Option<u32>,
    /// Largest request body, bytes (capped at the server's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_request_body_bytes: Option<u64>,
    /// Largest response body, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_response_body_bytes: Option<u64>,
}

/// What a version is, apart from its module sources and secret values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRecord {
    /// The version number (1, 2, …, per worker).
    pub version: u64,
    /// When it was deployed, milliseconds since the Unix epoch.
    pub created_ms: u64,
    /// The entry module's path within the bundle.
    pub entry: String,
    /// Every module's path within the bundle.
    pub modules: Vec<String>,
    /// Total bytes of the modules.
    pub bytes: usize,
    /// Route patterns, as given.
    pub routes: Vec<String>,
    /// Plain-text bindings.
    pub vars: Vec<(String, String)>,
    /// The names of the secret bindings (the values are in `secrets.json`).
    pub secret_names: Vec<String>,
    /// KV bindings.
    pub kv: Vec<KvBindingRecord>,
    /// Limit overrides.
    pub limits: LimitOverrides,
    /// The origin behind the worker (`scheme://host[:port]`), if any: see
    /// `docs/cdn.md`. Absent in versions stored before origins existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

/// A version with everything needed to run it.
#[derive(Clone, Debug)]
pub struct StoredVersion {
    /// What it is.
    pub record: VersionRecord,
    /// Module path → source.
    pub modules: BTreeMap<String, Vec<u8>>,
    /// Secret bindings.
    pub secrets: Vec<(String, SecretValue)>,
}

#[derive(Serialize, Deserialize)]
struct ActivePointer {
    version: u64,
}

/// Why the store could not do something.
#[derive(Debug, thiserror::Error)]
pub enum DeploymentError {
    /// A file system operation failed.
    #[error("deployment store: {action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// On which path.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// A stored file does not parse.
    #[error("deployment store: {} is damaged: {reason}", path.display())]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong (never a secret's value).
        reason: String,
    },
    /// The worker has no stored versions.
    #[error("no worker named {0:?}")]
    NoSuchWorker(String),
    /// The worker has no such version.
    #[error("worker {name:?} has no version {version}")]
    NoSuchVersion {
        /// The worker.
        name: String,
        /// The version asked for.
        version: u64,
    },
    /// A name that cannot be a worker's name.
    #[error("invalid worker name {0:?}: use 1 to 40 lower-case letters, digits and `-`, starting with a letter or digit")]
    InvalidName(String),
}

/// Checks a worker name: it becomes a directory name, a metrics label and
/// part of KV namespace names, so it is kept to `[a-z0-9-]` (no `_`, which
/// separates the worker from the binding in per-worker namespaces).
pub fn validate_worker_name(name: &str) -> Result<(), DeploymentError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_WORKER_NAME
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(DeploymentError::InvalidName(name.to_string()))
    }
}

/// Versions and active pointers of every worker, on disk.
#[derive(Clone, Debug)]
pub struct DeploymentStore {
    workers_dir: PathBuf,
}

impl DeploymentStore {
    /// Opens (creating if needed) the store in `data_dir`, removing what an
    /// interrupted write or delete left behind.
    pub fn open(data_dir: &Path) -> Result<DeploymentStore, DeploymentError> {
        let workers_dir = data_dir.join("workers");
        fs::create_dir_all(&workers_dir).map_err(io("create", &workers_dir))?;
        let store = DeploymentStore { workers_dir };
        store.remove_leftovers()?;
        Ok(store)
    }

    fn remove_leftovers(&self) -> Result<(), DeploymentError> {
        for entry in read_dir(&self.workers_dir)? {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if name.starts_with(".deleted-") {
                let _ = fs::remove_dir_all(&path);
                continue;
            }
            if validate_worker_name(&name).is_err() || !path.is_dir() {
                continue;
            }
            for inner in read_dir(&path)? {
                let inner_name = inner.file_name().to_string_lossy().into_owned();
                if inner_name.starts_with(".tmp-") {
                    tracing::info!(worker = %name, leftover = %inner_name, "removing an interrupted deploy's temporary files");
                    let _ = fs::remove_dir_all(inner.path());
                    let _ = fs::remove_file(inner.path());
                }
            }
        }
        Ok(())
    }

    fn worker_dir(&self, name: &str) -> Result<PathBuf, DeploymentError> {
        validate_worker_name(name)?;
        Ok(self.workers_dir.join(name))
    }

    /// Names of workers that have an active version, sorted.
    pub fn worker_names(&self) -> Result<Vec<String>, DeploymentError> {
        let mut names = Vec::new();
        for entry in read_dir(&self.workers_dir)? {
            let name = entry.file_name().to_string_lossy().into_owned();
            if validate_worker_name(&name).is_ok() && entry.path().join("active.json").is_file() {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// The worker's active version, if it has one.
    pub fn active(&self, name: &str) -> Result<Option<u64>, DeploymentError> {
        let path = self.worker_dir(name)?.join("active.json");
        let text = match fs::read(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(io("read", &path)(error)),
        };
        let pointer: ActivePointer =
            serde_json::from_slice(&text).map_err(|e| DeploymentError::Damaged { path, reason: e.to_string() })?;
        Ok(Some(pointer.version))
    }

    /// Every stored version of the worker, oldest first.
    pub fn versions(&self, name: &str) -> Result<Vec<VersionRecord>, DeploymentError> {
        let mut records = Vec::new();
        for version in self.version_numbers(name)? {
            records.push(self.read_record(name, version)?);
        }
        Ok(records)
    }

    fn version_numbers(&self, name: &str) -> Result<Vec<u64>, DeploymentError> {
        let dir = self.worker_dir(name)?;
        if !dir.is_dir() {
            return Ok(Vec::new());
        }
        let mut numbers: Vec<u64> = read_dir(&dir)?
            .iter()
            .filter_map(|entry| entry.file_name().to_str().and_then(|n| n.strip_prefix('v')).and_then(|n| n.parse().ok()))
            .collect();
        numbers.sort_unstable();
        Ok(numbers)
    }

    /// The number the worker's next version gets.
    pub fn next_version(&self, name: &str) -> Result<u64, DeploymentError> {
        Ok(self.version_numbers(name)?.last().map_or(1, |last| last + 1))
    }

    fn read_record(&self, name: &str, version: u64) -> Result<VersionRecord, DeploymentError> {
        let path = self.worker_dir(name)?.join(format!("v{version}")).join("meta.json");
        let text = match fs::read(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(DeploymentError::NoSuchVersion { name: name.to_string(), version })
            }
            Err(error) => return Err(io("read", &path)(error)),
        };
        serde_json::from_slice(&text).map_err(|e| DeploymentError::Damaged { path, reason: e.to_string() })
    }

    /// Reads a whole version: record, modules and secrets.
    pub fn load(&self, name: &str, version: u64) -> Result<StoredVersion, DeploymentError> {
        let record = self.read_record(name, version)?;
        let dir = self.worker_dir(name)?.join(format!("v{version}"));
        let mut modules = BTreeMap::new();
        for module in &record.modules {
            if !is_plain_relative(module) {
                return Err(DeploymentError::Damaged {
                    path: dir.join("meta.json"),
                    reason: format!("module path {module:?} is not a plain relative path"),
                });
            }
            let path = dir.join("modules").join(module);
            modules.insert(module.clone(), fs::read(&path).map_err(io("read", &path))?);
        }
        let secrets_path = dir.join("secrets.json");
        let secrets: Vec<(String, SecretValue)> = match fs::read(&secrets_path) {
            // The parse error is replaced: serde's message could quote a value.
            Ok(text) => serde_json::from_slice(&text).map_err(|_| DeploymentError::Damaged {
                path: secrets_path.clone(),
                reason: "not a list of [name, value] pairs".into(),
            })?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(error) => return Err(io("read", &secrets_path)(error)),
        };
        Ok(StoredVersion { record, modules, secrets })
    }

    /// Writes a new version durably. Fails if the version exists.
    pub fn write_version(&self, name: &str, version: &StoredVersion) -> Result<(), DeploymentError> {
        let worker_dir = self.worker_dir(name)?;
        fs::create_dir_all(&worker_dir).map_err(io("create", &worker_dir))?;
        sync_dir(&self.workers_dir)?;
        let number = version.record.version;
        let target = worker_dir.join(format!("v{number}"));
        if target.exists() {
            return Err(DeploymentError::Io {
                action: "create",
                path: target,
                source: std::io::Error::from(std::io::ErrorKind::AlreadyExists),
            });
        }
        let temp = worker_dir.join(format!(".tmp-v{number}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&temp);
        let written = (|| {
            fs::create_dir(&temp).map_err(io("create", &temp))?;
            let modules_dir = temp.join("modules");
            fs::create_dir(&modules_dir).map_err(io("create", &modules_dir))?;
            let mut dirs = vec![temp.clone(), modules_dir.clone()];
            for (path, source) in &version.modules {
                let file = modules_dir.join(path);
                if let Some(parent) = file.parent() {
                    if !dirs.iter().any(|d| d == parent) {
                        fs::create_dir_all(parent).map_err(io("create", parent))?;
                        dirs.push(parent.to_path_buf());
                    }
                }
                write_synced(&file, source, 0o644)?;
            }
            let meta = serde_json::to_vec_pretty(&version.record)
                .map_err(|e| DeploymentError::Damaged { path: temp.join("meta.json"), reason: e.to_string() })?;
            write_synced(&temp.join("meta.json"), &meta, 0o644)?;
            let secrets = serde_json::to_vec(&version.secrets).map_err(|_| DeploymentError::Damaged {
                path: temp.join("secrets.json"),
                reason: "secrets could not be encoded".into(),
            })?;
            write_synced(&temp.join("secrets.json"), &secrets, 0o600)?;
            // Children before parents, so every directory entry is durable.
            dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
            for dir in &dirs {
                sync_dir(dir)?;
            }
            fs::rename(&temp, &target).map_err(io("rename into place", &target))?;
            sync_dir(&worker_dir)
        })();
        if written.is_err() {
            let _ = fs::remove_dir_all(&temp);
        }
        written
    }

    /// Makes `version` the worker's active one, durably.
    pub fn set_active(&self, name: &str, version: u64) -> Result<(), DeploymentError> {
        let worker_dir = self.worker_dir(name)?;
        let temp = worker_dir.join(format!(".tmp-active-{}", std::process::id()));
        let text = serde_json::to_vec(&ActivePointer { version })
            .map_err(|e| DeploymentError::Damaged { path: temp.clone(), reason: e.to_string() })?;
        write_synced(&temp, &text, 0o644)?;
        let target = worker_dir.join("active.json");
        fs::rename(&temp, &target).map_err(io("rename into place", &target))?;
        sync_dir(&worker_dir)
    }

    /// Removes the worker and all its versions. The directory is first
    /// renamed away (atomic), so a crash mid-removal never brings a
    /// half-deleted worker back.
    pub fn delete(&self, name: &str) -> Result<(), DeploymentError> {
        let worker_dir = self.worker_dir(name)?;
        if !worker_dir.exists() {
            return Err(DeploymentError::NoSuchWorker(name.to_string()));
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let trash = self.workers_dir.join(format!(".deleted-{name}-{nanos}"));
        fs::rename(&worker_dir, &trash).map_err(io("rename away", &worker_dir))?;
        sync_dir(&self.workers_dir)?;
        // A new worker of the same name must not find this one's cache.
        brink_runtime::api::cache::purge_worker(name);
        if let Err(error) = fs::remove_dir_all(&trash) {
            tracing::warn!(worker = %name, %error, path = %trash.display(), "could not remove a deleted worker's files; the next start retries");
        }
        Ok(())
    }
}

/// A relative path without `..`, `.`, empty or absolute components.
fn is_plain_relative(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && path.split('/').all(|part| !part.is_empty() && part != "." && part != "..")
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> DeploymentError {
    let path = path.to_path_buf();
    move |source| DeploymentError::Io { action, path, source }
}

fn read_dir(dir: &Path) -> Result<Vec<fs::DirEntry>, DeploymentError> {
    let entries = fs::read_dir(dir).map_err(io("list", dir))?;
    entries.collect::<Result<Vec<_>, _>>().map_err(io("list", dir))
}

fn write_synced(path: &Path, bytes: &[u8], mode: u32) -> Result<(), DeploymentError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).map_err(io("create", path))?;
    file.write_all(bytes).map_err(io("write", path))?;
    file.sync_all().map_err(io("sync", path))
}

fn sync_dir(dir: &Path) -> Result<(), DeploymentError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io("sync", dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(number: u64) -> StoredVersion {
        let mut modules = BTreeMap::new();
        modules.insert("worker.js".to_string(), b"export default {}".to_vec());
        modules.insert("lib/a.js".to_string(), b"export const a = 1".to_vec());
        StoredVersion {
            record: VersionRecord {
                version: number,
                created_ms: 1,
                entry: "worker.js".into(),
                modules: modules.keys().cloned().collect(),
                bytes: 35,
                routes: vec!["a.example".into()],
                vars: vec![("K".into(), "V".into())],
                secret_names: vec!["S".into()],
                kv: vec![KvBindingRecord { binding: "COUNTS".into(), namespace: None }],
                limits: LimitOverrides { cpu_ms: Some(10), ..LimitOverrides::default() },
                origin: Some("http://10.0.0.5:8080".into()),
            },
            modules,
            secrets: vec![("S".into(), SecretValue("hunter2".into()))],
        }
    }

    #[test]
    fn versions_round_trip_and_survive_reopening() {
        let dir = tempfile_dir();
        let store = DeploymentStore::open(&dir).unwrap();
        assert_eq!(store.next_version("a").unwrap(), 1);
        store.write_version("a", &version(1)).unwrap();
        store.set_active("a", 1).unwrap();
        store.write_version("a", &version(2)).unwrap();
        assert!(store.write_version("a", &version(2)).is_err(), "versions are immutable");
        let store = DeploymentStore::open(&dir).unwrap();
        assert_eq!(store.worker_names().unwrap(), vec!["a".to_string()]);
        assert_eq!(store.active("a").unwrap(), Some(1));
        assert_eq!(store.next_version("a").unwrap(), 3);
        let loaded = store.load("a", 2).unwrap();
        assert_eq!(loaded.record, version(2).record);
        assert_eq!(loaded.modules, version(2).modules);
        assert_eq!(loaded.secrets, version(2).secrets);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.join("workers/a/v2/secrets.json")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!fs::read_to_string(dir.join("workers/a/v2/meta.json")).unwrap().contains("hunter2"));
        store.delete("a").unwrap();
        assert!(store.worker_names().unwrap().is_empty());
        assert!(matches!(store.load("a", 1), Err(DeploymentError::NoSuchVersion { .. })));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn interrupted_writes_are_cleaned_up_at_open() {
        let dir = tempfile_dir();
        fs::create_dir_all(dir.join("workers/a/.tmp-v1-99/modules")).unwrap();
        fs::create_dir_all(dir.join("workers/.deleted-b-1/v1")).unwrap();
        let store = DeploymentStore::open(&dir).unwrap();
        assert!(!dir.join("workers/a/.tmp-v1-99").exists());
        assert!(!dir.join("workers/.deleted-b-1").exists());
        assert_eq!(store.next_version("a").unwrap(), 1);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn worker_names_are_checked() {
        for good in ["a", "hello-world", "w1", "0"] {
            assert!(validate_worker_name(good).is_ok(), "{good}");
        }
        for bad in ["", "A", "a_b", "-a", "a/b", "..", "a.b", &"x".repeat(41)] {
            assert!(validate_worker_name(bad).is_err(), "{bad}");
        }
        assert!(format!("{:?}", SecretValue("hunter2".into())).find("hunter2").is_none());
    }

    fn tempfile_dir() -> PathBuf {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let dir = std::env::temp_dir().join(format!("brink-deployments-test-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }
}
