//! link: turns the archive of a dump into an image. A [`LinkJob`] says what to produce; an
//! implementation of [`Linker`] turns that into flags ([`Lld`] in-process, [`Cc`] through a C
//! compiler driver), with the per-OS facts of [`Platform`]. [`link_checked_archive`] has the
//! linker write a temp file, seals it (and signs it, if asked) and only then renames it to the
//! output.
//!
//! What it owns, from the bottom up: `lld_driver.rs` runs LLD in this process (one link at a
//! time; the FFI itself is `crate::llvm::lld`); the link inputs, each in a file named for what
//! it is and none importing another: `compiler_runtime.rs` (libgcc / compiler-rt builtins),
//! `mingw_runtime.rs` (MinGW-w64's C runtime, `--crt`), `os_stubs.rs` (the OS libraries'
//! stand-ins, which LLD makes), `user_libraries.rs` (`-l`, `-L`, `--link-lib`) over
//! `import_library.rs` (the COFF import-library writer); `archive_info.rs` reads the dump's
//! archive, and `remembered.rs` keeps what was found about a toolchain's files for the process;
//! above them `lld.rs` and `cc.rs` (the two linkers), then `seal.rs` / `codesign.rs` (the
//! checksum, the Mach-O signature). What it may not touch: emission and the archive's contents
//! (`dump`), the image format's definition (the loader crate's, read only), and the per-OS
//! facts, which it reads from `platform/*.toml` through [`Platform`] and never spells in code.

mod archive_info;
mod cc;
mod codesign;
mod compiler_runtime;
mod flat_lookup;
mod import_library;
mod lld;
mod lld_driver;
mod macos_sdk;
mod mingw_runtime;
mod os_stubs;
mod remembered;
mod seal;
mod user_libraries;

use std::path::{Path, PathBuf};

pub use archive_info::{read_archive, ArchiveInfo};
pub use cc::Cc;
pub use flat_lookup::flat_lookup_names;
pub use lld::Lld;
pub use seal::seal;
pub use user_libraries::Libraries;

use crate::target::Platform;

/// What to link: the meaning; linkers pick the flags.
#[derive(Clone, Debug)]
pub struct LinkJob<'a> {
    /// The archive from `dump` (objects and the header object).
    pub archive: PathBuf,
    /// Where the linker writes the shared library.
    pub output: PathBuf,
    /// The image's final file name (install name, soname, DLL name), whatever `output` is.
    pub output_name: String,
    /// Where the linker writes the import library, on platforms that have them.
    pub import_library: Option<PathBuf>,
    /// Functions to export besides the root.
    pub exports: Vec<String>,
    /// Shared libraries the image depends on (`-l`, `-L`, `--link-lib`).
    pub libraries: Libraries,
    pub platform: &'a Platform,
}

pub trait Linker {
    /// Links `job.archive` into a shared library at `job.output`.
    fn link(&self, job: &LinkJob) -> Result<PathBuf, LinkError>;
}

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("{}: {cause}", path.display())]
    Archive { path: PathBuf, cause: String },
    /// LLD ran and failed: its diagnostics.
    #[error("LLD failed: {0}")]
    Lld(String),
    #[error("an earlier link crashed inside LLD; restart the process to link again")]
    LldUnusable,
    #[error("linker argument `{0}` contains NUL")]
    NulInArgument(String),
    #[error("cannot create a temp dir for the link: {0}")]
    TempDir(String),
    #[error("vendor/{0} is not part of this aotlink")]
    Vendor(String),
    #[error("{0}")]
    Runtime(String),
    #[error("{0}")]
    Library(String),
    #[error("cannot find the C compiler `{0}` (give --cc a compiler on PATH or a path to one)")]
    CcNotFound(String),
    #[error("`{program}` failed ({status}): {message}")]
    Cc {
        program: String,
        status: String,
        message: String,
    },
    #[error("linking {0} images with a C compiler driver is not supported: link with `aotlink pkg` (LLD)")]
    CcUnsupported(String),
    #[error("{}: {cause}", path.display())]
    Output { path: PathBuf, cause: String },
    #[error("{os} images can export at most {max} symbols; this one would export {count} (the root and {} --export functions)", count - 1)]
    TooManyExports {
        os: String,
        max: usize,
        count: usize,
    },
}

