//! Which aotlink executable parses a build's inputs in a child process first. LLVM's bitcode
//! reader can crash on damaged input (`aotlink_core::codegen::isolated`); inside a runtime's
//! process that crash would be the runtime's. The command line re-runs itself; a library has
//! no executable of its own, so it uses the one installed beside it: `scripts/install.sh` puts
//! `libaotlink.so` in `$prefix/lib` and `aotlink` in `$prefix/bin`, and in cargo's target
//! directory the two sit side by side.

use std::path::{Path, PathBuf};

/// Who checks the inputs.
#[derive(Clone, Debug)]
pub enum Checker {
    /// The aotlink installed beside this library, if there is one.
    Installed,
    /// This executable.
    Executable(PathBuf),
    /// Nobody: the caller vouches for its IR (it made it), which is read in this process.
    Trusted,
}

impl Checker {
    /// The executable to run, `None` for trusted inputs, or an error saying where aotlink was
    /// looked for and what to do instead.
    pub fn executable(&self) -> Result<Option<PathBuf>, String> {
        match self {
            Checker::Trusted => Ok(None),
            Checker::Executable(path) => Ok(Some(path.clone())),
            Checker::Installed => {
                let candidates = installed_candidates();
                match candidates.iter().find(|p| p.is_file()) {
                    Some(found) => Ok(Some(found.clone())),
                    None => Err(format!(
                        "no aotlink executable to check the inputs in a child process (looked for {}); name one with aotlink_build_set_checker, or pass NULL there to read trusted IR in this process",
                        if candidates.is_empty() {
                            "the directory of libaotlink, which is unknown".to_string()
                        } else {
                            (candidates.iter().map(|p| p.display().to_string()))
                                .collect::<Vec<_>>()
                                .join(" and ")
                        }
                    )),
                }
            }
        }
    }
}

/// `$libdir/../bin/aotlink` (an install prefix) and `$libdir/aotlink` (cargo's target dir).
fn installed_candidates() -> Vec<PathBuf> {
    let Some(library) = this_library() else {
        return Vec::new();
    };
    let Some(libdir) = library.parent() else {
        return Vec::new();
    };
    let mut candidates = Vec::new();
    if let Some(prefix) = libdir.parent() {
        candidates.push(prefix.join("bin").join("aotlink"));
    }
    candidates.push(libdir.join("aotlink"));
    candidates
}

/// The file this code was loaded from (libaotlink.so, or the executable that linked
/// libaotlink.a), symlinks resolved, so that a `lib/libaotlink.so.0` link leads to its prefix.
fn this_library() -> Option<PathBuf> {
    #[cfg(unix)]
    {
        // SAFETY: an all-zero Dl_info is a valid value (null pointers) for dladdr to fill.
        let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
        let address = this_library as *const libc::c_void;
        // SAFETY: dladdr only reads the address and writes `info`.
        if unsafe { libc::dladdr(address, &mut info) } == 0 || info.dli_fname.is_null() {
            return None;
        }
        // SAFETY: dladdr succeeded: dli_fname is a NUL-terminated path owned by the dynamic
        // loader, alive while the object is loaded (as this code is); it is copied at once.
        let name = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) };
        use std::os::unix::ffi::OsStrExt;
        let path = Path::new(std::ffi::OsStr::from_bytes(name.to_bytes()));
        std::fs::canonicalize(path).ok()
    }
    #[cfg(not(unix))]
    {
        None
    }
}
