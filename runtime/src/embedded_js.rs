//! Serves extension sources from the copies embedded at build time (see
//! `build.rs`), so a `brink` binary runs without its source tree: nothing
//! reads extension JavaScript from disk at run time.

use std::borrow::Cow;

use deno_core::{Extension, ExtensionFileSource, ExtensionFileSourceCode};

include!(concat!(env!("OUT_DIR"), "/embedded_js.rs"));

/// An extension file deno_core would read from disk that the build did not
/// embed: the binary would depend on the machine it was built on.
#[derive(Debug, thiserror::Error)]
#[error("extension {extension} needs {path}, which this build did not embed")]
pub struct NotEmbedded {
    /// The extension's name.
    pub extension: &'static str,
    /// The path deno_core recorded for the file.
    pub path: &'static str,
}

fn embed(extension: &'static str, files: &mut Cow<'static, [ExtensionFileSource]>) -> Result<(), NotEmbedded> {
    let embedded = files
        .iter()
        .map(|file| {
            #[allow(deprecated, reason = "the variant deno_core uses for on-disk sources")]
            let ExtensionFileSourceCode::LoadedFromFsDuringSnapshot(path) = &file.code else {
                return Ok(file.clone());
            };
            match EMBEDDED_JS.iter().find(|(p, _)| p == path) {
                Some((_, code)) => Ok(ExtensionFileSource::loaded_from_memory_during_snapshot(file.specifier, *code)),
                None => Err(NotEmbedded { extension, path }),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    *files = Cow::Owned(embedded);
    Ok(())
}

/// Points every on-disk source of `extension` at its embedded copy; fails
/// when one has none.
pub fn with_embedded_sources(mut extension: Extension) -> Result<Extension, NotEmbedded> {
    let name = extension.name;
    embed(name, &mut extension.js_files)?;
    embed(name, &mut extension.esm_files)?;
    embed(name, &mut extension.lazy_loaded_esm_files)?;
    embed(name, &mut extension.lazy_loaded_js_files)?;
    Ok(extension)
}

#[cfg(test)]
mod tests {
    #[allow(deprecated, reason = "the variant deno_core uses for on-disk sources")]
    use deno_core::ExtensionFileSourceCode::LoadedFromFsDuringSnapshot;

    /// Every file of every extension an isolate runs with is served from
    /// memory, and the table holds every one of them.
    #[test]
    fn every_extension_file_is_embedded() {
        let raw = crate::engine::raw_extensions(Default::default(), std::sync::Arc::new(deno_web::BlobStore::default()));
        let mut on_disk = 0;
        for extension in raw {
            let name = extension.name;
            let files: Vec<_> = [
                &extension.js_files,
                &extension.esm_files,
                &extension.lazy_loaded_esm_files,
                &extension.lazy_loaded_js_files,
            ]
            .into_iter()
            .flat_map(|files| files.iter().cloned())
            .collect();
            for file in &files {
                #[allow(deprecated, reason = "the variant deno_core uses for on-disk sources")]
                if let LoadedFromFsDuringSnapshot(path) = file.code {
                    on_disk += 1;
                    assert!(
                        super::EMBEDDED_JS.iter().any(|(p, _)| *p == path),
                        "{name}: {} ({path}) is not embedded",
                        file.specifier
                    );
                }
            }
            let embedded = super::with_embedded_sources(extension).expect("every file is embedded");
            for files in [
                &embedded.js_files,
                &embedded.esm_files,
                &embedded.lazy_loaded_esm_files,
                &embedded.lazy_loaded_js_files,
            ] {
                for file in files.iter() {
                    #[allow(deprecated, reason = "the variant deno_core uses for on-disk sources")]
                    let from_disk = matches!(file.code, LoadedFromFsDuringSnapshot(_));
                    assert!(!from_disk, "{name}: {} is still read from disk", file.specifier);
                }
            }
        }
        // deno_web, deno_fetch, deno_crypto and Brink's own files at least.
        assert!(on_disk > 40, "only {on_disk} files were recorded on disk");
    }

    /// A file the build did not embed is an error, never a read from disk.
    #[test]
    fn a_missing_file_is_an_error() {
        static FILES: [deno_core::ExtensionFileSource; 1] =
            [deno_core::ExtensionFileSource::loaded_during_snapshot("ext:test/gone.js", "/nowhere/gone.js")];
        let extension = deno_core::Extension {
            name: "not_embedded",
            lazy_loaded_js_files: std::borrow::Cow::Borrowed(&FILES),
            ..Default::default()
        };
        let Err(error) = super::with_embedded_sources(extension) else { panic!("a file that is not embedded was accepted") };
        assert_eq!(error.extension, "not_embedded");
        assert_eq!(error.path, "/nowhere/gone.js");
    }
}
