//! Per-OS facts for linking an image, read from `platform/*.toml`: one value, no `if os == ...`
//! anywhere else.

use serde::Deserialize;

use super::triple::{Os, Triple};

/// What a linker needs to know about the OS an image is for.
#[derive(Clone, Debug, Deserialize)]
pub struct Platform {
    pub os: String,
    pub object_format: String,
    /// File name ending of images (`.so`).
    pub image_suffix: String,
    /// Prefix the OS's C symbol names carry in object files (`_` on Mach-O).
    pub symbol_prefix: String,
    /// Name of the export-list template in `linker-scripts/`.
    pub export_list_template: String,
    /// System libraries the image records as dependencies, linked against generated stand-ins.
    #[serde(default)]
    pub stub_libraries: Vec<String>,
    pub lld: LldFlags,
    pub cc: CcFlags,
    /// The target this platform value was made for (not in the file).
    #[serde(skip)]
    pub triple: Option<Triple>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct LldFlags {
    /// LLD driver flavor: `gnu` (ELF), `darwin` (Mach-O), `link` (COFF).
    pub flavor: String,
    pub args: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct CcFlags {
    pub args: Vec<String>,
}

impl Platform {
    /// The platform of `triple`'s OS.
    pub fn for_triple(triple: &Triple) -> Platform {
        let text = match triple.os {
            Os::Linux => include_str!("../../platform/linux.toml"),
        };
        let mut platform: Platform =
            toml::from_str(text).expect("platform files are checked by tests");
        platform.triple = Some(triple.clone());
        platform
    }

    pub fn triple(&self) -> &Triple {
        self.triple.as_ref().expect("set by for_triple")
    }

    /// The export list for `exports` (plus the root), from the platform's template.
    pub fn export_list(&self, exports: &[String]) -> String {
        let template = match self.export_list_template.as_str() {
            "elf.ver" => include_str!("../../linker-scripts/elf.ver"),
            other => unreachable!("unknown export list template {other}"),
        };
        let lines: Vec<String> = exports.iter().map(|e| format!("    {e};")).collect();
        template.replace("{exports}", &lines.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_platform_file_parses() {
        let linux = Platform::for_triple(&Triple::parse("x86_64-unknown-linux-gnu").unwrap());
        assert_eq!(linux.image_suffix, ".so");
        assert!(linux.export_list(&["f".into()]).contains("    f;"));
    }
}
