//! Loads a worker's own module files. A worker may import files under its
//! root directory (relative imports between its modules) and nothing else:
//! no other directories, no remote URLs, no `node:` or `npm:` specifiers.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use deno_core::error::ModuleLoaderError;
use deno_core::{
    resolve_import, ModuleLoadOptions, ModuleLoadReferrer, ModuleLoadResponse, ModuleLoader, ModuleSource,
    ModuleSourceCode, ModuleSpecifier, ModuleType, RequestedModuleType, ResolutionKind,
};
use deno_error::JsErrorBox;

/// Module loader confined to one worker's root directory.
#[derive(Default)]
pub struct WorkerModuleLoader {
    root: RefCell<Option<PathBuf>>,
}

impl WorkerModuleLoader {
    /// Confines loading to `root` (canonical path).
    pub fn set_root(&self, root: PathBuf) {
        *self.root.borrow_mut() = Some(root);
    }

    fn confined_path(&self, specifier: &ModuleSpecifier) -> Result<PathBuf, JsErrorBox> {
        let outside = || JsErrorBox::type_error(format!("Module not found: {specifier} is outside the worker's directory"));
        if specifier.scheme() != "file" {
            return Err(JsErrorBox::type_error(format!(
                "Module not found: {specifier} (workers can import only their own module files)"
            )));
        }
        let path = specifier.to_file_path().map_err(|_| outside())?;
        let canonical = std::fs::canonicalize(&path)
            .map_err(|e| JsErrorBox::type_error(format!("Module not found: {specifier}: {e}")))?;
        let root = self.root.borrow();
        match root.as_deref() {
            Some(root) if canonical.starts_with(root) => Ok(canonical),
            _ => Err(outside()),
        }
    }
}

fn module_type_for(path: &Path, requested: &RequestedModuleType) -> ModuleType {
    match path.extension().and_then(|e| e.to_str()) {
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
        let result = self.confined_path(specifier).and_then(|path| {
            let code = std::fs::read(&path)
                .map_err(|e| JsErrorBox::type_error(format!("Module not found: {specifier}: {e}")))?;
            let module_type = module_type_for(&path, &options.requested_module_type);
            Ok(ModuleSource::new(
                module_type,
                ModuleSourceCode::Bytes(code.into_boxed_slice().into()),
                specifier,
                None,
            ))
        });
        ModuleLoadResponse::Sync(result)
    }
}
