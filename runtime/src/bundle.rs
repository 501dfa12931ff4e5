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

use crate::typescript;

/// Where bundled modules live in the module graph.
pub const BUNDLE_ROOT: &str = "file:///bundle/";

/// Most modules one bundle may hold.
pub const MAX_MODULES: usize = 1000;

/// Largest total size of one bundle's modules.
pub const MAX_BUNDLE_BYTES: usize = 64 * 1024 * 1024;

/// The file extensions a bundle takes, by Workers' default module rules
/// (plus TypeScript, which Brink strips to JavaScript).
pub const MODULE_EXTENSIONS: &str = ".js .mjs .ts .mts .json .txt .html .bin .wasm";

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
    /// An import names a file of a type no module rule covers.
    #[error("{importer}:{line}: cannot import {specifier:?}: no module rule for this file type (modules are {MODULE_EXTENSIONS})")]
    NoModuleRule {
        /// The importing module (bundle path).
        importer: String,
        /// Line of the import.
        line: usize,
        /// The specifier as written.
        specifier: String,
    },
    /// A module in an uploaded bundle has a type no module rule covers.
    #[error("module {0:?} has no module rule for its file type (modules are {MODULE_EXTENSIONS})")]
    UnknownModuleType(String),
    /// A TypeScript module does not parse.
    #[error(transparent)]
    TypeScript(#[from] typescript::TranspileError),
    /// A JSON module does not parse.
    #[error("{path}:{line}:{column}: invalid JSON: {message}")]
    Json {
        /// The module (bundle path).
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A `.wasm` module is not WebAssembly.
    #[error("{0}: not a WebAssembly module (no \\0asm header)")]
    NotWasm(String),
    /// A module path is not a plain relative path.
    #[error("invalid module path {0:?}: it must be relative, without `..`")]
    InvalidPath(String),
    /// The entry module is not part of the bundle.
    #[error("the entry module {0:?} is not in the bundle")]
    MissingEntry(String),
    /// The entry module is not JavaScript or TypeScript.
    #[error("the entry module {0:?} must be JavaScript or TypeScript (.js, .mjs, .ts, .mts)")]
    EntryNotCode(String),
    /// No thread could be started to make the modules ready.
    #[error("the worker's modules could not be prepared (no thread for the transform)")]
    NoTransformThread,
    /// Too many modules or too many bytes.
    #[error("the worker's code is too large: {0}")]
    TooLarge(String),
}

/// What a module file is, by its extension (Workers' default rules:
/// `ESModule` for `.js`/`.mjs`, `Text` for `.txt`/`.html`, `Data` for
/// `.bin`, `CompiledWasm` for `.wasm`; JSON; and TypeScript).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleKind {
    /// An ES module (or a service-worker script as the entry).
    JavaScript,
    /// A TypeScript module: its types are stripped when the bundle is made.
    TypeScript,
    /// Parsed JSON as the default export.
    Json,
    /// The file's text as a string.
    Text,
    /// The file's bytes as an `ArrayBuffer`.
    Data,
    /// A compiled `WebAssembly.Module`.
    Wasm,
}

impl ModuleKind {
    /// The kind of the module at `path`; `None` if no rule covers it.
    pub fn of(path: &str) -> Option<ModuleKind> {
        if typescript::is_typescript(path) {
            return Some(ModuleKind::TypeScript);
        }
        let extension = path.rsplit_once('.').map(|(_, extension)| extension)?;
        Some(match extension {
            "js" | "mjs" | "cjs" => ModuleKind::JavaScript,
            "json" => ModuleKind::Json,
            "txt" | "html" => ModuleKind::Text,
            "bin" => ModuleKind::Data,
            "wasm" => ModuleKind::Wasm,
            _ => return None,
        })
    }

    /// Whether modules of this kind are code that can import others.
    pub fn is_code(self) -> bool {
        matches!(self, ModuleKind::JavaScript | ModuleKind::TypeScript)
    }
}

/// One module of a bundle, ready to load.
#[derive(Debug)]
struct Module {
    kind: ModuleKind,
    /// The file as written (what a deploy uploads and stores).
    source: Arc<[u8]>,
    /// What the engine runs when the module is imported: the source for
    /// JavaScript, the stripped output for TypeScript, and for the other
    /// kinds a one-line module that imports the file with a type attribute
    /// and exports its value as Workers does.
    code: Arc<[u8]>,
    /// For TypeScript: the source map from `code` back to `source`.
    source_map: Option<Arc<[u8]>>,
    /// The modules `code` imports (lines in `source`).
    imports: Vec<ImportRef>,
}

/// A worker version's modules.
#[derive(Debug, Clone)]
pub struct ModuleBundle {
    entry: String,
    modules: Arc<BTreeMap<String, Module>>,
}

