//! Serves extension sources from the copies embedded at build time (see
//! `build.rs`), so a `brink` binary runs without its source tree.

use std::borrow::Cow;

use deno_core::{Extension, ExtensionFileSource, ExtensionFileSourceCode};

include!(concat!(env!("OUT_DIR"), "/embedded_js.rs"));

fn embed(files: &mut Cow<'static, [ExtensionFileSource]>) {
    let embedded: Vec<ExtensionFileSource> = files
        .iter()
        .map(|file| {
            #[allow(deprecated, reason = "the variant deno_core uses for on-disk sources")]
            let path = match &file.code {
                ExtensionFileSourceCode::LoadedFromFsDuringSnapshot(path) => Some(*path),
                _ => None,
            };
            let source = path.and_then(|path| EMBEDDED_JS.iter().find(|(p, _)| *p == path));
            match source {
                Some((_, code)) => ExtensionFileSource::loaded_from_memory_during_snapshot(file.specifier, *code),
                None => file.clone(),
            }
        })
        .collect();
    *files = Cow::Owned(embedded);
}

/// Points every on-disk source of `extension` at its embedded copy.
pub fn with_embedded_sources(mut extension: Extension) -> Extension {
    embed(&mut extension.js_files);
    embed(&mut extension.esm_files);
    embed(&mut extension.lazy_loaded_esm_files);
    embed(&mut extension.lazy_loaded_js_files);
    extension
}
