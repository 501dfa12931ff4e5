//! Which KV backend a server runs on: the embedded store in the data
//! directory (default), or the replicated backend on a NATS JetStream
//! cluster (`[kv] backend = "nats"` in `brink serve`'s config file, or
//! `--kv-nats URL[,URL...]` on `brink dev` and `brink serve`).
//!
//! The worker-facing API is the same on both; see `docs/kv.md`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use brink_kv::{KvError, KvOptions, KvStore, NatsCredentials, NatsOptions};
use serde::Deserialize;

/// `[kv]` in the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KvSection {
    /// `"embedded"` (default) or `"nats"`.
    pub backend: Option<String>,
    /// `[kv.nats]`.
    #[serde(default)]
    pub nats: NatsSection,
}

/// `[kv.nats]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsSection {
    /// Server URLs.
    pub servers: Option<Vec<String>>,
    /// User name (with `password` or `password_file`).
    pub user: Option<String>,
    /// Password.
    pub password: Option<String>,
    /// A file holding the password.
    pub password_file: Option<PathBuf>,
    /// A file holding a token.
    pub token_file: Option<PathBuf>,
    /// A NATS `.creds` file.
    pub creds_file: Option<PathBuf>,
    /// Replicas of each namespace's stream: 1, 3 or 5.
    pub replicas: Option<usize>,
    /// This POP's name.
    pub pop: Option<String>,
    /// Milliseconds a request to the cluster may take.
    pub request_timeout_ms: Option<u64>,
}

/// The resolved choice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum KvBackendChoice {
    /// `DATA_DIR/kv.redb`.
    #[default]
    Embedded,
    /// NATS JetStream with a local index in the data directory.
    Nats(NatsSettings),
}

/// Settings of the replicated backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsSettings {
    /// Server URLs.
    pub servers: Vec<String>,
    /// How to authenticate.
    pub credentials: NatsCredentials,
    /// Stream replicas.
    pub replicas: usize,
    /// This POP's name.
    pub pop: String,
    /// Per-request timeout.
    pub request_timeout: Duration,
}

impl NatsSettings {
    /// Settings for `servers` with every default (R3, no credentials).
    pub fn new(servers: Vec<String>) -> NatsSettings {
        NatsSettings {
            servers,
            credentials: NatsCredentials::None,
            replicas: 3,
            pop: default_pop_name(),
            request_timeout: Duration::from_secs(5),
        }
    }
}

/// The POP name when none is configured: `BRINK_POP`, else the host name.
fn default_pop_name() -> String {
    std::env::var("BRINK_POP")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "pop".to_owned())
}

/// Splits `--kv-nats`'s `URL[,URL...]`; each must be a `nats://` (or
/// `tls://`) URL with a host.
pub fn parse_server_list(text: &str) -> Result<Vec<String>, String> {
    let servers: Vec<String> = text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
    if servers.is_empty() {
        return Err("expected one or more NATS URLs, comma-separated (nats://host:4222,...)".to_owned());
    }
    for server in &servers {
        let rest = server
            .strip_prefix("nats://")
            .or_else(|| server.strip_prefix("tls://"))
            .ok_or_else(|| format!("{server:?} is not a nats:// or tls:// URL"))?;
        if rest.rsplit('@').next().is_none_or(str::is_empty) {
            return Err(format!("{server:?} names no host"));
        }
    }
    Ok(servers)
}

/// `--kv-nats`'s value: the server URLs, split and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsServerList(pub Vec<String>);

/// Parses `--kv-nats URL[,URL...]` (see [`parse_server_list`]).
pub fn parse_server_arg(text: &str) -> Result<NatsServerList, String> {
    parse_server_list(text).map(NatsServerList)
}

/// The backend `brink dev` uses: NATS when `--kv-nats` was given.
pub fn dev_choice(servers: Option<NatsServerList>) -> KvBackendChoice {
    match servers {
        Some(list) => KvBackendChoice::Nats(NatsSettings::new(list.0)),
        None => KvBackendChoice::Embedded,
    }
}

fn read_secret(key: &str, path: &Path) -> Result<String, (String, String)> {
    let text = std::fs::read_to_string(path).map_err(|e| (key.to_owned(), format!("{}: {e}", path.display())))?;
    let secret = text.trim();
    if secret.is_empty() {
        return Err((key.to_owned(), format!("{} is empty", path.display())));
    }
    Ok(secret.to_owned())
}

