//! What a link is: the job (its meaning, which the linkers turn into flags), the [`Linker`]
//! that does it and what can go wrong. The bottom of `link/`: imports nothing of its own
//! folder.

use std::path::PathBuf;

use crate::target::Platform;

/// What the image links against besides the C runtime.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Libraries {
    /// `-L`: directories searched for `names`, in order.
    pub dirs: Vec<PathBuf>,
    /// `-l`: libraries by name (`jl` for libjl.so / libjl.dylib / jl.dll).
    pub names: Vec<String>,
    /// `--link-lib`: libraries by path.
    pub paths: Vec<PathBuf>,
}

impl Libraries {
    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.paths.is_empty()
    }
}

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
    /// Code to export besides the root: functions, their aliases, ifuncs.
    pub exports: Vec<String>,
    /// Data to export: variables and their aliases (a DLL marks them `DATA`, so that an import
    /// library gives no jump thunk for them).
    pub data_exports: Vec<String>,
    /// Exported variables a program linked against the image may interpose (ELF: a copy
    /// relocation); everything else binds within the image.
    pub interposable: Vec<String>,
    /// Shared libraries the image depends on (`-l`, `-L`, `--link-lib`).
    pub libraries: Libraries,
    pub platform: &'a Platform,
    /// Print each command line the link runs, on stderr (`--verbose`).
    pub verbose: bool,
}

pub trait Linker: Sync {
    /// Links `job.archive` into a shared library at `job.output`.
    fn link(&self, job: &LinkJob) -> Result<PathBuf, LinkError>;

    /// Finds ahead what a link for `platform` will look up on this machine, on a thread beside
    /// the work before the link (which it must not race: it runs no linker). Errors are left
    /// for the link to report.
    fn warm_up(&self, _platform: &Platform) {}
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
    #[error("{os} images can export at most {max} symbols; this one would export {count} (the root and {} exported symbols)", count - 1)]
    TooManyExports {
        os: String,
        max: usize,
        count: usize,
    },
}
