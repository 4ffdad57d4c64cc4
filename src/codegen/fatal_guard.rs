//! LLVM's fatal errors as one error line naming the file being read. LLVM ends in
//! `report_fatal_error` on some damaged inputs; the handler installed here prints
//! `aotlink: error: FILE: LLVM: <reason>` and exits 1 instead of aborting. Reading
//! ([`super::load`]) names its file with [`reading`]; the child-process check
//! ([`super::isolated`]) installs the handler. Owns no parsing itself.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// What is being read, for the fatal-error handler's message.
static READING: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Makes LLVM's fatal errors one error line, `aotlink: error: FILE: <LLVM's message>`, and exit
/// status 1, instead of LLVM's abort. Once per process.
pub fn install_fatal_error_handler() {
    crate::llvm::install_fatal_error_handler(on_fatal_error);
}

fn on_fatal_error(reason: &str) -> ! {
    let reading = READING.try_lock().ok().and_then(|r| r.clone());
    let line = match reading {
        Some(path) => format!("aotlink: error: {}: LLVM: {reason}\n", path.display()),
        None => format!("aotlink: error: LLVM: {reason}\n"),
    };
    let _ = std::io::stderr().write_all(line.as_bytes());
    // Not `exit`: other threads may be inside LLVM, whose static destructors `exit` runs.
    // SAFETY: _exit ends the process at once; nothing is left half-written that matters
    // (outputs are temp files renamed only on success).
    unsafe { libc::_exit(1) }
}

/// Runs `f` with `path` named as what is being read (for the fatal-error handler).
pub fn reading<T>(path: &Path, f: impl FnOnce() -> T) -> T {
    *READING.lock().unwrap_or_else(|p| p.into_inner()) = Some(path.to_path_buf());
    let out = f();
    *READING.lock().unwrap_or_else(|p| p.into_inner()) = None;
    out
}
