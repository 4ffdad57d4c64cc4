//! The LLD linker, inside this process (`src/lld_shim.cpp` over LLD 22's drivers).

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::compiler_runtime::runtime_archives;
use super::mingw_runtime::{c_runtime_files, missing_runtime_advice, CRuntimeFiles};
use super::os_stubs::system_libraries;
use super::user_libraries::library_arguments;
use super::{
    expand_args, linker_diagnostics, placeholders, write_export_list, LinkError, LinkJob, Linker,
};
use crate::target::Crt;

/// Links with the LLD linked into aotlink; flags come from the platform's `[lld]` table.
#[derive(Clone, Debug, Default)]
pub struct Lld {
    /// The compiler-runtime archive to link (`--rtlib`); `None`: found per target.
    pub compiler_runtime: Option<PathBuf>,
    /// Where the target's C runtime is (`--sysroot`, MinGW-w64); `None`: asked of its gcc.
    pub sysroot: Option<PathBuf>,
    /// The Microsoft C runtime a Windows DLL links (`--crt`); `None`: the toolchain's default.
    pub crt: Option<Crt>,
}

impl Lld {
    /// LLD with the compiler runtime found for each target.
    pub const fn new() -> Lld {
        Lld {
            compiler_runtime: None,
            sysroot: None,
            crt: None,
        }
    }

    /// The LLD arguments for `job` (without the program name); the export list and system
    /// libraries they name are written into `scratch`. A standalone `ld.lld` takes them too.
    pub fn arguments(&self, job: &LinkJob, scratch: &Path) -> Result<Vec<String>, LinkError> {
        Ok(self.link_line(job, scratch)?.0)
    }

    /// The arguments, and the C runtime they link (`None`: none, or none found).
    fn link_line(
        &self,
        job: &LinkJob,
        scratch: &Path,
    ) -> Result<(Vec<String>, Option<CRuntimeFiles>), LinkError> {
        let export_list = write_export_list(job, scratch)?;
        let libraries = system_libraries(job, scratch)?;
        let c_runtime = c_runtime_files(job, self.sysroot.as_deref(), self.crt)?;
        let runtime = runtime_archives(job, self.compiler_runtime.as_deref())?;
        let paths = |list: &[PathBuf]| -> Vec<String> {
            list.iter().map(|p| p.display().to_string()).collect()
        };
        // The image's own dependencies first, then the C runtime, then the compiler runtime,
        // then the C runtime's closing objects: gcc's order.
        let mut arguments = library_arguments(job, scratch)?;
        arguments.extend(paths(&libraries));
        if let Some(c) = &c_runtime {
            arguments.extend(paths(&c.libraries));
        }
        arguments.extend(paths(&runtime));
        if let Some(c) = &c_runtime {
            arguments.extend(paths(&c.end));
        }
        let mut values = placeholders(job, &export_list);
        // The DLL entry: the C runtime's start-up code, else the header's own.
        let entry = match &c_runtime {
            Some(c) => c.entry.clone(),
            None => job.platform.constructor_entry.clone().unwrap_or_default(),
        };
        values.push(("entry", entry));
        let start = c_runtime
            .as_ref()
            .map(|c| paths(&c.start))
            .unwrap_or_default();
        let args = expand_args(
            &job.platform.lld.args,
            &values,
            &[
                ("{start_objects}", start),
                ("{system_libraries}", arguments),
            ],
        );
        Ok((args, c_runtime))
    }
}

impl Linker for Lld {
    fn link(&self, job: &LinkJob) -> Result<PathBuf, LinkError> {
        let scratch = tempfile::tempdir()
            .map_err(|e| LinkError::Lld(format!("cannot create a temp dir: {e}")))?;
        let (args, c_runtime) = self.link_line(job, scratch.path())?;
        let without_runtime = job.platform.c_runtime.is_some() && c_runtime.is_none();
        match run_lld(&job.platform.lld.flavor, &args) {
            Err(LinkError::Lld(message)) if without_runtime && message.contains("undefined") => {
                let advice = missing_runtime_advice(job.platform).unwrap_or_default();
                Err(LinkError::Lld(format!("{message}; {advice}")))
            }
            other => other.map(|()| job.output.clone()),
        }
    }
}

/// LLD keeps global state for the length of a link: one link at a time per process. `false`
/// inside once LLD said its state could not be reset (after a crash inside LLD).
static LLD: Mutex<bool> = Mutex::new(true);

/// Runs LLD of `flavor` (`gnu`, `darwin`, `link`) with `args`, one link at a time.
pub(super) fn run_lld(flavor: &str, args: &[String]) -> Result<(), LinkError> {
    let program = match flavor {
        "gnu" => "ld.lld",
        "darwin" => "ld64.lld",
        "link" => "lld-link",
        other => {
            return Err(LinkError::Lld(format!(
                "unknown LLD flavor `{other}` in the platform file"
            )))
        }
    };
    super::show_link_line(&format!("{program} (in process)"), args);
    let owned: Vec<CString> = std::iter::once(program)
        .chain(args.iter().map(String::as_str))
        .map(|a| {
            CString::new(a).map_err(|_| LinkError::Lld(format!("argument `{a}` contains NUL")))
        })
        .collect::<Result<_, _>>()?;

    let mut usable = LLD.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if !*usable {
        return Err(LinkError::Lld(
            "an earlier link crashed inside LLD; restart the process to link again".into(),
        ));
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
