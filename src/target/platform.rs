//! Per-OS facts for linking an image, read from `platform/*.toml`: one value, no `if os == ...`
//! anywhere else. The files and the vendored stubs they name are compiled into aotlink.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::triple::{Arch, Os, Triple};

/// What a linker needs to know about the OS an image is for.
#[derive(Clone, Debug, Deserialize)]
pub struct Platform {
    pub os: String,
    /// File name ending of images (`.so`).
    pub image_suffix: String,
    /// With it, an import library is written beside the image (`x.dll` -> `x.lib`).
    #[serde(default)]
    pub import_library_suffix: Option<String>,
    /// The most symbols an image can export (the root included), where the format limits it.
    #[serde(default)]
    pub max_exports: Option<usize>,
    /// The default CPU targets, per architecture.
    pub cpu_targets: CpuTargetDefaults,
    pub export_list: ExportList,
    /// The C runtime libraries the image links against.
    #[serde(default, rename = "system_library")]
    pub system_libraries: Vec<SystemLibrary>,
    pub lld: LldFlags,
    /// Commands that print the path of the target's compiler-runtime archive, tried in order
    /// (`{gcc_triple}`, `{clang_triple}` filled in); none: the target has no runtime here.
    #[serde(default)]
    pub compiler_runtime: Vec<Vec<String>>,
    /// The OS's C library provides the runtime's functions at load time (macOS: libSystem
    /// re-exports libcompiler_rt), all but those only a static runtime has (`__cpu_model`).
    #[serde(default)]
    pub system_provides_runtime: bool,
    /// Runtime functions not to take from a `libgcc.a` (another calling convention than
    /// LLVM's on this OS).
    #[serde(default)]
    pub libgcc_unusable: Vec<String>,
    /// The entry point the header object defines to run C constructors and destructors
    /// (a DLL's entry), where the linker arguments name it.
    #[serde(default)]
    pub constructor_entry: Option<String>,
    /// The C runtime found in a sysroot of the target (MinGW-w64), linked as the target's gcc
    /// links it; `None`: the OS's own libraries are enough (stubs of them, above).
    #[serde(default)]
    pub c_runtime: Option<CRuntime>,
    /// How to link with a C compiler driver; `None`: not supported for this OS.
    #[serde(default)]
    pub cc: Option<CcFlags>,
    /// The target this platform value was made for (not in the file).
    #[serde(skip)]
    pub triple: Option<Triple>,
}

/// The CPU targets (Julia's grammar) an image gets without `--cpu-target`, per architecture
/// the OS runs on; the first target is the OS's baseline.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpuTargetDefaults {
    #[serde(default)]
    pub x86_64: Option<String>,
    #[serde(default)]
    pub aarch64: Option<String>,
}

