//! The OS libraries an image links against, made from what aotlink ships: empty ELF stand-ins
//! with the right sonames, the libSystem `.tbd` stub. No SDK or sysroot of the target is
//! needed. (Windows' C runtime comes from MinGW-w64 instead: `mingw_runtime.rs`.)

use std::path::{Path, PathBuf};

use super::job::{LinkError, LinkJob};
use super::language_runtimes::{runtimes_used, RuntimesUsed};
use super::lld_driver::run_lld;
use crate::target::{vendor_file, LinkedWhen, LldFlavor, SystemLibraryKind};

/// Writes the platform's system libraries the image links against into `dir`; returns their
/// paths, in order.
pub fn system_libraries(job: &LinkJob, dir: &Path) -> Result<Vec<PathBuf>, LinkError> {
    let libraries = &job.platform.system_libraries;
    // Only read the archive when the platform has a library that depends on it.
    let used = match libraries.iter().all(|l| l.when == LinkedWhen::Always) {
        true => RuntimesUsed::default(),
        false => runtimes_used(&job.archive)?,
    };
    libraries
        .iter()
        .filter(|lib| match lib.when {
            LinkedWhen::Always => true,
            LinkedWhen::CxxRuntime => used.cxx,
            LinkedWhen::Unwinder => used.unwinder,
        })
        .map(|lib| match lib.kind {
            SystemLibraryKind::ElfStub => elf_stub(job, &lib.name, dir),
            SystemLibraryKind::Vendor => {
                let path = dir.join(file_name(&lib.name));
                write(&path, vendor(&lib.name)?.as_bytes())?;
                Ok(path)
            }
        })
        .collect()
}

fn vendor(name: &str) -> Result<&'static str, LinkError> {
    vendor_file(name).ok_or_else(|| LinkError::Vendor(name.to_string()))
}

fn file_name(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), LinkError> {
    std::fs::write(path, bytes).map_err(|e| LinkError::Output {
        path: path.to_path_buf(),
        cause: e.to_string(),
    })
}

/// An empty shared library with soname `soname`: linking against it records the dependency
/// (DT_NEEDED) without needing the real library of the target system.
fn elf_stub(job: &LinkJob, soname: &str, dir: &Path) -> Result<PathBuf, LinkError> {
    let object = object::write::Object::new(
        object::BinaryFormat::Elf,
        job.platform.triple().object_architecture(),
        object::Endianness::Little,
    );
    let input = dir.join(format!("{soname}.o"));
    let bytes = object.write().map_err(|e| LinkError::Output {
        path: input.clone(),
        cause: format!("cannot write a stub object: {e}"),
    })?;
    write(&input, &bytes)?;
    let output = dir.join(soname);
    let args: Vec<String> = ["-shared", "-soname", soname, "-o"]
        .iter()
        .map(|s| s.to_string())
        .chain([output.display().to_string(), input.display().to_string()])
        .collect();
    run_lld(LldFlavor::Gnu, &args, job.verbose)?;
    Ok(output)
}
