//! The LLD linker: what a [`LinkJob`] means, as the arguments of the platform's LLD driver
//! (`[lld]` in `platform/*.toml`), with the link inputs the job needs (the OS stubs, the
//! user's libraries, the MinGW C runtime, the compiler runtime) in gcc's order; run by
//! `lld_driver.rs`.

use std::path::{Path, PathBuf};

use super::arguments::{expand_args, placeholders, write_symbol_lists};
use super::compiler_runtime::{self, runtime_archives};
use super::job::{LinkError, LinkJob, Linker};
use super::lld_driver::run_lld;
use super::macos_sdk::sdk_system_libraries;
use super::mingw_runtime::{c_runtime_files, missing_runtime_advice, CRuntimeFiles};
use super::os_stubs::system_libraries;
use super::user_libraries::library_arguments;
use crate::target::Crt;

/// Links with the LLD linked into aotlink; flags come from the platform's `[lld]` table.
#[derive(Clone, Debug, Default)]
pub struct Lld {
    /// The compiler-runtime archive to link (`--rtlib`); `None`: found per target.
    pub compiler_runtime: Option<PathBuf>,
    /// Where the target's C runtime is (`--sysroot`: MinGW-w64, or a macOS SDK whose
    /// libSystem stub replaces the vendored one); `None`: asked of its gcc, or vendored.
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
    ///
    /// A hook for the benches (the time spent before LLD sees the archive; the same link by a
    /// standalone `ld.lld`), not an interface: a program links with `Build`.
    #[doc(hidden)]
    pub fn arguments(&self, job: &LinkJob, scratch: &Path) -> Result<Vec<String>, LinkError> {
        Ok(self.link_line(job, scratch)?.0)
    }

    /// The LLD arguments for `job` (without the program name), and the C runtime they link
    /// (`None`: none, or none found); the export list and system libraries they name are
    /// written into `scratch`. A standalone `ld.lld` takes them too.
    fn link_line(
        &self,
        job: &LinkJob,
        scratch: &Path,
    ) -> Result<(Vec<String>, Option<CRuntimeFiles>), LinkError> {
        let lists = write_symbol_lists(job, scratch)?;
        // A macOS SDK as the sysroot gives libSystem's stub; other sysroots hold a C runtime.
        let sysroot = self.sysroot.as_deref();
        let (libraries, c_sysroot) = match sdk_system_libraries(job, sysroot)? {
            Some(sdk) => (sdk, None),
            None => (system_libraries(job, scratch)?, sysroot),
        };
        let c_runtime = c_runtime_files(job, c_sysroot, self.crt)?;
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
        let mut values = placeholders(job, &lists);
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
        let scratch = tempfile::tempdir().map_err(|e| LinkError::TempDir(e.to_string()))?;
        let (args, c_runtime) = self.link_line(job, scratch.path())?;
        let without_runtime = job.platform.c_runtime.is_some() && c_runtime.is_none();
        match run_lld(job.platform.lld.flavor, &args, job.verbose) {
            // Without the C runtime the platform needs, what LLD could not resolve is most
            // likely in it: the failure says how to provide it.
            Err(LinkError::Lld(message)) if without_runtime => {
                let advice = missing_runtime_advice(job.platform).unwrap_or_default();
                Err(LinkError::Lld(format!("{message}; {advice}")))
            }
            other => other.map(|()| job.output.clone()),
        }
    }

    fn warm_up(&self, platform: &crate::target::Platform) {
        compiler_runtime::warm_up(platform, self.compiler_runtime.as_deref());
    }
}
