//! Loads a worker's modules from its version's [`ModuleBundle`], which is
//! held in memory: an import resolves only to another module of the same
//! bundle. No files, no other directories, no remote URLs, no `node:` or
//! `npm:` specifiers.

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::Arc;

use deno_core::error::ModuleLoaderError;
use deno_core::{
    resolve_import, ModuleLoadOptions, ModuleLoadReferrer, ModuleLoadResponse, ModuleLoader, ModuleSource,
    ModuleSourceCode, ModuleSpecifier, ModuleType, RequestedModuleType, ResolutionKind,
};
use deno_error::JsErrorBox;

use crate::bundle::{ModuleBundle, ModuleKind};

/// Module loader confined to one worker version's bundle.
#[derive(Default)]
pub struct WorkerModuleLoader {
    bundle: RefCell<Option<Arc<ModuleBundle>>>,
}

impl WorkerModuleLoader {
    /// Serves modules from `bundle` from now on.
    pub fn set_bundle(&self, bundle: Arc<ModuleBundle>) {
        *self.bundle.borrow_mut() = Some(bundle);
    }
}

/// What `load` gives the engine for a module of `kind` imported with
/// `requested` (an import attribute's type). Without one, every module is
/// JavaScript: the bundle's code (a TypeScript module's output, or for
/// text, data, JSON and WebAssembly a small module that re-imports the file
/// with a type attribute, which comes back here as the raw file).
fn module_type_for(kind: ModuleKind, requested: &RequestedModuleType) -> Option<(ModuleType, bool)> {
    // (type, whether the file as written is what is served)
    Some(match requested {
        RequestedModuleType::None => (ModuleType::JavaScript, false),
        RequestedModuleType::Json if kind == ModuleKind::Json => (ModuleType::Json, true),
        RequestedModuleType::Json => return None,
        RequestedModuleType::Text => (ModuleType::Text, true),
        RequestedModuleType::Bytes => (ModuleType::Bytes, true),
        RequestedModuleType::Other(_) => return None,
    })
}

impl ModuleLoader for WorkerModuleLoader {
    fn resolve(
        &self,
        specifier: &str,
        referrer: &str,
        _kind: ResolutionKind,
    ) -> Result<ModuleSpecifier, ModuleLoaderError> {
        // `./a` and `./a.js` may name `a.ts`, as the bundle was checked.
        if let (Some(bundle), Some(importer)) = (self.bundle.borrow().as_ref(), ModuleBundle::path_of(referrer)) {
            if let Some(path) = bundle.resolve(importer, specifier) {
                return resolve_import(&ModuleBundle::specifier(&path), referrer).map_err(JsErrorBox::from_err);
            }
        }
        resolve_import(specifier, referrer).map_err(JsErrorBox::from_err)
    }

    fn load(
        &self,
        specifier: &ModuleSpecifier,
        _referrer: Option<&ModuleLoadReferrer>,
        options: ModuleLoadOptions,
    ) -> ModuleLoadResponse {
        let bundle = self.bundle.borrow();
        let found = ModuleBundle::path_of(specifier.as_str()).and_then(|path| {
            let bundle = bundle.as_ref()?;
            let (module_type, as_written) = module_type_for(bundle.kind(path)?, &options.requested_module_type)?;
            let bytes = if as_written { bundle.source(path)? } else { bundle.get(path)? };
            Some((module_type, bytes))
        });
        let result = match found {
            Some((module_type, bytes)) => Ok(ModuleSource::new(
                module_type,
                ModuleSourceCode::Bytes(bytes.to_vec().into_boxed_slice().into()),
                specifier,
                None,
            )),
            None => Err(JsErrorBox::type_error(format!(
                "Module not found: {specifier} is outside the worker's directory (workers can import only their own module files)"
            ))),
        };
        ModuleLoadResponse::Sync(result)
    }

    fn get_source_map(&self, file_name: &str) -> Option<Cow<'_, [u8]>> {
        let bundle = self.bundle.borrow();
        let map = bundle.as_ref()?.source_map(ModuleBundle::path_of(file_name)?)?;
        Some(Cow::Owned(map.to_vec()))
    }
}
