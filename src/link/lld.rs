//! The LLD linker, inside this process (lld_rs).

use std::path::{Path, PathBuf};

use super::{expand_args, first_error_line, write_export_list, LinkError, LinkJob, Linker};

/// Links with the LLD linked into aotlink; flags come from the platform's `[lld]` table.
pub struct Lld;

impl Lld {
    /// The LLD arguments for `job` (without the program name); the export list and stub
    /// libraries they name are written into `scratch`. A standalone `ld.lld` takes them too.
    pub fn arguments(job: &LinkJob, scratch: &Path) -> Result<Vec<String>, LinkError> {
        let export_list = write_export_list(job, scratch)?;
        let stubs = job
            .platform
            .stub_libraries
            .iter()
            .map(|soname| make_stub_library(job, soname, scratch))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(expand_args(
            &job.platform.lld.args,
            &[
                ("output", &job.output.display().to_string()),
                ("archive", &job.archive.display().to_string()),
                ("export_list", &export_list.display().to_string()),
            ],
            &stubs,
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
fn run_lld(flavor: &str, args: &[String]) -> Result<(), LinkError> {
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

/// An empty shared library with soname `soname`: linking against it records the dependency
/// (DT_NEEDED) without needing the real library of the target system.
fn make_stub_library(job: &LinkJob, soname: &str, dir: &Path) -> Result<PathBuf, LinkError> {
    let triple = job.platform.triple();
    let object = object::write::Object::new(
        object::BinaryFormat::Elf,
        triple.object_architecture(),
        object::Endianness::Little,
    );
    let bytes = object
        .write()
        .map_err(|e| LinkError::Lld(format!("cannot write a stub object: {e}")))?;
    let input = dir.join(format!("{soname}.o"));
    std::fs::write(&input, bytes).map_err(|e| LinkError::Output {
        path: input.clone(),
        cause: e.to_string(),
    })?;
    let output = dir.join(soname);
    let args: Vec<String> = vec![
        "-shared".into(),
        "-soname".into(),
        soname.into(),
        "-o".into(),
        output.display().to_string(),
        input.display().to_string(),
    ];
    run_lld("gnu", &args)?;
    Ok(output)
}
