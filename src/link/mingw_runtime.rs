//! The C runtime of a target whose C library is not part of the OS but of a toolchain's
//! sysroot: MinGW-w64 for Windows (its DLL start-up code, libmingwex, the import libraries of
//! msvcrt.dll or the UCRT, kernel32 and the other default libraries). aotlink links the same
//! files `x86_64-w64-mingw32-gcc -shared` links, in its order (platform/windows.toml), taken
//! from the directory that gcc reports or from `--sysroot DIR`.
//!
//! Which Microsoft C runtime: one per DLL, the same as the program's that loads it (each has
//! its own heap and `FILE` objects, so memory or files passed across would break). By default
//! the one the target's gcc links (`-lmsvcrt`, whose import library names msvcrt.dll in
//! Debian's MinGW-w64 and the UCRT in a toolchain built for it), else `--crt`. What the code
//! calls does not choose it: SQLite calls `acosh` and `log2`, which msvcrt.dll lacks and the
//! UCRT has, and takes them from libmingwex as gcc's build does. Code compiled with MinGW-w64's
//! headers for the other runtime (`-D_UCRT`) calls functions only that one has; it is refused
//! before LLD runs, naming them and the `--crt` that fits.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use object::{Object, ObjectSection};

use super::archive_info::undefined_symbols;
use super::job::{LinkError, LinkJob};
use super::remembered::Remembered;
use crate::target::{CRuntime, Crt, Platform};

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
/// [`missing_runtime_advice`]). With `sysroot`, the runtime must be there; with `crt`, that
/// Microsoft C runtime is linked instead of the toolchain's default.
pub fn c_runtime_files(
    job: &LinkJob,
    sysroot: Option<&Path>,
    crt: Option<Crt>,
) -> Result<Option<CRuntimeFiles>, LinkError> {
    let platform = job.platform;
    let Some(runtime) = &platform.c_runtime else {
        if let Some(crt) = crt {
            return Err(LinkError::Runtime(format!(
                "--crt {crt}: {} images link no Microsoft C runtime",
                platform.os
            )));
        }
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
        return match crt {
            // Linking without the runtime asked for would quietly ignore the choice.
            Some(crt) => Err(LinkError::Runtime(format!(
                "--crt {crt}: no {} C runtime was found: {}, or pass --sysroot DIR",
                platform.triple(),
                runtime.provided_by
            ))),
            None => Ok(None),
        };
    };
    let path_of = |name: &str| -> Result<PathBuf, LinkError> {
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
    let (crt, crt_library) = crt_import_library(runtime, &path_of(&runtime.default_crt)?, crt)?;
    let crt_library = path_of(&crt_library)?;
    let all = |names: &[String]| {
        names
            .iter()
            .map(|name| match name.as_str() {
                "{crt}" => Ok(crt_library.clone()),
                name => path_of(name),
            })
            .collect::<Result<Vec<_>, _>>()
    };
    let libraries = all(&runtime.libraries)?;
    check_code_fits_crt(&job.archive, &dir, runtime, crt, &libraries)?;
    Ok(Some(CRuntimeFiles {
        start: all(&runtime.start_objects)?,
        libraries,
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
    static FOUND: Remembered<String, Option<PathBuf>> = Remembered::new();
    FOUND.get_or(platform.triple().to_string(), |_| locate(runtime, platform))
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

/// The C runtime to link and its import library's name: `requested`, or the one the
/// toolchain's default import library (`default`, a path) imports from.
fn crt_import_library(
    runtime: &CRuntime,
    default: &Path,
    requested: Option<Crt>,
) -> Result<(Crt, String), LinkError> {
    let dlls = imported_dlls(default)?;
    let default_crt = runtime
        .crts
        .iter()
        .find(|(_, library)| dlls.iter().any(|dll| library.has_dll(dll)))
        .map(|(crt, _)| *crt)
        .ok_or_else(|| LinkError::Archive {
            path: default.to_path_buf(),
            cause: format!(
                "imports from {}, none of the C runtimes aotlink links (--crt {})",
                Vec::from_iter(dlls.iter().cloned()).join(", "),
                Vec::from_iter(runtime.crts.keys().map(|c| c.name())).join("|")
            ),
        })?;
    let default_name = default
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match requested {
        None => Ok((default_crt, default_name)),
        // Exactly what gcc links, when it is the one asked for.
        Some(crt) if crt == default_crt => Ok((crt, default_name)),
        Some(crt) => match runtime.crts.get(&crt) {
            Some(library) => Ok((crt, library.import_library.clone())),
            None => Err(LinkError::Runtime(format!(
                "--crt {crt}: the platform file names no import library for it"
            ))),
        },
    }
}

/// The most names an error lists.
const NAMES_SHOWN: usize = 8;

/// Refuses code compiled with MinGW-w64's headers for another C runtime than `crt`: it calls
/// functions that none of the `linked` libraries defines and the other runtime's import
/// library does (the UCRT's `__stdio_common_vfprintf`, for `-D_UCRT`). LLD would stop at them
/// as undefined; this names the `--crt` that fits.
fn check_code_fits_crt(
    archive: &Path,
    dir: &Path,
    runtime: &CRuntime,
    crt: Crt,
    linked: &[PathBuf],
) -> Result<(), LinkError> {
    let called = undefined_symbols(archive)?;
    let mut provided = BTreeSet::new();
    for library in linked {
        provided.extend(defined_symbols(library)?);
    }
    let unresolved: BTreeSet<&String> = called.iter().filter(|n| !provided.contains(*n)).collect();
    if unresolved.is_empty() {
        return Ok(());
    }
    for (other, library) in runtime.crts.iter().filter(|(c, _)| **c != crt) {
        let path = dir.join(&library.import_library);
        if !path.is_file() {
            continue;
        }
        let theirs = defined_symbols(&path)?;
        let only_there: Vec<&str> = unresolved
            .iter()
            .filter(|name| theirs.contains(**name))
            .map(|name| name.strip_prefix("__imp_").unwrap_or(name))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if only_there.is_empty() {
            continue;
        }
        let more = match only_there.len().saturating_sub(NAMES_SHOWN) {
            0 => String::new(),
            n => format!(" and {n} more"),
        };
        return Err(LinkError::Runtime(format!(
            "the code calls {}{more}, which --crt {other} has and --crt {crt} lacks (it was compiled with MinGW-w64's headers for {other}): pass --crt {other}, or compile it for {crt}",
            only_there[..only_there.len().min(NAMES_SHOWN)].join(", ")
        )));
    }
    Ok(())
}

/// The DLLs the import library `path` imports from, lower case, read once per process and
/// path: short import members name theirs (llvm-dlltool's and LLD's libraries); GNU dlltool's
/// libraries hold it in the `.idata$7` section of one member (the import directory's name).
fn imported_dlls(path: &Path) -> Result<BTreeSet<String>, LinkError> {
    static READ: Remembered<PathBuf, BTreeSet<String>> = Remembered::new();
    READ.get_or_find(path.to_path_buf(), |path| read_imported_dlls(path))
}

fn read_imported_dlls(path: &Path) -> Result<BTreeSet<String>, LinkError> {
    let fail = |cause: String| LinkError::Archive {
        path: path.to_path_buf(),
        cause,
    };
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    let ar = object::read::archive::ArchiveFile::parse(&*bytes)
        .map_err(|e| fail(format!("not an archive: {e}")))?;
    let mut dlls = BTreeSet::new();
    // Short import members: a header check each, no object parsing.
    for member in ar.members() {
        let member = member.map_err(|e| fail(e.to_string()))?;
        let data = member.data(&*bytes).map_err(|e| fail(e.to_string()))?;
        if let Ok(import) = object::read::coff::ImportFile::parse(data) {
            dlls.insert(String::from_utf8_lossy(import.dll()).to_ascii_lowercase());
        }
    }
    // GNU dlltool's: only the members the index names for `..._iname` (the name's label)
    // are parsed, not the thousand others.
    if let Some(symbols) = ar.symbols().map_err(|e| fail(e.to_string()))? {
        for symbol in symbols {
            let symbol = symbol.map_err(|e| fail(e.to_string()))?;
            if !symbol.name().ends_with(b"_iname") {
                continue;
            }
            let member = ar
                .member(symbol.offset())
                .map_err(|e| fail(e.to_string()))?;
            let data = member.data(&*bytes).map_err(|e| fail(e.to_string()))?;
            let Ok(file) = object::File::parse(data) else {
                continue;
            };
            for section in file.sections() {
                if section.name() != Ok(".idata$7") {
                    continue;
                }
                let Ok(data) = section.data() else { continue };
                let name = String::from_utf8_lossy(data);
                let name = name.trim_end_matches('\0');
                if name.to_ascii_lowercase().ends_with(".dll")
                    && name.bytes().all(|b| b.is_ascii_graphic())
                {
                    dlls.insert(name.to_ascii_lowercase());
                }
            }
        }
    }
    if dlls.is_empty() {
        return Err(fail("names no DLL: not an import library".into()));
    }
    Ok(dlls)
}

/// The symbols an archive's index lists as defined (read once per process and path).
fn defined_symbols(archive: &Path) -> Result<BTreeSet<String>, LinkError> {
    static READ: Remembered<PathBuf, BTreeSet<String>> = Remembered::new();
    READ.get_or_find(archive.to_path_buf(), |archive| {
        read_defined_symbols(archive)
    })
}

fn read_defined_symbols(archive: &Path) -> Result<BTreeSet<String>, LinkError> {
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
    Ok(names)
}
