//! Shared libraries an image depends on (`-l NAME`, `-L DIR`, `--link-lib PATH`): a package
//! image calls into its runtime's library (a libjulia-like one). ELF records them as
//! DT_NEEDED, Mach-O as LC_LOAD_DYLIB (a `.dylib` or `.tbd`, its install name kept); a Windows
//! DLL needs an import library for each, taken as given (`.lib`, `.dll.a`) or made from the
//! DLL's export table.

use std::path::{Path, PathBuf};

use ar_archive_writer::COFFShortExport;

use super::import_library::{parse_def, short_export, write_coff_import_library};
use super::job::{LinkError, LinkJob};
use crate::target::LldFlavor;

/// The LLD arguments that link `job`'s libraries; import libraries made from DLLs go into
/// `scratch`.
pub fn library_arguments(job: &LinkJob, scratch: &Path) -> Result<Vec<String>, LinkError> {
    let libs = &job.libraries;
    for dir in &libs.dirs {
        if !dir.is_dir() {
            return Err(LinkError::Library(format!(
                "-L {}: no such directory",
                dir.display()
            )));
        }
    }
    for path in &libs.paths {
        if !path.is_file() {
            return Err(LinkError::Library(format!(
                "--link-lib {}: no such file",
                path.display()
            )));
        }
    }
    if job.platform.lld.flavor != LldFlavor::Link {
        // ELF and Mach-O LLD search and record libraries themselves.
        let mut args: Vec<String> = libs
            .dirs
            .iter()
            .map(|d| format!("-L{}", d.display()))
            .collect();
        args.extend(libs.names.iter().map(|n| format!("-l{n}")));
        args.extend(libs.paths.iter().map(|p| p.display().to_string()));
        return Ok(args);
    }
    // COFF: every library becomes an import library LLD is given by path.
    let mut args = Vec::new();
    for name in &libs.names {
        let found = find_windows_library(name, &libs.dirs)?;
        args.push(coff_input(&found, scratch)?);
    }
    for path in &libs.paths {
        args.push(coff_input(path, scratch)?);
    }
    Ok(args)
}

/// `-l NAME` on Windows: the first of `NAME.lib`, `libNAME.dll.a`, `libNAME.a`, `NAME.dll`,
/// `libNAME.dll` in the `-L` directories (MinGW's order, DLLs last).
fn find_windows_library(name: &str, dirs: &[PathBuf]) -> Result<PathBuf, LinkError> {
    let candidates = [
        format!("{name}.lib"),
        format!("lib{name}.dll.a"),
        format!("lib{name}.a"),
        format!("{name}.dll"),
        format!("lib{name}.dll"),
    ];
    dirs.iter()
        .flat_map(|d| candidates.iter().map(move |c| d.join(c)))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            LinkError::Library(format!(
                "-l {name}: none of {} in the -L directories ({})",
                candidates.join(", "),
                dirs.iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
}

/// A library file as LLD's COFF driver takes it: import libraries as they are, a DLL or a
/// `.def` file through an import library made from its exports.
fn coff_input(path: &Path, scratch: &Path) -> Result<String, LinkError> {
    let has_extension = |ext: &str| {
        path.extension()
            .is_some_and(|e| e.eq_ignore_ascii_case(ext))
    };
    let fail = |cause: String| LinkError::Library(format!("{}: {cause}", path.display()));
    if has_extension("def") {
        let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read: {e}")))?;
        let (dll, exports) = parse_def(&text)
            .ok_or_else(|| fail("not a .def file (it has no LIBRARY line)".into()))?;
        let lib = scratch.join(format!("{dll}.lib"));
        write_coff_import_library(&lib, &dll, &exports)?;
        return Ok(lib.display().to_string());
    }
    if !has_extension("dll") {
        return Ok(path.display().to_string());
    }
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    let pe = object::read::pe::PeFile64::parse(&*bytes)
        .map_err(|e| fail(format!("not a 64-bit PE DLL: {e}")))?;
    let dll_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let exports: Vec<_> =
        dll_exports(&pe).map_err(|e| fail(format!("cannot read its export table: {e}")))?;
    if exports.is_empty() {
        return Err(fail("exports nothing".into()));
    }
    let lib = scratch.join(format!("{dll_name}.lib"));
    write_coff_import_library(&lib, &dll_name, &exports)?;
    Ok(lib.display().to_string())
}

/// The named exports of a DLL, each data unless its address lies in an executable section, as
/// GNU ld decides when it links a DLL directly. A function gets a thunk in the import
/// library; data must not: a reference to the thunk would be the address of a jump in this
/// image, not of the variable. (C++ type-info objects point at libstdc++'s type-info vtables:
/// with thunks for them, every `catch` of a thrown class read a jump as a vtable and crashed.)
/// Without a thunk, LLD imports the data automatically (MinGW's pseudo relocations, which the
/// C runtime's entry applies). Forwarded exports are functions.
fn dll_exports(pe: &object::read::pe::PeFile64) -> object::Result<Vec<COFFShortExport>> {
    use object::read::pe::ExportTarget;
    let sections = pe.section_table();
    let is_data = |rva: u32| {
        sections.section_containing(rva).is_some_and(|s| {
            s.characteristics.get(object::LittleEndian) & object::pe::IMAGE_SCN_MEM_EXECUTE == 0
        })
    };
    let Some(table) = pe.export_table()? else {
        return Ok(Vec::new());
    };
    Ok(table
        .exports()?
        .iter()
        .filter_map(|e| {
            let name = String::from_utf8_lossy(e.name?);
            let data = matches!(e.target, ExportTarget::Address(rva) if is_data(rva));
            Some(short_export(&name, data))
        })
        .collect())
}