impl ModuleBundle {
    /// A bundle of `modules` (relative path → source) with `entry` as the
    /// main module. TypeScript is stripped to JavaScript here, and every
    /// import must resolve to a module of the bundle.
    pub fn new(entry: impl Into<String>, modules: BTreeMap<String, Vec<u8>>) -> Result<ModuleBundle, BundleError> {
        let entry = entry.into();
        check_size(modules.len(), modules.values().map(Vec::len).sum())?;
        let started = std::time::Instant::now();
        let prepare_all = || -> Result<BTreeMap<String, Module>, BundleError> {
            let mut prepared = BTreeMap::new();
            for (path, source) in modules {
                let normal = normalize(&path).ok_or_else(|| BundleError::InvalidPath(path.clone()))?;
                let module = prepare(&normal, source)?;
                prepared.insert(normal, module);
            }
            Ok(prepared)
        };
        let prepared = typescript::on_transform_stack(prepare_all).ok_or(BundleError::NoTransformThread)??;
        let transformed = started.elapsed();
        let entry = normalize(&entry).ok_or_else(|| BundleError::InvalidPath(entry.clone()))?;
        ModuleBundle::from_prepared(entry, prepared, transformed)
    }

    /// Reads `entry` and, transitively, every module it imports by relative
    /// path. An import that leaves the entry's directory, or names no file,
    /// fails with the importing file and line.
    pub fn from_entry_file(entry: &Path) -> Result<ModuleBundle, BundleError> {
        typescript::on_transform_stack(|| ModuleBundle::read_entry_file(entry)).ok_or(BundleError::NoTransformThread)?
    }

    fn read_entry_file(entry: &Path) -> Result<ModuleBundle, BundleError> {
        let (root, entry_name) = entry_root(entry)?;
        let mut modules: BTreeMap<String, Module> = BTreeMap::new();
        let mut pending = vec![entry_name.clone()];
        let mut total = 0;
        let mut transformed = std::time::Duration::ZERO;
        while let Some(path) = pending.pop() {
            if modules.contains_key(&path) {
                continue;
            }
            let file = root.join(&path);
            let source = std::fs::read(&file).map_err(|source| BundleError::Read { path: file, source })?;
            total += source.len();
            check_size(modules.len() + 1, total)?;
            let started = std::time::Instant::now();
            let module = prepare(&path, source)?;
            transformed += started.elapsed();
            for import in &module.imports {
                pending.push(resolve_checked(&path, import, |target| root.join(target).is_file())?);
            }
            modules.insert(path, module);
        }
        ModuleBundle::from_prepared(entry_name, modules, transformed)
    }

    /// `transformed`: the time spent making the modules ready (stripping
    /// TypeScript, checking JSON), for the log.
    fn from_prepared(
        entry: String,
        modules: BTreeMap<String, Module>,
        transformed: std::time::Duration,
    ) -> Result<ModuleBundle, BundleError> {
        match modules.get(&entry) {
            None => return Err(BundleError::MissingEntry(entry)),
            Some(module) if !module.kind.is_code() => return Err(BundleError::EntryNotCode(entry)),
            Some(_) => {}
        }
        for (path, module) in &modules {
            for import in &module.imports {
                resolve_checked(path, import, |target| modules.contains_key(target))?;
            }
        }
        tracing::debug!(
            entry = %entry,
            modules = modules.len(),
            typescript = modules.values().filter(|m| m.kind == ModuleKind::TypeScript).count(),
            transform_us = transformed.as_micros() as u64,
            "bundle made"
        );
        Ok(ModuleBundle { entry, modules: Arc::new(modules) })
    }

    /// The entry module's path.
    pub fn entry(&self) -> &str {
        &self.entry
    }

    /// The entry module's code, as the engine runs it.
    pub fn entry_source(&self) -> &[u8] {
        self.get(&self.entry).unwrap_or_default()
    }

