//! Turns a panic inside the storage engine into an error, quietly.
//!
//! redb asserts (panics) on some kinds of file damage instead of returning an
//! error: a truncated file, a garbled B-tree page. A damaged store must neither
//! take the whole process down nor print a Rust backtrace to an operator who
//! only needs to hear that the file is corrupted, so every call into redb runs
//! under [`catch`]. While it runs, the process's panic hook is silenced for
//! that thread (other threads' panics still print as usual).

use std::any::Any;
use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

static INSTALL_HOOK: Once = Once::new();

/// Runs `f`; a panic inside it becomes `Err(message)` and prints nothing.
///
/// `AssertUnwindSafe` is sound here because callers treat a caught panic as
/// "this database handle may be inconsistent" and reopen it before further use.
pub(crate) fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    INSTALL_HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info);
            }
        }));
    });
    let was_quiet = QUIET.with(|quiet| quiet.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|quiet| quiet.set(was_quiet));
    result.map_err(|payload| payload_text(payload.as_ref()))
}

fn payload_text(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "unknown".to_owned()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_panic_becomes_an_error_with_its_message() {
        let result: Result<(), String> = super::catch(|| panic!("bad page {}", 7));
        assert_eq!(result, Err("bad page 7".to_owned()));
        assert_eq!(super::catch(|| 5), Ok(5));
    }
}
