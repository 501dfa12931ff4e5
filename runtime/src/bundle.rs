//! A worker version's code as one immutable, in-memory bundle: the entry
//! module and every module it imports, keyed by relative path. Isolates load
//! from the bundle, never from disk, so a replacement isolate runs exactly
//! the code its version was deployed with, and rollback is a pointer switch.
//!
//! Modules are addressed as `file:///bundle/<path>`; an import resolves only
//! to another module of the same bundle (no other files, no network).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// Where bundled modules live in the module graph.
pub const BUNDLE_ROOT: &str = "file:///bundle/";

/// Most modules one bundle may hold.
pub const MAX_MODULES: usize = 1000;

/// Largest total size of one bundle's modules.
pub const MAX_BUNDLE_BYTES: usize = 64 * 1024 * 1024;

/// Why a bundle could not be made.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// A module file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// An import names a module that does not exist.
    #[error("{importer}:{line}: imported module {specifier:?} not found")]
    MissingImport {
        /// The importing module (bundle path).
        importer: String,
        /// Line of the import.
        line: usize,
        /// The specifier as written.
        specifier: String,
    },
    /// An import leaves the worker's directory or names a non-relative
    /// module (a URL, `node:`, a bare package name).
    #[error("{importer}:{line}: import {specifier:?} is outside the worker's directory (workers can import only their own module files)")]
    DisallowedImport {
        /// The importing module (bundle path).
        importer: String,
        /// Line of the import.
        line: usize,
        /// The specifier as written.
        specifier: String,
    },
    /// A module path is not a plain relative path.
    #[error("invalid module path {0:?}: it must be relative, without `..`")]
    InvalidPath(String),
    /// The entry module is not part of the bundle.
    #[error("the entry module {0:?} is not in the bundle")]
    MissingEntry(String),
    /// Too many modules or too many bytes.
    #[error("the worker's code is too large: {0}")]
    TooLarge(String),
}

/// A worker version's modules.
#[derive(Debug, Clone)]
pub struct ModuleBundle {
    entry: String,
    modules: BTreeMap<String, Arc<[u8]>>,
}

impl ModuleBundle {
    /// A bundle of `modules` (relative path → source) with `entry` as the
    /// main module.
    pub fn new(entry: impl Into<String>, modules: BTreeMap<String, Vec<u8>>) -> Result<ModuleBundle, BundleError> {
        let entry = entry.into();
        if modules.len() > MAX_MODULES {
            return Err(BundleError::TooLarge(format!("{} modules (at most {MAX_MODULES})", modules.len())));
        }
        let total: usize = modules.values().map(Vec::len).sum();
        if total > MAX_BUNDLE_BYTES {
            return Err(BundleError::TooLarge(format!("{total} bytes (at most {MAX_BUNDLE_BYTES})")));
        }
        let mut checked = BTreeMap::new();
        for (path, source) in modules {
            let normal = normalize(&path).ok_or_else(|| BundleError::InvalidPath(path.clone()))?;
            checked.insert(normal, Arc::from(source.into_boxed_slice()));
        }
        let entry = normalize(&entry).ok_or_else(|| BundleError::InvalidPath(entry.clone()))?;
        if !checked.contains_key(&entry) {
            return Err(BundleError::MissingEntry(entry));
        }
        Ok(ModuleBundle { entry, modules: checked })
    }

    /// Reads `entry` and, transitively, every module it imports by relative
    /// path. An import that leaves the entry's directory, or names no file,
    /// fails with the importing file and line.
    pub fn from_entry_file(entry: &Path) -> Result<ModuleBundle, BundleError> {
        let read = |path: &Path| std::fs::read(path).map_err(|source| BundleError::Read { path: path.to_path_buf(), source });
        let canonical = std::fs::canonicalize(entry).map_err(|source| BundleError::Read { path: entry.to_path_buf(), source })?;
        let root = canonical.parent().map(Path::to_path_buf).unwrap_or_default();
        let entry_name = file_name(&canonical);
        let mut modules = BTreeMap::new();
        let mut pending = vec![entry_name.clone()];
        while let Some(path) = pending.pop() {
            if modules.contains_key(&path) {
                continue;
            }
            let source = read(&root.join(&path))?;
            if is_javascript(&path) {
                let text = String::from_utf8_lossy(&source);
                for import in scan_imports(&text) {
                    let target = resolve_relative(&path, &import.specifier).ok_or_else(|| BundleError::DisallowedImport {
                        importer: path.clone(),
                        line: import.line,
                        specifier: import.specifier.clone(),
                    })?;
                    if !root.join(&target).is_file() {
                        return Err(BundleError::MissingImport {
                            importer: path.clone(),
                            line: import.line,
                            specifier: import.specifier,
                        });
                    }
                    pending.push(target);
                }
            }
            modules.insert(path, source);
            if modules.len() > MAX_MODULES {
                return Err(BundleError::TooLarge(format!("more than {MAX_MODULES} modules")));
            }
        }
        ModuleBundle::new(entry_name, modules)
    }

    /// The entry module's path.
    pub fn entry(&self) -> &str {
        &self.entry
    }

    /// The entry module's source.
    pub fn entry_source(&self) -> &[u8] {
        self.modules.get(&self.entry).map(|source| &source[..]).unwrap_or_default()
    }

    /// A module's source, by bundle path.
    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.modules.get(path).map(|source| &source[..])
    }

    /// Every module: (path, source).
    pub fn modules(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.modules.iter().map(|(path, source)| (path.as_str(), &source[..]))
    }

    /// Total size of the modules in bytes.
    pub fn total_bytes(&self) -> usize {
        self.modules.values().map(|source| source.len()).sum()
    }

    /// The module specifier of a bundle path.
    pub fn specifier(path: &str) -> String {
        format!("{BUNDLE_ROOT}{path}")
    }

    /// The bundle path of a module specifier, if it names one.
    pub fn path_of(specifier: &str) -> Option<&str> {
        specifier.strip_prefix(BUNDLE_ROOT)
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default()
}

