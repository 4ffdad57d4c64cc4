//! The OS libraries an image links against, made from what aotlink ships: empty ELF stand-ins
//! with the right sonames, the libSystem `.tbd` stub. No SDK or sysroot of the target is
//! needed. (Windows' C runtime comes from MinGW-w64 instead: `c_runtime.rs`.) Also COFF
//! import libraries, for the libraries an image names (`libraries.rs`).

use std::path::{Path, PathBuf};

use ar_archive_writer::{write_import_library, COFFShortExport, MachineTypes};

use super::lld::run_lld;
use super::{LinkError, LinkJob};
use crate::target::{vendor_file, SystemLibraryKind};

/// Writes the platform's system libraries into `dir`; returns their paths, in order.
pub fn system_libraries(job: &LinkJob, dir: &Path) -> Result<Vec<PathBuf>, LinkError> {
    job.platform
        .system_libraries
        .iter()
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
    vendor_file(name)
        .ok_or_else(|| LinkError::Lld(format!("vendor/{name} is not part of this aotlink")))
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
    let bytes = object
        .write()
        .map_err(|e| LinkError::Lld(format!("cannot write a stub object: {e}")))?;
    let input = dir.join(format!("{soname}.o"));
    write(&input, &bytes)?;
    let output = dir.join(soname);
    let args: Vec<String> = ["-shared", "-soname", soname, "-o"]
        .iter()
        .map(|s| s.to_string())
        .chain([output.display().to_string(), input.display().to_string()])
        .collect();
    run_lld("gnu", &args)?;
    Ok(output)
}

/// Writes the COFF import library of `dll` (x86_64) with `exports` to `path`.
pub(super) fn write_coff_import_library(
    path: &Path,
    dll: &str,
    exports: &[COFFShortExport],
) -> Result<(), LinkError> {
    let fail = |cause: String| LinkError::Output {
        path: path.to_path_buf(),
        cause,
    };
    let mut file = std::fs::File::create(path).map_err(|e| fail(e.to_string()))?;
    write_import_library(
        &mut file,
        dll,
        exports,
        MachineTypes::AMD64,
        true,
        false,
        &[],
    )
    .map_err(|e| fail(e.to_string()))
}

/// An export of an import library: a function `name`, or data with `data`.
pub(super) fn short_export(name: &str, data: bool) -> COFFShortExport {
    COFFShortExport {
        name: name.to_string(),
        ext_name: None,
        symbol_name: None,
        import_name: None,
        export_as: None,
        ordinal: 0,
        noname: false,
        data,
        private: false,
        constant: false,
    }
}

/// A `.def` file's DLL and exports (`LIBRARY x.dll`, then `EXPORTS` lines `name [DATA]`;
/// `;` starts a comment).
pub(super) fn parse_def(def: &str) -> Option<(String, Vec<COFFShortExport>)> {
    let mut dll = None;
    let mut exports = Vec::new();
    for line in def
        .lines()
        .map(|l| l.split(';').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
    {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["LIBRARY", name] => dll = Some(name.to_string()),
            ["EXPORTS"] => {}
            [name, rest @ ..] => exports.push(short_export(name, rest.contains(&"DATA"))),
            [] => {}
        }
    }
    Some((dll?, exports))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn def_files_parse() {
        let (dll, exports) =
            parse_def("; c\nLIBRARY msvcrt.dll\nEXPORTS\n    memcpy\n    _iob DATA ; data\n")
                .unwrap();
        assert_eq!(dll, "msvcrt.dll");
        assert_eq!(exports.len(), 2);
        assert!(!exports[0].data && exports[1].data);
        assert!(parse_def("EXPORTS\n f\n").is_none(), "no LIBRARY line");
    }
}
