//! The C runtime of a target whose C library is not part of the OS but of a toolchain's
//! sysroot: MinGW-w64 for Windows (its DLL start-up code, libmingwex, the import libraries of
//! msvcrt.dll or the UCRT, kernel32 and the other default libraries). aotlink links the same
//! files `x86_64-w64-mingw32-gcc -shared` links, in its order (platform/windows.toml), taken
//! from the directory that gcc reports or from `--sysroot DIR`.
//!
//! Which Microsoft C runtime: the code says, through the functions it calls. MinGW-w64's
//! headers compiled for the UCRT (`_UCRT`) call functions only the UCRT has (the
//! `__stdio_common_*` family and others), so the first of the platform's `crts` (msvcrt, the
//! default of Debian's MinGW-w64) is taken unless the code calls a function that another one
//! defines and it lacks.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use super::archive_info::undefined_symbols;
use super::{LinkError, LinkJob};
use crate::target::{CRuntime, Platform};

/// The files of the C runtime to link, in the order they go on the link line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CRuntimeFiles {
    /// Before the image's objects.
    pub start: Vec<PathBuf>,
    /// After them.
    pub libraries: Vec<PathBuf>,
    /// Last.
    pub end: Vec<PathBuf>,
    /// The DLL entry point the start-up objects define.
    pub entry: String,
}

/// The C runtime for `job`: `None` when its platform needs none, or needs one that is not
/// installed (the link then fails only if the code calls the C library, with advice; see
/// [`missing_runtime_advice`]). With `sysroot`, the runtime must be there.
pub fn c_runtime_files(
    job: &LinkJob,
    sysroot: Option<&Path>,
) -> Result<Option<CRuntimeFiles>, LinkError> {
    let platform = job.platform;
    let Some(runtime) = &platform.c_runtime else {
        return match sysroot {
            Some(dir) => Err(LinkError::Runtime(format!(
                "--sysroot {}: {} images are linked without a sysroot",
                dir.display(),
                platform.os
            ))),
            None => Ok(None),
        };
    };
    let dir = match sysroot {
        Some(sysroot) => Some(lib_dir_in_sysroot(runtime, platform, sysroot)?),
        None => located_lib_dir(runtime, platform),
    };
    let Some(dir) = dir else {
        return Ok(None);
    };
    let crt = choose_crt(&job.archive, &dir, &runtime.crts)?;
    let path_of = |name: &String| -> Result<PathBuf, LinkError> {
        let name = if name == "{crt}" { &crt } else { name };
        let path = dir.join(name);
        if path.is_file() {
            Ok(path)
        } else {
            Err(LinkError::Runtime(format!(
                "the C runtime in {} lacks {name}: {}, or pass --sysroot DIR",
                dir.display(),
                runtime.provided_by
            )))
        }
    };
    let all = |names: &[String]| names.iter().map(path_of).collect::<Result<Vec<_>, _>>();
    Ok(Some(CRuntimeFiles {
        start: all(&runtime.start_objects)?,
        libraries: all(&runtime.libraries)?,
        end: all(&runtime.end_objects)?,
        entry: runtime.entry.clone(),
    }))
}

/// What to add to a failed link's message when the platform has a C runtime that was not
/// found and the linker could not resolve something.
pub fn missing_runtime_advice(platform: &Platform) -> Option<String> {
    platform.c_runtime.as_ref().map(|runtime| {
        format!(
            "the {} C runtime was not found, which defines most of what a C program calls: {}, or pass --sysroot DIR",
            platform.triple(),
            runtime.provided_by
        )
    })
}

/// The runtime's library directory under `--sysroot`: the first of the platform's candidates
/// that holds its first start-up object.
fn lib_dir_in_sysroot(
    runtime: &CRuntime,
    platform: &Platform,
    sysroot: &Path,
) -> Result<PathBuf, LinkError> {
    let marker = runtime.start_objects.first().map_or("", String::as_str);
    let candidates: Vec<PathBuf> = runtime
        .sysroot_lib_dirs
        .iter()
        .map(|d| sysroot.join(fill_gcc_triple(d, platform)))
        .collect();
    candidates
        .iter()
        .find(|d| d.join(marker).is_file())
        .cloned()
        .ok_or_else(|| {
            let tried: Vec<String> = candidates.iter().map(|d| d.display().to_string()).collect();
            LinkError::Runtime(format!(
                "--sysroot {}: no {} C runtime there ({marker} in none of {})",
                sysroot.display(),
                platform.triple(),
                tried.join(", ")
            ))
        })
}

