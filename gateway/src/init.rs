//! Worker projects: `brink init DIR` creates one (a TypeScript entry,
//! `brink.toml`, a README, a test against `brink dev`), and `brink dev` /
//! `brink deploy` without an entry file read its `brink.toml`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The project file's name.
pub const PROJECT_FILE: &str = "brink.toml";

/// Why a project could not be created or read.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// `brink init` would overwrite something.
    #[error("{0} exists and is not empty; brink init only creates new projects")]
    NotEmpty(PathBuf),
    /// The name is not a worker name.
    #[error("{0} (pass --name)")]
    InvalidName(crate::deployments::DeploymentError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `brink.toml` does not parse.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// What `brink.toml` holds: the keys of a `[[workers]]` entry of `brink
/// serve`'s config (docs/config.md), at top level.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    /// The worker's name.
    pub name: String,
    /// Its entry module, relative to the project directory.
    pub entry: PathBuf,
    /// Route patterns (for `brink deploy`).
    #[serde(default)]
    pub routes: Vec<String>,
    /// Plain-text bindings.
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// KV bindings, `BINDING` or `BINDING=NAMESPACE`.
    #[serde(default)]
    pub kv: Vec<String>,
}

impl Project {
    /// Reads `DIR/brink.toml`; the entry comes back joined to `dir`.
    pub fn load(dir: &Path) -> Result<Project, ProjectError> {
        let path = dir.join(PROJECT_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| ProjectError::Io { path: path.clone(), source })?;
        let mut project: Project =
            toml::from_str(&text).map_err(|error| ProjectError::Parse { path: path.clone(), message: error.to_string() })?;
        project.entry = dir.join(&project.entry);
        Ok(project)
    }
}

/// The template's files: (path in the project, contents with `{{name}}`
/// and `{{version}}` to fill in).
const TEMPLATE: &[(&str, &str)] = &[
    ("src/index.ts", include_str!("../templates/init/src/index.ts")),
    ("brink.toml", include_str!("../templates/init/brink.toml")),
    ("README.md", include_str!("../templates/init/README.md")),
    ("test/index.test.mjs", include_str!("../templates/init/test/index.test.mjs")),
    ("package.json", include_str!("../templates/init/package.json")),
    ("tsconfig.json", include_str!("../templates/init/tsconfig.json")),
    (".gitignore", include_str!("../templates/init/gitignore")),
];

/// Creates a worker project in `dir` (which must not exist or be empty),
/// named `name` or after the directory. Returns the files written.
pub fn create(dir: &Path, name: Option<&str>) -> Result<Vec<PathBuf>, ProjectError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ProjectError::Io { path, source }
    };
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir).map_err(io(dir))?;
        if entries.next().is_some() {
            return Err(ProjectError::NotEmpty(dir.to_path_buf()));
        }
    }
    let name = match name {
        Some(name) => name.to_string(),
        None => default_name(dir),
    };
    crate::deployments::validate_worker_name(&name).map_err(ProjectError::InvalidName)?;
    let mut written = Vec::new();
    for (relative, contents) in TEMPLATE {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        let text = contents.replace("{{name}}", &name).replace("{{version}}", env!("CARGO_PKG_VERSION"));
        std::fs::write(&path, text).map_err(io(&path))?;
        written.push(path);
    }
    Ok(written)
}

/// The directory's name, lowercased, with anything but a-z, 0-9 and `-`
/// turned into `-`.
fn default_name(dir: &Path) -> String {
    let base = std::fs::canonicalize(dir)
        .ok()
        .and_then(|path| path.file_name().map(|name| name.to_string_lossy().into_owned()))
        .or_else(|| dir.file_name().map(|name| name.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let name: String = base
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() { c } else { '-' })
        .collect();
    name.trim_matches('-').chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_directory() {
        assert_eq!(default_name(Path::new("/tmp/My Worker_2")), "my-worker-2");
    }
}
