//! The instruction-set architectures images are built for, parsed once from a triple so that no
//! other code decides the architecture by looking at a string. The writer (`aotlink`'s
//! `target/triple.rs`) and the loader name the same closed set.

use std::fmt;

/// An architecture aotlink builds images for. Each has its own feature list
/// (`host/features.rs`), whose bits a target's feature mask indexes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arch {
    X86_64,
    Aarch64,
}

impl Arch {
    /// The architecture a triple's first component names (`x86_64`, `amd64`, `aarch64`,
    /// `arm64`), or `None` for any other.
    pub fn from_triple(triple: &str) -> Option<Arch> {
        match triple.split('-').next() {
            Some("x86_64" | "amd64") => Some(Arch::X86_64),
            Some("aarch64" | "arm64") => Some(Arch::Aarch64),
            _ => None,
        }
    }

    /// The architecture of this process.
    pub fn host() -> Option<Arch> {
        if cfg!(target_arch = "x86_64") {
            Some(Arch::X86_64)
        } else if cfg!(target_arch = "aarch64") {
            Some(Arch::Aarch64)
        } else {
            None
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triples_name_their_architecture() {
        for (triple, arch) in [
            ("x86_64-unknown-linux-gnu", Some(Arch::X86_64)),
            ("x86_64-w64-mingw32", Some(Arch::X86_64)),
            ("amd64-pc-linux-gnu", Some(Arch::X86_64)),
            ("aarch64-unknown-linux-gnu", Some(Arch::Aarch64)),
            ("arm64-apple-macosx11.0.0", Some(Arch::Aarch64)),
            ("aarch64_be-linux-gnu", None),
            ("x86_64h-apple-darwin", None),
            ("riscv64-linux-gnu", None),
            ("", None),
        ] {
            assert_eq!(Arch::from_triple(triple), arch, "{triple}");
        }
    }
}
