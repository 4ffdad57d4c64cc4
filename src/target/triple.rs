//! Target triples: the architectures and OSes aotlink builds images for.

use std::fmt;

/// The architecture is the format's (the loader crate owns it, with the one rule that reads
/// it from a triple).
pub use aotload::Arch;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Os {
    Linux,
    MacOs,
    /// Windows with the MinGW (GNU) ABI and the msvcrt C runtime.
    Windows,
}

/// A triple aotlink cannot build for.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TripleError {
    #[error("unsupported target `{text}` (supported: {})", supported_list())]
    Unsupported { text: String },
    #[error("target `{text}`: macOS {version} is not supported, the minimum is {}.{}", MIN_MACOS.0, MIN_MACOS.1)]
    MacOsTooOld { text: String, version: String },
}

fn supported_list() -> String {
    (super::SUPPORTED_TARGETS.iter())
        .map(|t| t.triple)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A supported target, normalized.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Triple {
    pub arch: Arch,
    pub os: Os,
    /// Minimum OS version (macOS: from `macosx11.0`, default 11.0).
    pub min_os: Option<String>,
}

/// macOS releases before 11 cannot run arm64 code, and 11 is the oldest supported here.
const MIN_MACOS: (u32, u32) = (11, 0);

impl Triple {
    /// Whether an object file can hold a 32-bit difference between one of its symbols and a
    /// symbol another object defines (what a shard table in the header needs). x86_64 Mach-O
    /// cannot: its assembler refuses an undefined symbol in a subtraction.
    pub fn has_cross_object_differences(&self) -> bool {
        !(self.arch == Arch::X86_64 && self.os == Os::MacOs)
    }

    /// Parses the usual spellings: `x86_64-unknown-linux-gnu`, `x86_64-pc-linux-gnu`,
    /// `aarch64-linux-gnu`, `arm64-apple-macosx11.0.0`, `x86_64-apple-darwin`,
    /// `x86_64-pc-windows-gnu`, `x86_64-w64-windows-gnu`, `x86_64-w64-mingw32`.
    pub fn parse(text: &str) -> Result<Triple, TripleError> {
        let unsupported = || TripleError::Unsupported {
            text: text.to_string(),
        };
        let parts: Vec<&str> = text.split('-').collect();
        let arch = Arch::from_triple(text).ok_or_else(unsupported)?;
        let rest = &parts[1..];
        let has = |prefix: &str| rest.iter().any(|p| p.starts_with(prefix));
        if has("linux") {
            if rest
                .iter()
                .any(|p| p.contains("musl") || p.contains("android"))
            {
                return Err(unsupported());
            }
            return Ok(Triple {
                arch,
                os: Os::Linux,
                min_os: None,
            });
        }
        if has("macos") || has("darwin") {
            let version = rest
                .iter()
                .find_map(|p| p.strip_prefix("macosx").or_else(|| p.strip_prefix("macos")));
            let min_os = match version.filter(|v| !v.is_empty()) {
                Some(v) => normalize_macos_version(v).ok_or_else(|| TripleError::MacOsTooOld {
                    text: text.to_string(),
                    version: v.to_string(),
                })?,
                None => format!("{}.{}", MIN_MACOS.0, MIN_MACOS.1),
            };
            return Ok(Triple {
                arch,
                os: Os::MacOs,
                min_os: Some(min_os),
            });
        }
        let windows_gnu =
            (has("windows") && rest.last().is_some_and(|p| *p == "gnu")) || has("mingw32");
        if windows_gnu && arch == Arch::X86_64 {
            return Ok(Triple {
                arch,
                os: Os::Windows,
                min_os: None,
            });
        }
        Err(unsupported())
    }

    /// The machine this process runs on.
    pub fn host() -> Triple {
        let arch = if cfg!(target_arch = "aarch64") {
            Arch::Aarch64
        } else {
            Arch::X86_64
        };
        Triple {
            arch,
            os: Os::Linux,
            min_os: None,
        }
    }

    pub fn object_architecture(&self) -> object::Architecture {
        match self.arch {
            Arch::X86_64 => object::Architecture::X86_64,
            Arch::Aarch64 => object::Architecture::Aarch64,
        }
    }

    pub fn object_format(&self) -> object::BinaryFormat {
        match self.os {
            Os::Linux => object::BinaryFormat::Elf,
            Os::MacOs => object::BinaryFormat::MachO,
            Os::Windows => object::BinaryFormat::Pe,
        }
    }

    /// The prefix of this target's GNU toolchain (`aarch64-linux-gnu-gcc`,
    /// `x86_64-w64-mingw32-gcc`); macOS has none.
    pub fn gcc_triple(&self) -> Option<&'static str> {
        match (self.arch, self.os) {
            (Arch::X86_64, Os::Linux) => Some("x86_64-linux-gnu"),
            (Arch::Aarch64, Os::Linux) => Some("aarch64-linux-gnu"),
            (Arch::X86_64, Os::Windows) => Some("x86_64-w64-mingw32"),
            _ => None,
        }
    }

    /// The architecture as Apple's tools spell it (`-arch`).
    pub fn darwin_arch(&self) -> &'static str {
        match self.arch {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "arm64",
        }
    }
}