/// The file that says which symbols the image exports.
#[derive(Clone, Debug, Deserialize)]
pub struct ExportList {
    /// Name of the template in `linker-scripts/`.
    pub template: String,
    /// One export's line, `{name}` replaced (with `\` and `"` escaped by a backslash).
    pub line: String,
    /// A data export's line, where it differs from `line` (a DLL's `DATA`).
    #[serde(default)]
    pub data_line: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct SystemLibrary {
    pub kind: SystemLibraryKind,
    /// A soname (`elf-stub`) or a path under `vendor/` (`vendor`).
    pub name: String,
    /// Which images link it (default: every one).
    #[serde(default)]
    pub when: LinkedWhen,
}

/// Which images a system library is linked into.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkedWhen {
    #[default]
    Always,
    /// Only images whose code calls into the C++ runtime (libstdc++'s `std::` functions,
    /// `operator new`, exceptions), as `g++` links it and `gcc` does not.
    CxxRuntime,
    /// Only images whose code calls the unwinder (`_Unwind_Resume`: Rust panics, C++
    /// exceptions), as `g++` and rustc link it.
    Unwinder,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SystemLibraryKind {
    /// An empty ELF shared object with this soname, made at link time.
    ElfStub,
    /// A file from `vendor/` given to the linker as is (a `.tbd` stub).
    Vendor,
}

/// A C runtime that lives in a sysroot: its start-up objects and libraries, as the target's
/// gcc links them (`gcc -dumpspecs`), found by asking that gcc or under `--sysroot`.
#[derive(Clone, Debug, Deserialize)]
pub struct CRuntime {
    /// What to install when it is missing (one line of advice).
    pub provided_by: String,
    /// A command that prints the path of a file in the runtime's library directory
    /// (`{gcc_triple}` filled in).
    pub locate: Vec<String>,
    /// Where the library directory is under `--sysroot DIR` (tried in order).
    pub sysroot_lib_dirs: Vec<String>,
    /// Objects linked before the image's own (the DLL start-up code).
    pub start_objects: Vec<String>,
    /// Libraries linked after them; `{crt}` is the import library of the Microsoft C runtime
    /// (`--crt`, default: the toolchain's).
    pub libraries: Vec<String>,
    /// Objects linked last.
    #[serde(default)]
    pub end_objects: Vec<String>,
    /// The import library the target's gcc links for its default C runtime (`-lmsvcrt` in its
    /// specs); which C runtime that is, is read from the DLLs it imports from.
    pub default_crt: String,
    /// Each C runtime a DLL can link (`--crt`).
    pub crts: BTreeMap<Crt, CrtLibrary>,
    /// The entry point the start-up objects define.
    pub entry: String,
}

/// A Microsoft C runtime a Windows DLL links (`--crt`). A DLL and the program that loads it
/// must use the same one: each has its own heap and its own `FILE` objects, so memory or files
/// passed from one to the other would break.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Crt {
    /// msvcrt.dll, the default of Debian's MinGW-w64 and of its headers.
    Msvcrt,
    /// The Universal C runtime (ucrtbase.dll, `api-ms-win-crt-*.dll`), for code compiled with
    /// MinGW-w64's headers for it (`-D_UCRT`).
    Ucrt,
}

impl Crt {
    /// The name `--crt` takes.
    pub fn name(self) -> &'static str {
        match self {
            Crt::Msvcrt => "msvcrt",
            Crt::Ucrt => "ucrt",
        }
    }
}

impl std::fmt::Display for Crt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How one C runtime is linked and recognized.
#[derive(Clone, Debug, Deserialize)]
pub struct CrtLibrary {
    /// MinGW-w64's import library for it, whatever the toolchain's default is.
    pub import_library: String,
    /// The DLLs it consists of, lower case (`*` at the end: any name with that start).
    pub dlls: Vec<String>,
}

impl CrtLibrary {
    /// Whether this runtime consists of `dll` (any case).
    pub fn has_dll(&self, dll: &str) -> bool {
        let dll = dll.to_ascii_lowercase();
        self.dlls
            .iter()
            .any(|pattern| match pattern.strip_suffix('*') {
                Some(start) => dll.starts_with(start),
                None => dll == *pattern,
            })
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct LldFlags {
    pub flavor: LldFlavor,
    pub args: Vec<String>,
}

/// Which of LLD's drivers links the OS's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LldFlavor {
    /// ELF, `ld.lld`.
    Gnu,
    /// Mach-O, `ld64.lld`.
    Darwin,
    /// COFF, `lld-link`.
    Link,
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
            Os::MacOs => include_str!("../../platform/macos.toml"),
            Os::Windows => include_str!("../../platform/windows.toml"),
        };
        let mut platform: Platform =
            toml::from_str(text).expect("platform files are checked by tests");
        platform.triple = Some(triple.clone());
        platform
    }

    pub fn triple(&self) -> &Triple {
        self.triple.as_ref().expect("set by for_triple")
    }

    /// The CPU targets an image for this platform's triple gets without `--cpu-target`.
    pub fn default_cpu_targets(&self) -> &str {
        let defaults = &self.cpu_targets;
        match self.triple().arch {
            Arch::X86_64 => defaults.x86_64.as_deref(),
            Arch::Aarch64 => defaults.aarch64.as_deref(),
        }
        .expect("every supported triple's platform file has its CPU targets (tested)")
    }

    /// The export list for the code `exports` and the `data` (plus the root), from the
    /// platform's template.
    pub fn export_list(&self, exports: &[String], data: &[String], output_name: &str) -> String {
        let escape = |name: &str| name.replace('\\', "\\\\").replace('"', "\\\"");
        let list = &self.export_list;
        let data_line = list.data_line.as_ref().unwrap_or(&list.line);
        let lines: Vec<String> = (exports.iter().map(|e| (e, &list.line)))
            .chain(data.iter().map(|d| (d, data_line)))
            .map(|(name, line)| line.replace("{name}", &escape(name)))
            .collect();
        template(&self.export_list.template)
            .replace("{output_name}", output_name)
            .replace("{exports}", &lines.join("\n"))
    }
}

