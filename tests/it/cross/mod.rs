//! Images for other systems, built on this Linux machine with nothing but aotlink: each parses
//! as the right format and architecture, exports exactly what it should, and needs nothing
//! its OS would not provide (`structure`). aarch64 Linux images run under qemu-user and
//! Windows DLLs under wine, against the same C built by the target's gcc (`run`); macOS images
//! are checked structurally. Package images link on every target; their unresolved calls trap
//! (`packages`).

mod loader;
mod mingw;
mod packages;
pub(crate) mod run;
mod structure;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use aotload::ImageFile;

use crate::common::*;

pub struct Target {
    /// How the test spells it for clang and for `--target`.
    pub clang: &'static str,
    pub aotlink: &'static str,
    pub format: object::BinaryFormat,
    pub arch: object::Architecture,
}

pub const TARGETS: &[Target] = &[
    Target {
        clang: "x86_64-linux-gnu",
        aotlink: "x86_64-unknown-linux-gnu",
        format: object::BinaryFormat::Elf,
        arch: object::Architecture::X86_64,
    },
    Target {
        clang: "aarch64-linux-gnu",
        aotlink: "aarch64-unknown-linux-gnu",
        format: object::BinaryFormat::Elf,
        arch: object::Architecture::Aarch64,
    },
    Target {
        clang: "x86_64-apple-macos11",
        aotlink: "x86_64-apple-macosx11.0",
        format: object::BinaryFormat::MachO,
        arch: object::Architecture::X86_64,
    },
    Target {
        clang: "arm64-apple-macos11",
        aotlink: "arm64-apple-macosx",
        format: object::BinaryFormat::MachO,
        arch: object::Architecture::Aarch64,
    },
    Target {
        clang: "x86_64-w64-mingw32",
        aotlink: "x86_64-pc-windows-gnu",
        format: object::BinaryFormat::Pe,
        arch: object::Architecture::X86_64,
    },
];

/// The example compiled to IR for `target` (no SDK needed: it includes no system header),
/// once per test run.
pub fn example_ir(target: &Target) -> PathBuf {
    static DONE: std::sync::Mutex<Vec<(&str, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    let mut done = DONE.lock().unwrap();
    if let Some((_, path)) = done.iter().find(|(t, _)| *t == target.clang) {
        return path.clone();
    }
    let dir = scratch(&format!("cross-ir-{}", target.clang));
    let out = dir.join("kernels.ll");
    let status = Command::new(crate::common::CLANG)
        .arg(format!("--target={}", target.clang))
        .args(IR_FLAGS)
        .arg("-S")
        .arg(kernels_c())
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "{} --target={}",
        crate::common::CLANG,
        target.clang
    );
    done.push((target.clang, out.clone()));
    out
}

/// `aotlink build --target` of the example for `target`, with `extra` options.
pub fn cross_image(target: &Target, name: &str, extra: &[&str]) -> PathBuf {
    let ir = example_ir(target);
    let dir = scratch(&format!("cross-{name}-{}", target.clang));
    let suffix = match target.format {
        object::BinaryFormat::MachO => "dylib",
        object::BinaryFormat::Pe => "dll",
        _ => "so",
    };
    let out = dir.join(format!("kernels.{suffix}"));
    let mut args: Vec<String> = vec![
        "build".into(),
        ir.display().to_string(),
        "--target".into(),
        target.aotlink.into(),
    ];
    args.extend(["--export-all", "--image-data"].map(String::from));
    args.push(data_file().display().to_string());
    args.extend(["-o".into(), out.display().to_string()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    aotlink_ok(&args);
    out
}

/// The functions the example exports.
pub fn example_exports() -> BTreeSet<String> {
    open(&example_image("cross-exports", &["--export-all"]))
        .meta()
        .exports
        .iter()
        .map(|e| e.name.clone())
        .collect()
}

/// Any image's metadata, whatever its format.
pub fn open_any(path: &Path) -> ImageFile {
    ImageFile::parse(&std::fs::read(path).unwrap()).unwrap()
}

/// The wine program, with its prefix (~/.wine) set up once: the first start creates it, and
/// two first starts at once (parallel tests) could trip over each other.
pub fn wine() -> &'static str {
    const WINE: &str = "/usr/lib/wine/wine64";
    static READY: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    READY.get_or_init(|| {
        let status = Command::new(WINE)
            .arg("wineboot")
            .arg("--init")
            .env("WINEDEBUG", "-all")
            .status();
        assert!(status.is_ok_and(|s| s.success()), "wineboot failed");
    });
    WINE
}

/// Missing tools skip a test with a reason (CI installs them all).
pub fn have(tools: &[&str]) -> bool {
    let missing: Vec<&&str> = tools
        .iter()
        .filter(|t| which::which(t).is_err() && !Path::new(t).exists())
        .collect();
    if !missing.is_empty() {
        eprintln!("skipped: {missing:?} not installed (scripts/setup.sh --cross installs them)");
    }
    missing.is_empty()
}
