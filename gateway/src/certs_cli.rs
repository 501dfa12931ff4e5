//! `brink certs put|list|delete`: a running server's TLS certificates,
//! through its admin API (`/v1/certificates`). The key file is read here
//! and sent once; nothing ever prints it.

use std::path::Path;

use http::Method;
use serde_json::{json, Value};

use crate::admin_client::{field, table, AdminClient, AdminClientError};

/// Why a `brink certs` command failed.
#[derive(Debug, thiserror::Error)]
pub enum CertsCliError {
    /// A PEM file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The server refused or could not be reached.
    #[error(transparent)]
    Admin(#[from] AdminClientError),
}

fn path_of(host: &str) -> String {
    let host = percent_encoding::utf8_percent_encode(host, percent_encoding::NON_ALPHANUMERIC);
    format!("/v1/certificates/{host}")
}

fn read(path: &Path) -> Result<String, CertsCliError> {
    std::fs::read_to_string(path).map_err(|source| CertsCliError::Read { path: path.to_path_buf(), source })
}

/// Uploads `cert` (the chain, leaf first) and `key` for `host`; the
/// server checks them and answers the certificate's details.
pub async fn put(client: &AdminClient, host: &str, cert: &Path, key: &Path) -> Result<Value, CertsCliError> {
    let body = json!({ "cert": read(cert)?, "key": read(key)? });
    Ok(client.call(Method::PUT, &path_of(host), Some(body)).await?)
}

/// Every certificate of the server.
pub async fn list(client: &AdminClient) -> Result<Value, CertsCliError> {
    Ok(client.call(Method::GET, "/v1/certificates", None).await?)
}

/// Deletes `host`'s certificate.
pub async fn delete(client: &AdminClient, host: &str) -> Result<Value, CertsCliError> {
    Ok(client.call(Method::DELETE, &path_of(host), None).await?)
}

/// `brink certs list` as a table.
pub fn render_certificates(certificates: &Value) -> String {
    let rows: Vec<Vec<String>> = certificates
        .as_array()
        .map(|certificates| {
            certificates
                .iter()
                .map(|c| {
                    let default = if c.get("default").and_then(Value::as_bool) == Some(true) { "*" } else { "" };
                    vec![field(c, "host"), field(c, "expires"), default.to_string(), field(c, "issuer")]
                })
                .collect()
        })
        .unwrap_or_default();
    table(&["HOST", "EXPIRES", "DEFAULT", "ISSUER"], rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_shows_host_expiry_and_issuer() {
        let list = json!([{ "host": "*.a.test", "expires": "2030-01-01T00:00:00Z", "issuer": "CN=Test CA", "default": true }]);
        assert_eq!(
            render_certificates(&list),
            "HOST      EXPIRES               DEFAULT  ISSUER\n*.a.test  2030-01-01T00:00:00Z  *        CN=Test CA\n"
        );
        assert_eq!(path_of("*.a.test"), "/v1/certificates/%2A%2Ea%2Etest");
    }
}
