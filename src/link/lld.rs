//! The LLD linker, inside this process (lld_rs).

use std::path::{Path, PathBuf};

use super::system_libs::system_libraries;
use super::{
    expand_args, first_error_line, placeholders, write_export_list, LinkError, LinkJob, Linker,
};

/// Links with the LLD linked into aotlink; flags come from the platform's `[lld]` table.
pub struct Lld;

impl Lld {
    /// The LLD arguments for `job` (without the program name); the export list and system
    /// libraries they name are written into `scratch`. A standalone `ld.lld` takes them too.
    pub fn arguments(job: &LinkJob, scratch: &Path) -> Result<Vec<String>, LinkError> {
        let export_list = write_export_list(job, scratch)?;
        let libraries = system_libraries(job, scratch)?;
        Ok(expand_args(
            &job.platform.lld.args,
            &placeholders(job, &export_list),
            &libraries,
        ))
    }
}

impl Linker for Lld {
    fn link(&self, job: &LinkJob) -> Result<PathBuf, LinkError> {
        let scratch = tempfile::tempdir()
            .map_err(|e| LinkError::Lld(format!("cannot create a temp dir: {e}")))?;
        let args = Lld::arguments(job, scratch.path())?;
        run_lld(&job.platform.lld.flavor, &args)?;
        Ok(job.output.clone())
    }
}

/// Runs LLD of `flavor` with `args`. lld_rs serializes calls and resets LLD's global state.
pub(super) fn run_lld(flavor: &str, args: &[String]) -> Result<(), LinkError> {
    let flavor = match flavor {
        "gnu" => lld_rs::LldFlavor::Elf,
        "darwin" => lld_rs::LldFlavor::MachO,
        "link" => lld_rs::LldFlavor::Coff,
        other => {
            return Err(LinkError::Lld(format!(
                "unknown LLD flavor `{other}` in the platform file"
            )))
        }
    };
    lld_rs::link(flavor, args)
        .ok()
        .map_err(|messages| LinkError::Lld(first_error_line(&messages)))
}