/// The export-list templates of `linker-scripts/`.
fn template(name: &str) -> &'static str {
    match name {
        "elf.ver" => include_str!("../../linker-scripts/elf.ver"),
        "macho.exp" => include_str!("../../linker-scripts/macho.exp"),
        "coff.def" => include_str!("../../linker-scripts/coff.def"),
        other => panic!("no linker-scripts/{other} (platform files are checked by tests)"),
    }
}

/// The files of `vendor/`.
pub fn vendor_file(name: &str) -> Option<&'static str> {
    match name {
        "macos/libSystem.tbd" => Some(include_str!("../../vendor/macos/libSystem.tbd")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_c_runtime_is_told_by_its_dlls() {
        let windows = Platform::for_triple(&Triple::parse("x86_64-w64-windows-gnu").unwrap());
        let crts = &windows.c_runtime.as_ref().unwrap().crts;
        let of = |dll: &str| -> Vec<Crt> {
            crts.iter()
                .filter(|(_, library)| library.has_dll(dll))
                .map(|(crt, _)| *crt)
                .collect()
        };
        assert_eq!(of("msvcrt.dll"), [Crt::Msvcrt]);
        assert_eq!(of("MSVCRT.DLL"), [Crt::Msvcrt]);
        assert_eq!(of("ucrtbase.dll"), [Crt::Ucrt]);
        assert_eq!(of("api-ms-win-crt-stdio-l1-1-0.dll"), [Crt::Ucrt]);
        assert!(of("kernel32.dll").is_empty() && of("msvcrt20.dll").is_empty());
    }

    #[test]
    fn every_platform_file_parses_and_names_existing_files() {
        for triple in [
            "x86_64-unknown-linux-gnu",
            "arm64-apple-macosx11.0",
            "x86_64-w64-windows-gnu",
        ] {
            let p = Platform::for_triple(&Triple::parse(triple).unwrap());
            let list = p.export_list(&["f".into(), "a \"b\"".into()], &["v".into()], "x");
            assert!(
                list.contains("aotlink_image") && list.contains('f') && list.contains('v'),
                "{triple}: {list}"
            );
            // A DLL's data is DATA (no jump thunk in its import library); code is not.
            let windows = triple.contains("windows");
            assert_eq!(
                list.contains("    v DATA\n") || list.ends_with("    v DATA"),
                windows,
                "{list}"
            );
            assert!(!list.contains("f DATA"), "{list}");
            assert!(!list.contains("{exports}"));
            for lib in p
                .system_libraries
                .iter()
                .filter(|l| l.kind != SystemLibraryKind::ElfStub)
            {
                assert!(
                    vendor_file(&lib.name).is_some(),
                    "{triple}: vendor/{} is not compiled in",
                    lib.name
                );
            }
        }
    }
}
