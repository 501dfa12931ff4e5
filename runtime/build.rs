//! Embeds the JavaScript of Brink's extensions and of the deno_* extension
//! crates into the binary.
//!
//! deno_core records extension sources by absolute path and reads them from
//! disk when an isolate starts, unless a startup snapshot carries them. The
//! quickjs engine cannot use snapshots (docs/architecture.md), so without this a `brink`
//! binary would only work next to the source tree and cargo registry it was
//! built from. The generated table maps each path to its source; sources are
//! ASCII-escaped because deno_core keeps them as one-byte V8 strings.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const DENO_CRATES: [&str; 4] = ["deno_webidl", "deno_web", "deno_fetch", "deno_crypto"];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let mut sources: BTreeMap<PathBuf, PathBuf> = BTreeMap::new();

    let own_js = manifest_dir.join("js");
    println!("cargo:rerun-if-changed={}", own_js.display());
    collect_js(&own_js, true, &mut sources);

    let lock = std::fs::read_to_string(manifest_dir.join("../Cargo.lock")).unwrap_or_default();
    println!("cargo:rerun-if-changed={}", manifest_dir.join("../Cargo.lock").display());
    for name in DENO_CRATES {
        match locked_version(&lock, name).and_then(|version| registry_dir(name, &version)) {
            Some(dir) => collect_js(&dir, false, &mut sources),
            None => println!("cargo:warning=sources of {name} not found; its JS will be read from disk at run time"),
        }
    }

    let embedded = out_dir.join("embedded_js");
    std::fs::create_dir_all(&embedded).expect("create embedded_js dir");
    let mut table = String::from("/// Extension sources embedded at build time: (path, source).\n");
    table.push_str("pub static EMBEDDED_JS: &[(&str, deno_core::FastStaticString)] = &[\n");
    for (index, (path, canonical)) in sources.iter().enumerate() {
        let source = std::fs::read_to_string(canonical).expect("read JS source");
        let copy = embedded.join(format!("{index}.js"));
        std::fs::write(&copy, ascii_escape(&source)).expect("write embedded JS");
        let _ = writeln!(
            table,
            "    ({:?}, deno_core::ascii_str!(include_str!({:?}))),",
            path.display().to_string(),
            copy.display().to_string()
        );
    }
    table.push_str("];\n");
    std::fs::write(out_dir.join("embedded_js.rs"), table).expect("write embedded_js.rs");
}

/// `.js` files directly in `dir` (and below it when `recursive`), keyed by
/// the path deno_core records for them.
fn collect_js(dir: &Path, recursive: bool, sources: &mut BTreeMap<PathBuf, PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if recursive {
                collect_js(&path, true, sources);
            }
        } else if path.extension().is_some_and(|e| e == "js" || e == "ts") {
            sources.insert(path.clone(), path);
        }
    }
}

fn locked_version(lock: &str, name: &str) -> Option<String> {
    let marker = format!("name = \"{name}\"\nversion = \"");
    let start = lock.find(&marker)? + marker.len();
    let end = lock[start..].find('"')?;
    Some(lock[start..start + end].to_string())
}

fn registry_dir(name: &str, version: &str) -> Option<PathBuf> {
    let cargo_home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|_| std::env::var("HOME").map(|home| PathBuf::from(home).join(".cargo")))
        .ok()?;
    let registries = std::fs::read_dir(cargo_home.join("registry/src")).ok()?;
    registries
        .flatten()
        .map(|registry| registry.path().join(format!("{name}-{version}")))
        .find(|dir| dir.is_dir())
}

/// Rewrites every non-ASCII character as a `\uXXXX` escape (surrogate pairs
/// above the BMP), which JavaScript reads identically in strings, templates,
/// identifiers, regular expressions and comments.
fn ascii_escape(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    for c in source.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04X}");
            }
        }
    }
    out
}