fn is_javascript(path: &str) -> bool {
    [".js", ".mjs", ".cjs"].iter().any(|extension| path.ends_with(extension))
}

/// `a/./b/c.js` → `a/b/c.js`; `None` for absolute paths and `..` that would
/// leave the root.
fn normalize(path: &str) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for component in Path::new(path).components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str()?.to_string()),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// Resolves `specifier` imported from bundle path `importer`; `None` unless
/// it is a relative path that stays inside the bundle.
fn resolve_relative(importer: &str, specifier: &str) -> Option<String> {
    if !(specifier.starts_with("./") || specifier.starts_with("../")) {
        return None;
    }
    let directory = importer.rsplit_once('/').map(|(directory, _)| directory).unwrap_or("");
    normalize(&format!("{directory}/{specifier}").trim_start_matches('/').to_string())
}

/// One import found in a module's source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRef {
    /// The specifier as written.
    pub specifier: String,
    /// 1-based line.
    pub line: usize,
}

/// The specifiers a module imports: `import … from "x"`, `import "x"`,
/// `export … from "x"` and `import("x")` with a string literal. Comments and
/// other string literals are skipped, so a specifier mentioned in a comment
/// is not an import.
pub fn scan_imports(source: &str) -> Vec<ImportRef> {
    let bytes = source.as_bytes();
    let mut imports = Vec::new();
    let mut i = 0;
    let mut line = 1;
    // The last keyword seen at statement level and whether a `from` follows.
    let mut pending: Option<&'static str> = None;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\n' => {
                line += 1;
                i += 1;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                    if bytes[i] == b'\n' {
                        line += 1;
                    }
                    i += 1;
                }
                i += 2;
            }
            b'"' | b'\'' | b'`' => {
                let start_line = line;
                let quote = c;
                let start = i + 1;
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    if bytes[i] == b'\\' {
                        i += 1;
                    } else if bytes[i] == b'\n' {
                        line += 1;
                    }
                    i += 1;
                }
                let literal = &source[start.min(source.len())..i.min(source.len())];
                i += 1;
                if quote != b'`' && pending.take() == Some("module") {
                    imports.push(ImportRef { specifier: literal.to_string(), line: start_line });
                }
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c == b'$' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'$') {
                    i += 1;
                }
                let preceded_by_dot = start > 0 && bytes[start - 1] == b'.';
                match &source[start..i] {
                    "import" if !preceded_by_dot => {
                        // `import "x"`, `import(…"x")` or `import … from "x"`.
                        let rest = source[i..].trim_start();
                        if rest.starts_with('"') || rest.starts_with('\'') || rest.starts_with('(') {
                            pending = Some("module");
                        } else {
                            pending = Some("from");
                        }
                    }
                    "export" if !preceded_by_dot => pending = Some("from"),
                    "from" if pending == Some("from") => pending = Some("module"),
                    _ => {}
                }
            }
            b';' => {
                pending = None;
                i += 1;
            }
            _ => i += 1,
        }
    }
    imports
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specifiers(source: &str) -> Vec<String> {
        scan_imports(source).into_iter().map(|import| import.specifier).collect()
    }

    #[test]
    fn finds_static_dynamic_and_reexports() {
        let source = r#"
import a from "./a.js";
import { b, c } from './b.js';
import "./side-effect.js";
import * as d from "./d.js" with { type: "json" };
export { e } from "./e.js";
export * from "./f.js";
const g = await import("./g.js");
// import nope from "./comment.js";
/* import "./block.js"; */
const text = "import x from './string.js'";
export default { fetch() {} };
"#;
        assert_eq!(
            specifiers(source),
            ["./a.js", "./b.js", "./side-effect.js", "./d.js", "./e.js", "./f.js", "./g.js"]
        );
    }

    #[test]
    fn reports_lines() {
        let imports = scan_imports("// one\n\nimport x from \"./x.js\";\n");
        assert_eq!(imports, vec![ImportRef { specifier: "./x.js".into(), line: 3 }]);
    }

    #[test]
    fn resolves_only_inside_the_bundle() {
        assert_eq!(resolve_relative("worker.js", "./lib/a.js").as_deref(), Some("lib/a.js"));
        assert_eq!(resolve_relative("lib/a.js", "./b.js").as_deref(), Some("lib/b.js"));
        assert_eq!(resolve_relative("lib/a.js", "../c.js").as_deref(), Some("c.js"));
        assert_eq!(resolve_relative("worker.js", "../escape.js"), None);
        assert_eq!(resolve_relative("worker.js", "node:fs"), None);
        assert_eq!(resolve_relative("worker.js", "https://example.com/x.js"), None);
        assert_eq!(resolve_relative("worker.js", "lodash"), None);
    }

    #[test]
    fn bundles_need_their_entry_and_relative_paths() {
        let mut modules = BTreeMap::new();
        modules.insert("worker.js".to_string(), b"export default {}".to_vec());
        assert!(ModuleBundle::new("worker.js", modules.clone()).is_ok());
        assert!(matches!(ModuleBundle::new("other.js", modules.clone()), Err(BundleError::MissingEntry(_))));
        modules.insert("/etc/passwd".to_string(), Vec::new());
        assert!(matches!(ModuleBundle::new("worker.js", modules), Err(BundleError::InvalidPath(_))));
    }
}