/// Links `archive` into the image `output` with `linker`: the linker writes a temp file next to
/// `output`, which is sealed (checksum written) and only then renamed to `output`. On platforms
/// with import libraries one is written beside the image (`x.dll` -> `x.lib`).
///
/// A hook for the benches, which time the link step alone; a program links with
/// `Build::link` (or `Build::build`).
#[doc(hidden)]
pub fn link_image(
    linker: &dyn Linker,
    archive: &Path,
    output: &Path,
    platform: &Platform,
) -> Result<PathBuf, LinkError> {
    link_checked_archive(
        linker,
        &read_archive(archive)?,
        output,
        platform,
        &Libraries::default(),
        None,
    )
}

/// [`link_image`] for an archive already read with [`read_archive`]; with `key`, the sealed
/// image is also signed before it is renamed to `output`.
pub fn link_checked_archive(
    linker: &dyn Linker,
    info: &ArchiveInfo,
    output: &Path,
    platform: &Platform,
    libraries: &Libraries,
    key: Option<&crate::sign::SecretKey>,
) -> Result<PathBuf, LinkError> {
    let archive = info.path.as_path();
    info.check_platform(platform)?;
    check_export_count(platform, info.meta.exports.len())?;
    let out_err = |cause: String| LinkError::Output {
        path: output.to_path_buf(),
        cause,
    };
    let dir = match output.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // Linked under its final file name, in a private directory beside the output: the name
    // ends up inside the image (a DLL's export directory, a Mach-O signature's identifier),
    // so a temporary name would make two builds differ. Renamed into place once sealed.
    let private = tempfile::Builder::new()
        .prefix(".aotlink-")
        .tempdir_in(dir)
        .map_err(|e| {
            out_err(format!(
                "cannot create a directory in {}: {e}",
                dir.display()
            ))
        })?;
    let output_name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = private.path().join(&output_name);
    let implib = platform.import_library_suffix.as_ref().map(|suffix| {
        let name = Path::new(&output_name).with_extension(suffix.trim_start_matches('.'));
        private.path().join(name)
    });
    let job = LinkJob {
        archive: archive.to_path_buf(),
        output: temp.clone(),
        output_name,
        import_library: implib.clone(),
        exports: info.meta.exports.iter().map(|e| e.name.clone()).collect(),
        libraries: libraries.clone(),
        platform,
    };
    linker.link(&job)?;
    if platform.triple().os == crate::target::Os::MacOs {
        flat_lookup::show(&temp);
    }
    seal(&temp).map_err(|e| out_err(e.to_string()))?;
    set_executable(&temp).map_err(|e| out_err(e.to_string()))?;
    if let Some(key) = key {
        crate::sign::sign_image(&temp, key).map_err(|e| out_err(e.to_string()))?;
    }
    if let (Some(implib), Some(suffix)) = (implib, &platform.import_library_suffix) {
        let path = output.with_extension(suffix.trim_start_matches('.'));
        std::fs::rename(&implib, &path)
            .map_err(|e| out_err(format!("cannot write {}: {e}", path.display())))?;
    }
    std::fs::rename(&temp, output).map_err(|e| out_err(format!("cannot write: {e}")))?;
    Ok(output.to_path_buf())
}

/// The root and `exports` functions must fit the format's export table (16-bit ordinals on
/// Windows).
fn check_export_count(platform: &Platform, exports: usize) -> Result<(), LinkError> {
    let count = exports + 1;
    match platform.max_exports {
        Some(max) if count > max => Err(LinkError::TooManyExports {
            os: platform.os.clone(),
            max,
            count,
        }),
        _ => Ok(()),
    }
}

fn set_executable(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}

/// The values of the platform files' `{placeholders}` for `job`.
fn placeholders(job: &LinkJob, export_list: &Path) -> Vec<(&'static str, String)> {
    let triple = job.platform.triple();
    vec![
        ("output", job.output.display().to_string()),
        ("output_name", job.output_name.clone()),
        ("archive", job.archive.display().to_string()),
        ("export_list", export_list.display().to_string()),
        (
            "import_library",
            job.import_library
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        ),
        ("darwin_arch", triple.darwin_arch().to_string()),
        ("min_os", triple.min_os.clone().unwrap_or_default()),
    ]
}

