//! The bottom of linking: runs one of LLD's drivers inside this process (`crate::llvm::lld`,
//! over LLD 22), one link at a time, and turns a failure into [`LinkError::Lld`] with LLD's
//! diagnostics. Knows nothing of what is linked: `lld.rs` says that, and `os_stubs.rs` runs it
//! for its ELF stand-ins. Imports nothing else of `link/`.

use std::ffi::CString;
use std::sync::Mutex;

use super::diagnostics::{linker_diagnostics, show_link_line};
use super::job::LinkError;
use crate::target::LldFlavor;

/// LLD keeps global state for the length of a link: one link at a time per process. `false`
/// inside once LLD said its state could not be reset (after a crash inside LLD).
static LLD: Mutex<bool> = Mutex::new(true);

/// The program name that selects `flavor`'s driver (LLD dispatches on `argv[0]`).
fn program(flavor: LldFlavor) -> &'static str {
    match flavor {
        LldFlavor::Gnu => "ld.lld",
        LldFlavor::Darwin => "ld64.lld",
        LldFlavor::Link => "lld-link",
    }
}

/// Runs LLD of `flavor` with `args`, one link at a time.
pub(super) fn run_lld(flavor: LldFlavor, args: &[String], verbose: bool) -> Result<(), LinkError> {
    let program = program(flavor);
    show_link_line(verbose, &format!("{program} (in process)"), args);
    let owned: Vec<CString> = std::iter::once(program)
        .chain(args.iter().map(String::as_str))
        .map(|a| CString::new(a).map_err(|_| LinkError::NulInArgument(a.to_string())))
        .collect::<Result<_, _>>()?;

    let mut usable = LLD.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if !*usable {
        return Err(LinkError::LldUnusable);
    }
    // SAFETY: the lock keeps any other thread out of LLD until the call returns.
    let run = unsafe { crate::llvm::lld::link(&owned) };
    let (code, text) = (run.code, run.output);
    *usable = run.can_run_again;
    if code == 0 {
        Ok(())
    } else if text.trim().is_empty() {
        Err(LinkError::Lld(format!("LLD exited with code {code}")))
    } else {
        Err(LinkError::Lld(linker_diagnostics(&text)))
    }
}
