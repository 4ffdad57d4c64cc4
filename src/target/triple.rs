//! Target triples: the architectures and OSes aotlink builds images for.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    Aarch64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Os {
    Linux,
}

/// A supported target, normalized (`x86_64-unknown-linux-gnu`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Triple {
    pub arch: Arch,
    pub os: Os,
    /// The triple as LLVM should see it.
    pub llvm: String,
}

/// The spellings `--target` accepts, for error messages.
pub const SUPPORTED: &[&str] = &["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"];

impl Triple {
    /// Parses a triple such as `x86_64-unknown-linux-gnu` or `x86_64-pc-linux-gnu`.
    pub fn parse(text: &str) -> Result<Triple, String> {
        let parts: Vec<&str> = text.split('-').collect();
        let unsupported = || {
            format!(
                "unsupported target `{text}` (supported: {})",
                SUPPORTED.join(", ")
            )
        };
        let arch = match parts.first().copied() {
            Some("x86_64" | "amd64") => Arch::X86_64,
            Some("aarch64" | "arm64") => Arch::Aarch64,
            _ => return Err(unsupported()),
        };
        let os = if parts.iter().skip(1).any(|p| p.starts_with("linux")) {
            Os::Linux
        } else {
            return Err(unsupported());
        };
        let llvm = match (arch, os) {
            (Arch::X86_64, Os::Linux) => "x86_64-unknown-linux-gnu",
            (Arch::Aarch64, Os::Linux) => "aarch64-unknown-linux-gnu",
        };
        Ok(Triple {
            arch,
            os,
            llvm: llvm.to_string(),
        })
    }

    /// The machine this process runs on.
    pub fn host() -> Triple {
        let arch = if cfg!(target_arch = "aarch64") {
            "aarch64"
        } else {
            "x86_64"
        };
        Triple::parse(&format!("{arch}-unknown-linux-gnu")).expect("host is supported")
    }

    pub fn object_architecture(&self) -> object::Architecture {
        match self.arch {
            Arch::X86_64 => object::Architecture::X86_64,
            Arch::Aarch64 => object::Architecture::Aarch64,
        }
    }
}

impl fmt::Display for Triple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.llvm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usual_spellings_normalize() {
        assert_eq!(
            Triple::parse("x86_64-pc-linux-gnu").unwrap().llvm,
            "x86_64-unknown-linux-gnu"
        );
        assert_eq!(
            Triple::parse("aarch64-linux-gnu").unwrap().arch,
            Arch::Aarch64
        );
        assert!(Triple::parse("riscv64-unknown-linux-gnu")
            .unwrap_err()
            .contains("supported:"));
    }
}