/// The runtime's library directory as the target's gcc reports it (once per process and
/// target); `None` when that gcc is not installed.
fn located_lib_dir(runtime: &CRuntime, platform: &Platform) -> Option<PathBuf> {
    static FOUND: Mutex<Vec<(String, Option<PathBuf>)>> = Mutex::new(Vec::new());
    let key = platform.triple().to_string();
    let mut found = FOUND.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, dir)) = found.iter().find(|(k, _)| *k == key) {
        return dir.clone();
    }
    let dir = locate(runtime, platform);
    found.push((key, dir.clone()));
    dir
}

fn locate(runtime: &CRuntime, platform: &Platform) -> Option<PathBuf> {
    if runtime.locate.iter().any(|a| a.contains("{gcc_triple}")) {
        platform.triple().gcc_triple()?;
    }
    let args: Vec<String> = runtime
        .locate
        .iter()
        .map(|a| fill_gcc_triple(a, platform))
        .collect();
    let (program, rest) = args.split_first()?;
    let out = Command::new(program).args(rest).output().ok()?;
    let printed = String::from_utf8(out.stdout).ok()?;
    let file = PathBuf::from(printed.trim());
    // gcc prints the bare name back when it has no such file.
    if !(out.status.success() && file.is_absolute() && file.is_file()) {
        return None;
    }
    std::fs::canonicalize(file.parent()?).ok()
}

fn fill_gcc_triple(text: &str, platform: &Platform) -> String {
    let gcc = platform.triple().gcc_triple().unwrap_or_default();
    text.replace("{gcc_triple}", gcc)
}

/// The first of `crts` (import libraries in `dir`) unless the archive calls a function that
/// a later one defines and the first lacks.
fn choose_crt(archive: &Path, dir: &Path, crts: &[String]) -> Result<String, LinkError> {
    let Some((default, others)) = crts.split_first() else {
        return Ok(String::new());
    };
    if others.is_empty() {
        return Ok(default.clone());
    }
    let called = undefined_symbols(archive)?;
    let default_defines = defined_symbols(&dir.join(default))?;
    for other in others {
        let path = dir.join(other);
        if !path.is_file() {
            continue;
        }
        let only_there = defined_symbols(&path)?;
        if called
            .iter()
            .any(|name| only_there.contains(name) && !default_defines.contains(name))
        {
            return Ok(other.clone());
        }
    }
    Ok(default.clone())
}

/// The symbols an archive's index lists as defined (read once per process and path).
fn defined_symbols(archive: &Path) -> Result<BTreeSet<String>, LinkError> {
    static READ: Mutex<Vec<(PathBuf, BTreeSet<String>)>> = Mutex::new(Vec::new());
    let mut read = READ.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, names)) = read.iter().find(|(p, _)| p == archive) {
        return Ok(names.clone());
    }
    let fail = |cause: String| LinkError::Archive {
        path: archive.to_path_buf(),
        cause,
    };
    let bytes = std::fs::read(archive).map_err(|e| fail(format!("cannot read: {e}")))?;
    let ar = object::read::archive::ArchiveFile::parse(&*bytes)
        .map_err(|e| fail(format!("not an archive: {e}")))?;
    let mut names = BTreeSet::new();
    if let Some(symbols) = ar.symbols().map_err(|e| fail(e.to_string()))? {
        for symbol in symbols {
            let symbol = symbol.map_err(|e| fail(e.to_string()))?;
            names.insert(String::from_utf8_lossy(symbol.name()).into_owned());
        }
    }
    read.push((archive.to_path_buf(), names.clone()));
    Ok(names)
}
