//! `brink kv get|put|delete|list`: operate on a local embedded store, or,
//! with `--admin URL`, on a running server's store through its admin API.
//! A local store file is locked by a running `brink`; the local commands
//! then refuse with a message saying so rather than risk the data. Reading
//! commands never create a store: on a missing data directory they say so
//! and leave the file system as it was.

use std::io::Write;
use std::path::Path;

use brink_kv::{KvError, KvOptions, KvStore, ListOptions, PutOptions};
use bytes::Bytes;

/// One `brink kv` operation.
#[derive(Debug)]
pub enum KvCommand {
    /// Print a value (raw bytes) to stdout.
    Get { key: String },
    /// Store a value.
    Put { key: String, value: Bytes, options: PutOptions },
    /// Delete a key.
    Delete { key: String },
    /// Print keys (one JSON object per line).
    List { prefix: Option<String>, limit: Option<usize> },
}

/// Why a `brink kv` command failed.
#[derive(Debug, thiserror::Error)]
pub enum KvCliError {
    /// The store refused.
    #[error(transparent)]
    Kv(#[from] KvError),
    /// The key does not exist.
    #[error("key {0:?} not found")]
    NotFound(String),
    /// Writing the output failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The server's admin API refused or could not be reached.
    #[error(transparent)]
    Remote(#[from] crate::admin_client::AdminClientError),
}

/// Runs `command` on namespace `namespace` of the store of the server that
/// `client` talks to, writing what [`run`] would write.
pub async fn run_remote(
    client: &crate::admin_client::AdminClient,
    namespace: &str,
    command: KvCommand,
    out: &mut dyn Write,
) -> Result<(), KvCliError> {
    match command {
        KvCommand::Get { key } => {
            let value = client.kv_get(namespace, &key).await?.ok_or(KvCliError::NotFound(key))?;
            out.write_all(&value)?;
        }
        KvCommand::Put { key, value, options } => {
            let answer = client
                .kv_put(namespace, &key, value.to_vec(), options.expiration_ttl, options.metadata.as_deref())
                .await?;
            writeln!(out, "stored {key} (version {})", answer["version"])?;
        }
        KvCommand::Delete { key } => {
            client.kv_delete(namespace, &key).await?;
            writeln!(out, "deleted {key}")?;
        }
        KvCommand::List { prefix, limit } => {
            let mut cursor: Option<String> = None;
            let mut remaining = limit;
            loop {
                let page_limit = remaining.map(|r| r.min(1000));
                let page = client.kv_list(namespace, prefix.as_deref(), page_limit, cursor.as_deref()).await?;
                let keys = page["keys"].as_array().cloned().unwrap_or_default();
                for key in &keys {
                    writeln!(out, "{key}")?;
                }
                if let Some(r) = remaining.as_mut() {
                    *r = r.saturating_sub(keys.len());
                }
                if page["list_complete"].as_bool() != Some(false) || remaining == Some(0) {
                    break;
                }
                cursor = page["cursor"].as_str().map(String::from);
            }
        }
    }
    Ok(())
}

/// Runs `command` on namespace `namespace` of the store in `data_dir`,
/// writing results to `out`.
pub fn run(data_dir: &Path, namespace: &str, command: KvCommand, out: &mut dyn Write) -> Result<(), KvCliError> {
    let options = KvOptions { cache_max_bytes: 0, reclaim_interval: std::time::Duration::ZERO };
    let store = match command {
        KvCommand::Get { .. } | KvCommand::List { .. } => KvStore::open_existing(data_dir, options)?,
        KvCommand::Put { .. } | KvCommand::Delete { .. } => KvStore::open(data_dir, options)?,
    };
    let namespace = store.blocking_namespace(namespace)?;
    match command {
        KvCommand::Get { key } => {
            let entry = namespace.get(&key, None)?.ok_or(KvCliError::NotFound(key))?;
            out.write_all(&entry.value)?;
        }
        KvCommand::Put { key, value, options } => {
            let version = namespace.put(&key, value, options)?;
            writeln!(out, "stored {key} (version {version})")?;
        }
        KvCommand::Delete { key } => {
            namespace.delete(&key)?;
            writeln!(out, "deleted {key}")?;
        }
        KvCommand::List { prefix, limit } => {
            let mut cursor = None;
            let mut remaining = limit;
            loop {
                let page_limit = remaining.map(|r| r.min(1000));
                let page = namespace.list(ListOptions { prefix: prefix.clone(), limit: page_limit, cursor })?;
                for key in &page.keys {
                    let line = serde_json::json!({
                        "name": key.name,
                        "expiration": key.expiration,
                        "metadata": key.metadata.as_deref().and_then(|m| serde_json::from_str::<serde_json::Value>(m).ok()),
                    });
                    writeln!(out, "{line}")?;
                }
                if let Some(r) = remaining.as_mut() {
                    *r = r.saturating_sub(page.keys.len());
                }
                if page.list_complete || remaining == Some(0) {
                    break;
                }
                cursor = page.cursor;
            }
        }
    }
    Ok(())
}
