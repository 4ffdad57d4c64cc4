//! Why an image could not be opened: always the file and one cause on one line.

use std::path::PathBuf;

use crate::format::FormatError;

#[derive(Debug, thiserror::Error)]
#[error("{}: {cause}", path.display())]
pub struct LoadError {
    pub path: PathBuf,
    pub cause: LoadCause,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadCause {
    #[error("cannot read the file: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a shared library (ELF, Mach-O or PE): {0}")]
    NotSharedLibrary(String),
    #[error(
        "not an aotlink image: it exports no `{}` symbol",
        crate::format::ROOT_SYMBOL
    )]
    NotAnImage,
    #[error("damaged image: {0}")]
    Format(#[from] FormatError),
    #[error("damaged image: {0}")]
    Relocation(#[from] crate::file::relocations::RelocationError),
    #[error("the image was never sealed (checksum field is zero): link it with aotlink")]
    Unsealed,
    #[error("not signed (a signature is required)")]
    NotSigned,
    #[error("signed by a key that is not trusted (key {0})")]
    UntrustedKey(String),
    #[error("signature does not match the file's contents")]
    BadSignature,
    #[error("checksum mismatch: the file is damaged or was changed after linking (stored {stored:016x}, computed {computed:016x})")]
    Checksum { stored: u64, computed: u64 },
    #[error("tables digest mismatch: the tables were changed after linking and the checksum recomputed (stored {stored:016x}, computed {computed:016x})")]
    TablesDigest { stored: u64, computed: u64 },
    #[error("image is for {image}, this host is {host}")]
    Foreign { image: String, host: String },
    #[error("{0}")]
    NoCompatibleTarget(String),
    #[error("the dynamic loader refused the image: {0}")]
    Dlopen(String),
    #[error("the process already holds a different image loaded from this path (dlopen returned the old copy)")]
    Stale,
    #[error(transparent)]
    Conflict(#[from] Conflict),
    #[error("system image calls `{name}` ({signature}), which no loaded image provides: {reason}")]
    Unresolved {
        name: String,
        signature: String,
        reason: String,
    },
}

impl LoadCause {
    pub fn at(self, path: impl Into<PathBuf>) -> LoadError {
        LoadError {
            path: path.into(),
            cause: self,
        }
    }
}

/// A method is already defined (same name and signature).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("method `{name}` ({signature}) is already defined by {provider}")]
pub struct Conflict {
    pub name: String,
    pub signature: String,
    pub provider: String,
}
