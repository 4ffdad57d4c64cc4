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
//! stand-ins, which LLD makes; libstdc++'s and libgcc_s's for code that calls them, which
//! `language_runtimes.rs` tells), `user_libraries.rs` (`-l`, `-L`, `--link-lib`) over
//! `import_library.rs` (the COFF import-library writer); `archive_info.rs` reads the dump's
//! archive, and `remembered.rs` keeps what was found about a toolchain's files for the process;
//! above them `lld.rs` and `cc.rs` (the two linkers), then `seal.rs` / `codesign.rs` (the
//! checksum, the Mach-O signature). What it may not touch: emission and the archive's contents
//! (`dump`), the image format's definition (the loader crate's, read only), and the per-OS
//! facts, which it reads from `platform/*.toml` through [`Platform`] and never spells in code.

mod archive_info;
mod arguments;
mod cc;
mod codesign;
mod compiler_runtime;
mod diagnostics;
mod flat_lookup;
mod import_library;
mod job;
mod language_runtimes;
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
pub use job::{Libraries, LinkError, LinkJob, Linker};
pub use lld::Lld;
pub use seal::seal;

use crate::target::Platform;

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
        false,
    )
    .map(|linked| linked.path)
}

/// An image linked, sealed and in place.
#[derive(Clone, Debug)]
pub struct Linked {
    pub path: PathBuf,
    /// macOS: the names bound at load time by flat lookup, not to a library (sorted).
    pub flat_lookup: Vec<String>,
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
    verbose: bool,
) -> Result<Linked, LinkError> {
    let archive = info.path.as_path();
    info.check_platform(platform)?;
    let (code, data): (Vec<_>, Vec<_>) =
        (info.meta.symbol_exports.iter()).partition(|x| x.kind != aotload::meta::SymbolKind::Data);
    let symbol_names = |list: Vec<&aotload::meta::SymbolExport>| -> Vec<String> {
        list.into_iter().map(|x| x.name.clone()).collect()
    };
    let mut exports: Vec<String> = info.meta.exports.iter().map(|e| e.name.clone()).collect();
    exports.extend(symbol_names(code));
    let data_exports = symbol_names(data);
    // The exported variables that are gvars (not thread-locals, not aliases): codegen made
    // them interposable (`Program::interposable`).
    let gvars: std::collections::HashSet<&str> =
        info.meta.gvars.iter().map(|g| g.name.as_str()).collect();
    let interposable = (data_exports.iter())
        .filter(|name| gvars.contains(name.as_str()))
        .cloned()
        .collect();
    check_export_count(platform, exports.len() + data_exports.len())?;
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
    let private = crate::crash_note::make_temp(dir, "", |path| {
        tempfile::Builder::new()
            .prefix(path.file_name().unwrap_or_default())
            .rand_bytes(0)
            .tempdir_in(dir)
    })
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
        exports,
        data_exports,
        interposable,
        libraries: libraries.clone(),
        platform,
        verbose,
    };
    linker.link(&job)?;
    // Read once, from the file the linker wrote: the report lists them, --verbose prints them.
    let flat_lookup = match platform.triple().os {
        crate::target::Os::MacOs => flat_lookup::names_in(&temp),
        _ => Vec::new(),
    };
    if verbose {
        flat_lookup::show(&flat_lookup);
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
    Ok(Linked {
        path: output.to_path_buf(),
        flat_lookup,
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::Triple;

    #[test]
    fn windows_images_fit_the_16_bit_export_table() {
        let windows = Platform::for_triple(&Triple::parse("x86_64-pc-windows-gnu").unwrap());
        assert!(check_export_count(&windows, 65_534).is_ok());
        let err = check_export_count(&windows, 65_535)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("at most 65535 symbols") && err.contains("65535 exported symbols"),
            "{err}"
        );
        let linux = Platform::for_triple(&Triple::host());
        assert!(check_export_count(&linux, 1_000_000).is_ok());
    }
}