impl KvSection {
    /// Resolves the section, with `--kv-nats` (already split) taking
    /// precedence over `kv.nats.servers`; either implies `backend = "nats"`
    /// unless the backend is set.
    /// Relative paths are relative to `base` (the config file's directory).
    /// The error is `(key, reason)`.
    pub fn resolve(self, base: &Path, cli_servers: Option<Vec<String>>) -> Result<KvBackendChoice, (String, String)> {
        let value_error = |key: &str, reason: &str| (key.to_owned(), reason.to_owned());
        let nats = match (self.backend.as_deref(), &cli_servers) {
            // Servers in the file without a backend mean NATS: silently
            // running on the embedded store instead would lose replication.
            (None, None) if self.nats.servers.is_none() => return Ok(KvBackendChoice::Embedded),
            (Some("embedded"), None) => return Ok(KvBackendChoice::Embedded),
            (Some("embedded"), Some(_)) => {
                return Err(value_error("kv.backend", "is \"embedded\" but --kv-nats was given"))
            }
            (None | Some("nats"), _) => self.nats,
            (Some(other), _) => {
                return Err(value_error("kv.backend", &format!("must be \"embedded\" or \"nats\", not {other:?}")))
            }
        };
        let servers = match cli_servers {
            Some(servers) => servers,
            None => match nats.servers {
                Some(list) => parse_server_list(&list.join(",")).map_err(|r| value_error("kv.nats.servers", &r))?,
                None => return Err(value_error("kv.nats.servers", "is required when kv.backend is \"nats\"")),
            },
        };
        let mut settings = NatsSettings::new(servers);
        let resolve_path = |path: PathBuf| if path.is_relative() { base.join(path) } else { path };
        let password = match (nats.password, nats.password_file) {
            (Some(_), Some(_)) => return Err(value_error("kv.nats.password", "give password or password_file, not both")),
            (Some(password), None) => Some(password),
            (None, Some(path)) => Some(read_secret("kv.nats.password_file", &resolve_path(path))?),
            (None, None) => None,
        };
        let token = nats.token_file.map(|p| read_secret("kv.nats.token_file", &resolve_path(p))).transpose()?;
        settings.credentials = match (nats.user, password, token, nats.creds_file) {
            (None, None, None, None) => NatsCredentials::None,
            (Some(user), Some(password), None, None) => NatsCredentials::UserPassword { user, password },
            (None, None, Some(token), None) => NatsCredentials::Token(token),
            (None, None, None, Some(path)) => NatsCredentials::CredsFile(resolve_path(path)),
            _ => {
                return Err(value_error(
                    "kv.nats",
                    "give exactly one of: user with password (or password_file), token_file, creds_file",
                ))
            }
        };
        if let Some(replicas) = nats.replicas {
            if ![1, 3, 5].contains(&replicas) {
                return Err(value_error("kv.nats.replicas", "must be 1, 3 or 5"));
            }
            settings.replicas = replicas;
        }
        if let Some(pop) = nats.pop {
            if pop.trim().is_empty() {
                return Err(value_error("kv.nats.pop", "must not be empty"));
            }
            settings.pop = pop;
        }
        match nats.request_timeout_ms {
            Some(0) => return Err(value_error("kv.nats.request_timeout_ms", "must be greater than 0")),
            Some(ms) => settings.request_timeout = Duration::from_millis(ms),
            None => {}
        }
        Ok(KvBackendChoice::Nats(settings))
    }
}

/// Opens the store `choice` names, keeping its files in `data_dir`.
pub fn open_store(choice: &KvBackendChoice, data_dir: &Path) -> Result<Arc<KvStore>, KvError> {
    match choice {
        KvBackendChoice::Embedded => KvStore::open(data_dir, KvOptions::default()),
        KvBackendChoice::Nats(settings) => {
            let mut options = NatsOptions::new(settings.servers.clone(), data_dir.to_owned());
            options.credentials = settings.credentials.clone();
            options.replicas = settings.replicas;
            options.pop = settings.pop.clone();
            options.request_timeout = settings.request_timeout;
            tracing::info!(pop = %settings.pop, servers = ?settings.servers, replicas = settings.replicas, "KV: replicated backend (NATS JetStream)");
            KvStore::open_nats(options, KvOptions::default())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(text: &str) -> KvSection {
        toml::from_str(text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn embedded_unless_nats_is_asked_for() {
        assert_eq!(KvSection::default().resolve(Path::new(""), None), Ok(KvBackendChoice::Embedded));
        let cli = parse_server_list("nats://a:4222, nats://b:4222").ok();
        let Ok(KvBackendChoice::Nats(settings)) = KvSection::default().resolve(Path::new(""), cli) else {
            panic!("--kv-nats selects nats");
        };
        assert_eq!(settings.servers, vec!["nats://a:4222", "nats://b:4222"]);
        assert_eq!(settings.replicas, 3);
    }

    #[test]
    fn file_settings_and_their_errors() {
        let choice = section(
            "backend = \"nats\"\n[nats]\nservers = [\"nats://x:1\"]\nuser = \"u\"\npassword = \"p\"\nreplicas = 5\npop = \"fra\"\n",
        )
        .resolve(Path::new(""), None);
        let Ok(KvBackendChoice::Nats(settings)) = choice else { panic!("{choice:?}") };
        assert_eq!(settings.credentials, NatsCredentials::UserPassword { user: "u".into(), password: "p".into() });
        assert_eq!((settings.replicas, settings.pop.as_str()), (5, "fra"));

        let key_of = |text: &str| section(text).resolve(Path::new(""), None).err().map(|(key, _)| key);
        assert_eq!(key_of("backend = \"nats\"").as_deref(), Some("kv.nats.servers"));
        assert_eq!(key_of("backend = \"etcd\"").as_deref(), Some("kv.backend"));
        assert_eq!(key_of("backend = \"nats\"\n[nats]\nservers = [\"http://x\"]").as_deref(), Some("kv.nats.servers"));
        assert_eq!(key_of("[nats]\nservers = [\"nats://x:1\"]\nreplicas = 2").as_deref(), Some("kv.nats.replicas"));
        assert_eq!(key_of("[nats]\nservers = [\"nats://x:1\"]\nuser = \"u\"").as_deref(), Some("kv.nats"));
        assert!(toml::from_str::<KvSection>("[nats]\nserver = []").is_err(), "unknown keys are refused");
        assert!(parse_server_list("").is_err());
        assert!(parse_server_list("nats://").is_err());
    }
}