    /// A module's code as the engine runs it (TypeScript stripped), by
    /// bundle path.
    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.modules.get(path).map(|module| &module.code[..])
    }

    /// A module's file as written, by bundle path.
    pub fn source(&self, path: &str) -> Option<&[u8]> {
        self.modules.get(path).map(|module| &module.source[..])
    }

    /// A TypeScript module's source map (JSON), by bundle path.
    pub fn source_map(&self, path: &str) -> Option<&[u8]> {
        self.modules.get(path)?.source_map.as_deref()
    }

    /// A module's kind, by bundle path.
    pub fn kind(&self, path: &str) -> Option<ModuleKind> {
        self.modules.get(path).map(|module| module.kind)
    }

    /// Every module's file as written: (path, source). This is what a
    /// deploy uploads: the server strips TypeScript itself.
    pub fn modules(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.modules.iter().map(|(path, module)| (path.as_str(), &module.source[..]))
    }

    /// Total size of the modules' files in bytes.
    pub fn total_bytes(&self) -> usize {
        self.modules.values().map(|module| module.source.len()).sum()
    }

    /// Resolves `specifier` imported from bundle path `importer` to the
    /// bundle path of a module of this bundle, as the bundle was checked.
    pub fn resolve(&self, importer: &str, specifier: &str) -> Option<String> {
        match resolve_specifier(importer, specifier, |target| self.modules.contains_key(target)) {
            Resolution::Found(path) => Some(path),
            _ => None,
        }
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

/// The directory an entry file's imports are confined to, and the entry's
/// name in it.
fn entry_root(entry: &Path) -> Result<(PathBuf, String), BundleError> {
    let canonical = std::fs::canonicalize(entry).map_err(|source| BundleError::Read { path: entry.to_path_buf(), source })?;
    let root = canonical.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok((root, file_name(&canonical)))
}

/// Every file of `entry`'s module graph on disk (what `brink dev` watches).
/// Files that fail to read or parse end the walk there; the graph found so
/// far is returned, so an edit that fixes them is still seen.
pub fn module_files(entry: &Path) -> Vec<PathBuf> {
    typescript::on_transform_stack(|| walk_module_files(entry)).unwrap_or_else(|| vec![entry.to_path_buf()])
}

fn walk_module_files(entry: &Path) -> Vec<PathBuf> {
    let Ok((root, entry_name)) = entry_root(entry) else {
        return vec![entry.to_path_buf()];
    };
    let mut seen = std::collections::BTreeSet::new();
    let mut pending = vec![entry_name];
    while let Some(path) = pending.pop() {
        if !seen.insert(path.clone()) || seen.len() > MAX_MODULES {
            continue;
        }
        let Ok(source) = std::fs::read(root.join(&path)) else { continue };
        let Ok(module) = prepare(&path, source) else { continue };
        for import in &module.imports {
            if let Resolution::Found(target) = resolve_specifier(&path, &import.specifier, |t| root.join(t).is_file()) {
                pending.push(target);
            }
        }
    }
    seen.into_iter().map(|path| root.join(path)).collect()
}

fn check_size(count: usize, total: usize) -> Result<(), BundleError> {
    if count > MAX_MODULES {
        return Err(BundleError::TooLarge(format!("{count} modules (at most {MAX_MODULES})")));
    }
    if total > MAX_BUNDLE_BYTES {
        return Err(BundleError::TooLarge(format!("{total} bytes (at most {MAX_BUNDLE_BYTES})")));
    }
    Ok(())
}

/// Makes the module at bundle path `path` ready to load.
fn prepare(path: &str, source: Vec<u8>) -> Result<Module, BundleError> {
    let kind = ModuleKind::of(path).ok_or_else(|| BundleError::UnknownModuleType(path.to_string()))?;
    let source: Arc<[u8]> = Arc::from(source.into_boxed_slice());
    let shim = |attribute: &str, value: &str| -> Arc<[u8]> {
        // Imports the file itself (by its own name, so it resolves to the
        // same URL) under a type attribute: a separate module-map entry.
        let own_name = path.rsplit('/').next().unwrap_or(path);
        let own = serde_json::to_string(&format!("./{own_name}")).unwrap_or_default();
        let code = format!("import value from {own} with {{ type: \"{attribute}\" }};\nexport default {value};\n");
        Arc::from(code.into_bytes().into_boxed_slice())
    };
    let mut source_map = None;
    let mut imports = Vec::new();
    let code = match kind {
        ModuleKind::JavaScript => {
            imports = scan_imports(&String::from_utf8_lossy(&source));
            source.clone()
        }
        ModuleKind::TypeScript => {
            let out = typescript::transpile(path, &String::from_utf8_lossy(&source))?;
            imports = scan_imports(&out.code);
            for import in &mut imports {
                import.line = typescript::original_line(&out.source_map, import.line);
            }
            source_map = Some(Arc::from(out.source_map.into_bytes().into_boxed_slice()));
            Arc::from(out.code.into_bytes().into_boxed_slice())
        }
        ModuleKind::Json => {
            if let Err(error) = serde_json::from_slice::<serde::de::IgnoredAny>(&source) {
                return Err(BundleError::Json {
                    path: path.to_string(),
                    line: error.line(),
                    column: error.column(),
                    message: error.to_string(),
                });
            }
            shim("json", "value")
        }
        ModuleKind::Text => shim("text", "value"),
        ModuleKind::Data => shim("bytes", "value.buffer"),
        ModuleKind::Wasm => {
            if !source.starts_with(b"\0asm") {
                return Err(BundleError::NotWasm(path.to_string()));
            }
            shim("bytes", "new WebAssembly.Module(value)")
        }
    };
    Ok(Module { kind, source, code, source_map, imports })
}

/// Where an import leads.
#[derive(Debug, PartialEq, Eq)]
enum Resolution {
    /// To this bundle path.
    Found(String),
    /// Inside the bundle's directory, but to no file.
    Missing,
    /// To a file no module rule covers.
    NoRule,
    /// Out of the bundle: not relative, or above its root.
    Disallowed,
}

/// Resolves `specifier` imported from bundle path `importer`, where
/// `exists` says whether a bundle path is a file. As bundlers do for
/// TypeScript: `./a.js` may name `a.ts`, and `./a` may name `a.ts`,
/// `a.js`, `a.mts`, `a.mjs` or `a/index.ts`/`a/index.js`.
fn resolve_specifier(importer: &str, specifier: &str, exists: impl Fn(&str) -> bool) -> Resolution {
    let Some(base) = resolve_relative(importer, specifier) else {
        return Resolution::Disallowed;
    };
    let mut candidates = vec![base.clone()];
    if let Some(stem) = base.strip_suffix(".js") {
        candidates.push(format!("{stem}.ts"));
    } else if let Some(stem) = base.strip_suffix(".mjs") {
        candidates.push(format!("{stem}.mts"));
    } else if ModuleKind::of(&base).is_none() {
        for suffix in [".ts", ".js", ".mts", ".mjs", "/index.ts", "/index.js"] {
            candidates.push(format!("{base}{suffix}"));
        }
    }
    match candidates.into_iter().find(|candidate| exists(candidate)) {
        Some(found) if ModuleKind::of(&found).is_none() => Resolution::NoRule,
        Some(found) => Resolution::Found(found),
        None => Resolution::Missing,
    }
}

/// [`resolve_specifier`], with a failure as the error naming the importer
/// and line.
fn resolve_checked(importer: &str, import: &ImportRef, exists: impl Fn(&str) -> bool) -> Result<String, BundleError> {
    let (importer, line, specifier) = (importer.to_string(), import.line, import.specifier.clone());
    match resolve_specifier(&importer, &specifier, exists) {
        Resolution::Found(path) => Ok(path),
        Resolution::Missing => Err(BundleError::MissingImport { importer, line, specifier }),
        Resolution::NoRule => Err(BundleError::NoModuleRule { importer, line, specifier }),
        Resolution::Disallowed => Err(BundleError::DisallowedImport { importer, line, specifier }),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default()
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
    fn typescript_style_specifiers_resolve_to_ts_files() {
        let files = ["a.ts", "b.js", "c.mts", "dir/index.ts", "logo.png"];
        let exists = |path: &str| files.contains(&path);
        let found = |specifier: &str| resolve_specifier("w.ts", specifier, exists);
        assert_eq!(found("./a.ts"), Resolution::Found("a.ts".into()));
        assert_eq!(found("./a.js"), Resolution::Found("a.ts".into()));
        assert_eq!(found("./a"), Resolution::Found("a.ts".into()));
        assert_eq!(found("./b"), Resolution::Found("b.js".into()));
        assert_eq!(found("./c.mjs"), Resolution::Found("c.mts".into()));
        assert_eq!(found("./dir"), Resolution::Found("dir/index.ts".into()));
        assert_eq!(found("./logo.png"), Resolution::NoRule);
        assert_eq!(found("./nope"), Resolution::Missing);
        assert_eq!(found("../a.ts"), Resolution::Disallowed);
        assert_eq!(found("npm:a"), Resolution::Disallowed);
    }

    #[test]
    fn module_kinds_follow_the_workers_rules() {
        let kind = |path: &str| ModuleKind::of(path);
        assert_eq!(kind("a.ts"), Some(ModuleKind::TypeScript));
        assert_eq!(kind("a.d.ts"), None);
        assert_eq!(kind("a.html"), Some(ModuleKind::Text));
        assert_eq!(kind("a.bin"), Some(ModuleKind::Data));
        assert_eq!(kind("a.wasm"), Some(ModuleKind::Wasm));
        assert_eq!(kind("a.exe"), None);
        assert_eq!(kind("Makefile"), None);
    }

    #[test]
    fn non_code_modules_load_through_a_shim_of_their_own_file() {
        let mut modules = BTreeMap::new();
        modules.insert("w.js".to_string(), b"import t from \"./dir/notes.txt\";".to_vec());
        modules.insert("dir/notes.txt".to_string(), b"hello".to_vec());
        let bundle = ModuleBundle::new("w.js", modules).unwrap();
        let shim = String::from_utf8(bundle.get("dir/notes.txt").unwrap().to_vec()).unwrap();
        assert_eq!(shim, "import value from \"./notes.txt\" with { type: \"text\" };\nexport default value;\n");
        assert_eq!(bundle.source("dir/notes.txt"), Some(&b"hello"[..]));
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
