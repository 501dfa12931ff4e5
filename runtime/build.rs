//! Embeds the JavaScript of Brink's extensions and of the deno_* extension
//! crates into the binary.
//!
//! deno_core records extension sources by absolute path and reads them from
//! disk when an isolate starts, unless a startup snapshot carries them. The
//! quickjs engine cannot use snapshots (docs/architecture.md), so without this a `brink`
//! binary would only work next to the source tree and cargo registry it was
//! built from. The deno_* crates are found through `cargo metadata` (never
//! by guessing paths), and a crate or file that cannot be found fails the
//! build; `embedded_js.rs` refuses, at start, any extension file this table
//! lacks. The generated table maps each path to its source; sources are
//! ASCII-escaped because deno_core keeps them as one-byte V8 strings.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The deno_* crates whose extension JavaScript Brink loads.
const DENO_CRATES: [&str; 4] = ["deno_webidl", "deno_web", "deno_fetch", "deno_crypto"];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let mut sources: BTreeMap<PathBuf, PathBuf> = BTreeMap::new();

    let own_js = manifest_dir.join("js");
    println!("cargo:rerun-if-changed={}", own_js.display());
    collect_js(&own_js, true, &mut sources);
    // A version change in Cargo.lock moves the deno_* sources.
    println!("cargo:rerun-if-changed={}", manifest_dir.join("../Cargo.lock").display());

    for (name, dir) in deno_crate_dirs(&manifest_dir) {
        // A crate patched in third_party/ (scripts/vendor-patched-crates.sh)
        // changes without Cargo.lock changing.
        println!("cargo:rerun-if-changed={}", dir.display());
        let before = sources.len();
        collect_js(&dir, false, &mut sources);
        if sources.len() == before {
            panic!("{name} at {} has no JavaScript to embed", dir.display());
        }
    }

    let embedded = out_dir.join("embedded_js");
    std::fs::create_dir_all(&embedded).expect("create embedded_js dir");
    let mut table = String::from("/// Extension sources embedded at build time: (path, source).\n");
    table.push_str("pub static EMBEDDED_JS: &[(&str, deno_core::FastStaticString)] = &[\n");
    for (index, (path, canonical)) in sources.iter().enumerate() {
        let source = std::fs::read_to_string(canonical)
            .unwrap_or_else(|error| panic!("read {}: {error}", canonical.display()));
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
    let entries = std::fs::read_dir(dir).unwrap_or_else(|error| panic!("read {}: {error}", dir.display()));
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

/// The source directory of each of [`DENO_CRATES`], as cargo resolved it for
/// this package: `cargo metadata` knows registries, git and path sources,
/// `[patch]` and vendored directories, so nothing here guesses. deno_core
/// records each file under its crate's `CARGO_MANIFEST_DIR`, which is the
/// directory of the manifest cargo reports. Panics (failing the build) when
/// cargo cannot answer or a crate is missing: a binary built without one of
/// them would fail when an isolate starts.
fn deno_crate_dirs(manifest_dir: &Path) -> Vec<(&'static str, PathBuf)> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // --offline: the outer build has already fetched everything this
    // resolves to, and a build script must not reach the network. That is
    // only true for the target being built: without --filter-platform cargo
    // wants every platform's packages (Windows-only crates included), which
    // a fresh CARGO_HOME has never downloaded.
    let target = std::env::var("TARGET").expect("cargo sets TARGET for build scripts");
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline", "--filter-platform", &target, "--manifest-path"])
        .arg(manifest_dir.join("Cargo.toml"))
        .output()
        .unwrap_or_else(|error| panic!("run cargo metadata: {error}"));
    if !output.status.success() {
        panic!("cargo metadata failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|error| panic!("parse cargo metadata: {error}"));
    let packages = metadata["packages"].as_array().expect("cargo metadata lists packages");
    let package = |id: &str| packages.iter().find(|package| package["id"] == id);
    let own_id = packages
        .iter()
        .find(|package| package["name"] == env!("CARGO_PKG_NAME"))
        .and_then(|package| package["id"].as_str())
        .expect("cargo metadata lists this package");
    // The versions this package depends on, not whichever a name matches
    // first: the lock file may hold more than one version of a crate.
    let dependencies: Vec<&serde_json::Value> = metadata["resolve"]["nodes"]
        .as_array()
        .and_then(|nodes| nodes.iter().find(|node| node["id"] == own_id))
        .and_then(|node| node["deps"].as_array())
        .expect("cargo metadata resolves this package's dependencies")
        .iter()
        .filter_map(|dependency| package(dependency["pkg"].as_str()?))
        .collect();
    DENO_CRATES
        .into_iter()
        .map(|name| {
            let manifest = dependencies
                .iter()
                .find(|package| package["name"] == name)
                .and_then(|package| package["manifest_path"].as_str())
                .unwrap_or_else(|| panic!("cargo metadata has no {name} among this package's dependencies"));
            let dir = Path::new(manifest).parent().expect("a manifest path has a parent").to_path_buf();
            (name, dir)
        })
        .collect()
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
