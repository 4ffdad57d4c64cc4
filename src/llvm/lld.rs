//! One call into LLD's drivers, linked into this process (`src/lld_shim.cpp`).

use std::ffi::{c_char, c_int, CStr, CString};

use super::shim::{aotlink_lld_free, aotlink_lld_link};

/// What one run of LLD said and did.
pub struct LldRun {
    /// LLD's exit code.
    pub code: i32,
    /// Everything LLD printed, stdout and stderr together.
    pub output: String,
    /// False once LLD's global state could not be reset: no link may follow in this process.
    pub can_run_again: bool,
}

/// Runs LLD with `argv` (`argv[0]` names the flavor: `ld.lld`, `ld64.lld`, `lld-link`).
///
/// # Safety
/// No other thread is inside LLD: it keeps global state for the length of a link. The caller
/// serializes calls (src/link/lld.rs holds a lock).
pub unsafe fn link(argv: &[CString]) -> LldRun {
    let pointers: Vec<*const c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    let mut output: *mut c_char = std::ptr::null_mut();
    let mut can_run_again: c_int = 0;
    // SAFETY: `pointers` point at `argv`'s NUL-terminated strings, alive for the call; the
    // shim writes a string it allocated to `output` and an int to `can_run_again`; the caller
    // keeps other threads out of LLD.
    let code = unsafe {
        aotlink_lld_link(
            pointers.as_ptr(),
            pointers.len(),
            &mut output,
            &mut can_run_again,
        )
    };
    let output = if output.is_null() {
        String::new()
    } else {
        // SAFETY: a NUL-terminated string from strdup, copied, then freed once.
        unsafe {
            let text = CStr::from_ptr(output).to_string_lossy().into_owned();
            aotlink_lld_free(output);
            text
        }
    };
    LldRun {
        code,
        output,
        can_run_again: can_run_again != 0,
    }
}
