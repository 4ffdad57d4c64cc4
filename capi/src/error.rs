//! Failure across the C boundary: a status plus a message kept per thread (as libaotload
//! does), and no panic ever unwinding into C, where it would abort the host process.

use std::cell::RefCell;
use std::ffi::{c_char, CString};

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Makes `message` this thread's last error.
pub fn set_error(message: impl Into<String>) {
    let message = message.into().replace('\0', " ");
    let message = CString::new(message).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = message);
}

/// This thread's last error, valid until the next failing call on this thread.
pub fn last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// Runs `f`; a panic inside becomes `fallback` and an error message.
pub fn guard<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(value) => value,
        Err(payload) => {
            let what = (payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_string());
            set_error(format!("aotlink: internal error: {what}"));
            fallback
        }
    }
}

/// [`guard`] for calls that return a status: 0, or -1 once the error is the thread's last.
pub fn status(f: impl FnOnce() -> Result<(), String>) -> i32 {
    guard(-1, || match f() {
        Ok(()) => 0,
        Err(message) => {
            set_error(message);
            -1
        }
    })
}