/// `11`, `11.0`, `11.0.0`, `12.3` -> `11.0`, `12.3`; `None` below the minimum or unreadable.
fn normalize_macos_version(v: &str) -> Option<String> {
    let mut nums = v.split('.').map(|n| n.parse::<u32>());
    let major = nums.next()?.ok()?;
    let minor = nums.next().unwrap_or(Ok(0)).ok()?;
    ((major, minor) >= MIN_MACOS).then(|| format!("{major}.{minor}"))
}

impl std::str::FromStr for Triple {
    type Err = TripleError;

    fn from_str(text: &str) -> Result<Triple, TripleError> {
        Triple::parse(text)
    }
}

impl fmt::Display for Triple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.arch, self.os) {
            (Arch::X86_64, Os::Linux) => f.write_str("x86_64-unknown-linux-gnu"),
            (Arch::Aarch64, Os::Linux) => f.write_str("aarch64-unknown-linux-gnu"),
            (_, Os::MacOs) => {
                write!(
                    f,
                    "{}-apple-macosx{}",
                    self.darwin_arch(),
                    self.min_os.as_deref().unwrap_or("11.0")
                )
            }
            (_, Os::Windows) => f.write_str("x86_64-pc-windows-gnu"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usual_spellings_normalize() {
        let p = |s: &str| Triple::parse(s).unwrap();
        assert_eq!(
            p("x86_64-pc-linux-gnu").to_string(),
            "x86_64-unknown-linux-gnu"
        );
        assert_eq!(p("aarch64-linux-gnu").arch, Arch::Aarch64);
        assert_eq!(p("x86_64-pc-windows-gnu"), p("x86_64-w64-windows-gnu"));
        assert_eq!(p("x86_64-w64-mingw32"), p("x86_64-pc-windows-gnu"));
        assert_eq!(
            p("arm64-apple-macosx11.0.0").to_string(),
            "arm64-apple-macosx11.0"
        );
        assert_eq!(p("aarch64-apple-darwin"), p("arm64-apple-macos11"));
        assert_eq!(p("x86_64-apple-macosx12.3").min_os.as_deref(), Some("12.3"));
    }

    #[test]
    fn unsupported_targets_list_the_supported_ones() {
        for bad in [
            "riscv64-unknown-linux-gnu",
            "x86_64-pc-windows-msvc",
            "x86_64-unknown-linux-musl",
            "wasm32",
        ] {
            assert!(
                Triple::parse(bad)
                    .unwrap_err()
                    .to_string()
                    .contains("supported:"),
                "{bad}"
            );
        }
        assert!(Triple::parse("x86_64-apple-macosx10.15")
            .unwrap_err()
            .to_string()
            .contains("minimum is 11.0"));
    }
}