/// Replaces the `{placeholder}`s of the platform's arguments; an argument that is one of the
/// `lists` (`{system_libraries}`) expands to its arguments.
fn expand_args(
    templates: &[String],
    values: &[(&str, String)],
    lists: &[(&str, Vec<String>)],
) -> Vec<String> {
    let mut out = Vec::new();
    for t in templates {
        if let Some((_, list)) = lists.iter().find(|(name, _)| name == t) {
            out.extend(list.iter().cloned());
            continue;
        }
        let mut arg = t.clone();
        for (name, value) in values {
            arg = arg.replace(&format!("{{{name}}}"), value);
        }
        out.push(arg);
    }
    out
}

/// Writes the export list for `job` into `dir`.
fn write_export_list(job: &LinkJob, dir: &Path) -> Result<PathBuf, LinkError> {
    let ext = job
        .platform
        .export_list
        .template
        .rsplit('.')
        .next()
        .unwrap_or("list");
    let path = dir.join(format!("exports.{ext}"));
    std::fs::write(
        &path,
        job.platform.export_list(&job.exports, &job.output_name),
    )
    .map_err(|e| LinkError::Output {
        path: path.clone(),
        cause: e.to_string(),
    })?;
    Ok(path)
}

static VERBOSE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Makes every link print its exact command line on stderr (`--verbose`).
pub fn set_verbose(on: bool) {
    VERBOSE.store(on, std::sync::atomic::Ordering::Relaxed);
}

fn verbose() -> bool {
    VERBOSE.load(std::sync::atomic::Ordering::Relaxed)
}

/// Prints `program args...` on stderr when `--verbose` asked for it.
fn show_link_line(program: &str, args: &[String]) {
    if verbose() {
        eprintln!("aotlink: link: {program} {}", args.join(" "));
    }
}

/// The most errors a failed link's message names; the rest are counted and saved.
const ERRORS_SHOWN: usize = 20;

/// The linker's diagnostics as one line: its first errors (up to [`ERRORS_SHOWN`], the first
/// one whole, the others without the repeated `program: error:`), and when it said more, how
/// much and where all of it was saved (a `.log` file in the temp directory that is kept).
fn linker_diagnostics(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let errors: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.contains("error"))
        .collect();
    let shown: Vec<&str> = match errors.split_first() {
        Some((first, rest)) => std::iter::once(*first)
            .chain(
                rest.iter()
                    .take(ERRORS_SHOWN - 1)
                    .map(|l| l.split_once("error: ").map_or(*l, |(_, message)| message)),
            )
            .collect(),
        None => lines.first().copied().into_iter().collect(),
    };
    let summary = match shown.is_empty() {
        true => "no message".to_string(),
        false => shown.join("; "),
    };
    if lines.len() <= shown.len() {
        return summary;
    }
    let counted = format!("{} errors, {} lines of output", errors.len(), lines.len());
    let saved = tempfile::Builder::new()
        .prefix("aotlink-link-")
        .suffix(".log")
        .tempfile()
        .and_then(|mut f| {
            std::io::Write::write_all(&mut f, text.as_bytes())?;
            f.keep().map_err(|e| e.error)
        });
    match saved {
        Ok((_, path)) => format!("{summary} ({counted}, all in {})", path.display()),
        Err(_) => format!("{summary} ({counted})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::Triple;

    #[test]
    fn link_errors_name_the_first_twenty_and_count_the_rest() {
        let text: String = (0..30)
            .map(|i| format!("ld.lld: error: undefined symbol: f{i:02}\n>>> referenced by x.o\n"))
            .collect();
        let message = linker_diagnostics(&text);
        assert!(message.starts_with("ld.lld: error: undefined symbol: f00; undefined symbol: f01;"));
        assert!(
            message.contains("f19") && !message.contains("f20"),
            "{message}"
        );
        assert!(
            message.contains("(30 errors, 60 lines of output, all in "),
            "{message}"
        );
        assert!(!message.contains('\n'));
        assert_eq!(
            linker_diagnostics("ld.lld: error: one\n"),
            "ld.lld: error: one"
        );
    }

    #[test]
    fn windows_images_fit_the_16_bit_export_table() {
        let windows = Platform::for_triple(&Triple::parse("x86_64-pc-windows-gnu").unwrap());
        assert!(check_export_count(&windows, 65_534).is_ok());
        let err = check_export_count(&windows, 65_535)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("at most 65535 symbols") && err.contains("65535 --export functions"),
            "{err}"
        );
        let linux = Platform::for_triple(&Triple::host());
        assert!(check_export_count(&linux, 1_000_000).is_ok());
    }
}
