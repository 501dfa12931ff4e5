//! Loads a worker's modules from its version's [`ModuleBundle`], which is
//! held in memory: an import resolves only to another module of the same
//! bundle. No files, no other directories, no remote URLs, no `node:` or
//! `npm:` specifiers.

use std::cell::RefCell;
use std::sync::Arc;

use deno_core::error::ModuleLoaderError;
use deno_core::{
    resolve_import, ModuleLoadOptions, ModuleLoadReferrer, ModuleLoadResponse, ModuleLoader, ModuleSource,
    ModuleSourceCode, ModuleSpecifier, ModuleType, RequestedModuleType, ResolutionKind,
};
use deno_error::JsErrorBox;

use crate::bundle::ModuleBundle;

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

fn module_type_for(path: &str, requested: &RequestedModuleType) -> ModuleType {
    match path.rsplit_once('.').map(|(_, extension)| extension) {
        Some("json") => ModuleType::Json,
        Some("wasm") => ModuleType::Wasm,
        _ => match requested {
            RequestedModuleType::Text => ModuleType::Text,
            RequestedModuleType::Bytes => ModuleType::Bytes,
            _ => ModuleType::JavaScript,
        },
    }
}

impl ModuleLoader for WorkerModuleLoader {
    fn resolve(
        &self,
        specifier: &str,
        referrer: &str,
        _kind: ResolutionKind,
    ) -> Result<ModuleSpecifier, ModuleLoaderError> {
        resolve_import(specifier, referrer).map_err(JsErrorBox::from_err)
    }

    fn load(
        &self,
        specifier: &ModuleSpecifier,
        _referrer: Option<&ModuleLoadReferrer>,
        options: ModuleLoadOptions,
    ) -> ModuleLoadResponse {
        let bundle = self.bundle.borrow();
        let found = ModuleBundle::path_of(specifier.as_str())
            .and_then(|path| Some((path, bundle.as_ref()?.get(path)?)));
        let result = match found {
            Some((path, source)) => Ok(ModuleSource::new(
                module_type_for(path, &options.requested_module_type),
                ModuleSourceCode::Bytes(source.to_vec().into_boxed_slice().into()),
                specifier,
                None,
            )),
            None => Err(JsErrorBox::type_error(format!(
                "Module not found: {specifier} is outside the worker's directory (workers can import only their own module files)"
            ))),
        };
        ModuleLoadResponse::Sync(result)
    }
}
