//! Builds a `JsRuntime` with the Web APIs and Brink's bootstrap loaded: a
//! blank isolate, ready for a worker's code.
//!
//! On the `quickjs` engine every isolate runs the bootstrap (snapshots lose
//! unique-symbol identity there, see docs/architecture.md); the cost is kept small by
//! loading rarely used APIs lazily, and hidden by the pre-warmed pool.

use std::rc::Rc;
use std::sync::{Arc, RwLock};

use deno_core::{v8, JsRuntime, RuntimeOptions};
use deno_permissions::{Permissions, PermissionsContainer, RuntimePermissionDescriptorParser, UnaryPermission};

use crate::api::blob_store::MeteredBlobStore;
use crate::api::cache::{op_brink_cache_delete, op_brink_cache_match, op_brink_cache_put};
use crate::api::console::{op_brink_log, LogIdentity};
use crate::api::crypto_extras::{
    op_brink_aes_gcm_decrypt, op_brink_digest, op_brink_digest_create, op_brink_digest_finish, op_brink_digest_update,
};
use crate::api::headers::{op_brink_append_header_pairs, op_brink_is_normalized_header_value};
use crate::api::html_rewriter::{
    op_brink_html_rewriter_attributes, op_brink_html_rewriter_check_charset, op_brink_html_rewriter_close,
    op_brink_html_rewriter_doctype,
    op_brink_html_rewriter_end, op_brink_html_rewriter_field, op_brink_html_rewriter_mutate,
    op_brink_html_rewriter_output, op_brink_html_rewriter_resume, op_brink_html_rewriter_start,
    op_brink_html_rewriter_write, op_brink_html_selector_check,
};
use crate::api::kv::{
    op_brink_kv_atomic, op_brink_kv_delete, op_brink_kv_get, op_brink_kv_get_many, op_brink_kv_list, op_brink_kv_put,
};
use crate::api::outbound_fetch::{check_outbound_request, op_brink_origin, GuardedResolver, SharedPolicy};
use crate::api::request::{
    op_brink_answers_ready, op_brink_count_subrequest, op_brink_respond, op_brink_respond_error, op_brink_respond_stream,
    op_brink_wait_until_done, op_brink_wait_until_started,
};
use crate::api::websocket::{
    op_brink_ws_close, op_brink_ws_connect, op_brink_ws_next, op_brink_ws_respond, op_brink_ws_send_binary,
    op_brink_ws_send_text,
};
use crate::context::ContextTable;
use crate::embedded_js::with_embedded_sources;
use crate::error::WorkerError;
use crate::limits::Limits;
use crate::module_loader::WorkerModuleLoader;

// deno_fetch loads `ext:deno_net/02_tls.js`; this stands in for deno_net.
deno_core::extension!(
    deno_net,
    lazy_loaded_js = [dir "js/deno_net", "02_tls.js"],
);

deno_core::extension!(
    brink_runtime,
    deps = [deno_webidl, deno_web, deno_fetch, deno_crypto, deno_net],
    ops = [
        op_brink_log,
        op_brink_answers_ready,
        op_brink_respond,
        op_brink_respond_error,
        op_brink_respond_stream,
        op_brink_wait_until_started,
        op_brink_wait_until_done,
        op_brink_count_subrequest,
        op_brink_kv_get,
        op_brink_kv_get_many,
        op_brink_kv_put,
        op_brink_kv_delete,
        op_brink_kv_list,
        op_brink_kv_atomic,
        op_brink_html_selector_check,
        op_brink_html_rewriter_start,
        op_brink_html_rewriter_write,
        op_brink_html_rewriter_end,
        op_brink_html_rewriter_resume,
        op_brink_html_rewriter_mutate,
        op_brink_html_rewriter_output,
        op_brink_html_rewriter_field,
        op_brink_html_rewriter_doctype,
        op_brink_html_rewriter_attributes,
        op_brink_html_rewriter_close,
        op_brink_html_rewriter_check_charset,
        op_brink_cache_match,
        crate::api::cache::op_brink_cache_match_disk,
        op_brink_cache_put,
        op_brink_cache_delete,
        op_brink_origin,
        crate::api::forwarding::op_brink_forwarding,
        op_brink_digest,
        op_brink_digest_create,
        op_brink_digest_update,
        op_brink_digest_finish,
        op_brink_aes_gcm_decrypt,
        op_brink_ws_respond,
        op_brink_ws_send_text,
        op_brink_ws_send_binary,
        op_brink_ws_close,
        op_brink_ws_next,
        op_brink_ws_connect,
        op_brink_append_header_pairs,
        op_brink_is_normalized_header_value,
        op_brink_engine_is_interpreted,
    ],
    esm_entry_point = "ext:brink_runtime/bootstrap.js",
    esm = [
        dir "js",
        "bootstrap.js",
        "globals.js",
        "worker_host.js",
        "kv.js",
        "hide_engine_internals.js",
        "crypto_limits.js",
        "crypto_extras.js",
        "workers_extras.js",
    ],
    lazy_loaded_js = [dir "js", "html_rewriter.js", "cache.js", "websocket.js"],
    state = |state| {
        state.put(ContextTable::default());
        state.put(LogIdentity::default());
    },
);

