//! link: turns the archive of a dump into an image. A [`LinkJob`] says what to produce; an
//! implementation of [`Linker`] turns that into flags ([`Lld`] in-process, [`Cc`] through the
//! system C compiler driver). [`link_image`] writes to a temp file, seals it and renames it.

mod archive_info;
mod cc;
mod lld;
mod seal;

use std::path::{Path, PathBuf};

pub use archive_info::{read_archive, ArchiveInfo};
pub use cc::Cc;
pub use lld::Lld;
pub use seal::seal;

use crate::target::Platform;

/// What to link: the meaning; linkers pick the flags.
#[derive(Clone, Debug)]
pub struct LinkJob<'a> {
    /// The archive from `dump` (objects and the header object).
    pub archive: PathBuf,
    /// Where the linker writes the shared library.
    pub output: PathBuf,
    /// Functions to export besides the root.
    pub exports: Vec<String>,
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
    #[error("LLD failed: {0}")]
    Lld(String),
    #[error("cannot find the C compiler `{0}` (give --cc a compiler on PATH or a path to one)")]
    CcNotFound(String),
    #[error("`{program}` failed ({status}): {message}")]
    Cc {
        program: String,
        status: String,
        message: String,
    },
    #[error("{}: {cause}", path.display())]
    Output { path: PathBuf, cause: String },
}

/// Links `archive` into the image `output` with `linker`: the linker writes a temp file next to
/// `output`, which is sealed (checksum written) and only then renamed to `output`.
pub fn link_image(
    linker: &dyn Linker,
    archive: &Path,
    output: &Path,
    platform: &Platform,
) -> Result<PathBuf, LinkError> {
    let info = read_archive(archive)?;
    info.check_platform(platform)?;
    let out_err = |cause: String| LinkError::Output {
        path: output.to_path_buf(),
        cause,
    };
    let dir = match output.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let temp = tempfile::Builder::new()
        .prefix(".aotlink-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| out_err(format!("cannot create a file in {}: {e}", dir.display())))?;
    let job = LinkJob {
        archive: archive.to_path_buf(),
        output: temp.path().to_path_buf(),
        exports: info.meta.exports.iter().map(|e| e.name.clone()).collect(),
        platform,
    };
    linker.link(&job)?;
    seal(temp.path()).map_err(|e| out_err(e.to_string()))?;
    set_executable(temp.path()).map_err(|e| out_err(e.to_string()))?;
    temp.persist(output)
        .map_err(|e| out_err(format!("cannot write: {}", e.error)))?;
    Ok(output.to_path_buf())
}

fn set_executable(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}

/// Replaces the platform's `{placeholder}` arguments; `{stubs}` expands to one argument each.
fn expand_args(templates: &[String], values: &[(&str, &str)], stubs: &[PathBuf]) -> Vec<String> {
    let mut out = Vec::new();
    for t in templates {
        if t == "{stubs}" {
            out.extend(stubs.iter().map(|s| s.display().to_string()));
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
    let path = dir.join("exports.list");
    std::fs::write(&path, job.platform.export_list(&job.exports)).map_err(|e| {
        LinkError::Output {
            path: path.clone(),
            cause: e.to_string(),
        }
    })?;
    Ok(path)
}

/// First line of a tool's output that says what went wrong.
fn first_error_line(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let line = lines
        .iter()
        .find(|l| l.contains("error"))
        .or(lines.first())
        .copied()
        .unwrap_or("no message");
    match lines.len() {
        0 | 1 => line.to_string(),
        n => format!("{line} (and {} more lines)", n - 1),
    }
}
