//! LLVM's fatal errors (`report_fatal_error`), which would otherwise print and abort.

use std::ffi::{c_char, CStr};
use std::sync::OnceLock;

static HANDLER: OnceLock<fn(&str) -> !> = OnceLock::new();

/// Makes LLVM call `handler` with its message on a fatal error. The handler must not return
/// into LLVM (it ends the process). The first handler installed stays.
pub fn install_fatal_error_handler(handler: fn(&str) -> !) {
    if HANDLER.set(handler).is_ok() {
        // SAFETY: the trampoline is a plain function that lives as long as the process.
        unsafe { llvm_sys::error_handling::LLVMInstallFatalErrorHandler(Some(trampoline)) }
    }
}

extern "C" fn trampoline(reason: *const c_char) {
    let reason = match reason.is_null() {
        true => "unknown error".into(),
        // SAFETY: LLVM passes a NUL-terminated message, alive for the call.
        false => unsafe { CStr::from_ptr(reason) }.to_string_lossy(),
    };
    match HANDLER.get() {
        Some(handler) => handler(&reason),
        None => std::process::abort(),
    }
}