/// Whether the engine interprets JavaScript without a JIT (QuickJS): Brink's
/// patch to deno_web (patches/deno_web/) then parses URLs with the Rust
/// parser instead of a character loop that only a JIT makes fast.
#[deno_core::op2(fast)]
fn op_brink_engine_is_interpreted() -> bool {
    cfg!(feature = "quickjs")
}

/// What a blank isolate is built with.
pub struct BlankIsolate {
    /// The runtime, bootstrap done.
    pub runtime: JsRuntime,
    /// The module loader; told the worker's root when a worker is loaded.
    pub loader: Rc<WorkerModuleLoader>,
    /// The outbound-fetch policy its DNS resolver reads.
    pub outbound: SharedPolicy,
    /// Its blob store, whose bytes count toward the memory limit.
    pub blobs: Arc<MeteredBlobStore>,
}

fn permissions() -> PermissionsContainer {
    // deno_fetch asks these before every request. Network access is granted
    // here and narrowed by Brink's own checks (see `api::outbound_fetch`);
    // everything else (files, env, subprocesses) is denied.
    let mut permissions = Permissions::none_without_prompt();
    permissions.net = UnaryPermission::allow_all();
    let parser = RuntimePermissionDescriptorParser::new(sys_traits::impls::RealSys);
    PermissionsContainer::new(Arc::new(parser), permissions)
}

/// The extensions every isolate runs with, in a fixed order (a startup
/// snapshot must be restored with the same list it was made with), as their
/// crates declare them.
pub(crate) fn raw_extensions(
    fetch_options: deno_fetch::Options,
    blobs: Arc<dyn deno_web::BlobStoreTrait>,
) -> Vec<deno_core::Extension> {
    vec![
        deno_webidl::deno_webidl::init(),
        deno_web::deno_web::init(blobs, None, false, Default::default()),
        deno_fetch::deno_fetch::init(fetch_options),
        deno_crypto::deno_crypto::init(None),
        deno_net::init(),
        brink_runtime::init(),
    ]
}

/// [`raw_extensions`] with every source served from the binary.
fn extensions(
    fetch_options: deno_fetch::Options,
    blobs: Arc<dyn deno_web::BlobStoreTrait>,
) -> Result<Vec<deno_core::Extension>, WorkerError> {
    raw_extensions(fetch_options, blobs)
        .into_iter()
        .map(with_embedded_sources)
        .collect::<Result<_, _>>()
        .map_err(|error| WorkerError::Engine(error.to_string()))
}

/// Creates a runtime with Brink's bootstrap done: restored from the startup
/// snapshot where the engine has one (`v8`), by running the bootstrap
/// otherwise (`quickjs`).
pub fn new_blank_isolate(limits: &Limits) -> Result<BlankIsolate, WorkerError> {
    let outbound: SharedPolicy = Arc::new(RwLock::new(Default::default()));
    // deno_fetch has no option to ignore proxy variables: the binary removes
    // them at start (`outbound_fetch::ignore_proxy_environment`), and the
    // request hook refuses every request while they are still set, so a
    // proxy never picks a worker's final address.
    let fetch_options = deno_fetch::Options {
        user_agent: "Brink/0.1".to_string(),
        request_builder_hook: Some(check_outbound_request),
        resolver: deno_fetch::dns::Resolver::custom(Arc::new(GuardedResolver::new(outbound.clone()))),
        ..Default::default()
    };
    let loader = Rc::new(WorkerModuleLoader::default());
    let blobs = Arc::new(MeteredBlobStore::new(limits.heap_bytes));
    let create_params = v8::CreateParams::default().heap_limits(0, limits.heap_bytes);
    let runtime = JsRuntime::try_new(RuntimeOptions {
        module_loader: Some(loader.clone()),
        extensions: extensions(fetch_options, blobs.clone())?,
        startup_snapshot: crate::snapshot::startup_snapshot(),
        create_params: Some(create_params),
        ..Default::default()
    })
    .map_err(|error| WorkerError::Engine(error.to_string()))?;
    runtime.op_state().borrow_mut().put(permissions());
    Ok(BlankIsolate { runtime, loader, outbound, blobs })
}

/// Makes `eval`, `new Function` (and the async and generator function
/// constructors) throw `EvalError` from now on, as Workers does once a
/// worker's top level has run: its handlers cannot build code from strings,
/// while its startup still may (libraries compile templates and schemas
/// there on Workers). Brink's and Deno's own JavaScript never builds code
/// from strings, and the runtime's own compiles (modules, lazily loaded
/// scripts) are not affected.
pub(crate) fn forbid_code_generation_from_strings(runtime: &mut JsRuntime) {
    deno_core::scope!(scope, runtime);
    scope.get_current_context().set_allow_generation_from_strings(false);
}

/// Runs the bootstrap in a runtime made for snapshotting and returns the
/// snapshot. V8 runs in snapshotting mode or serving mode, never both, so
/// this runs in a process of its own (see [`crate::snapshot`]).
pub fn make_startup_snapshot() -> Result<Box<[u8]>, WorkerError> {
    let runtime = deno_core::JsRuntimeForSnapshot::try_new(RuntimeOptions {
        extensions: extensions(deno_fetch::Options::default(), Arc::new(deno_web::BlobStore::default()))?,
        ..Default::default()
    })
    .map_err(|error| WorkerError::Engine(error.to_string()))?;
    Ok(runtime.snapshot())
}
