//! Images for other systems, built on this Linux machine with nothing but aotlink: each parses
//! as the right format and architecture, exports exactly what it should, and needs nothing
//! its OS would not provide (`structure`). aarch64 Linux images run under qemu-user and
//! Windows DLLs under wine, against the same C built by the target's gcc (`run`); macOS images
//! are checked structurally. Package images link on every target; their unresolved calls trap
//! (`packages`).

mod baselines;
mod cplusplus;
mod exports;
mod loader;
mod macos;
mod mingw;
mod packages;
pub(crate) mod run;
mod structure;
mod symbols;
mod tbd;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use aotload::ImageFile;

use crate::common::*;

/// A supported target, as `aotlink targets --json` (the library's one table) spells it, with
/// what its images must be.
pub struct Target {
    /// How clang spells it (`--target=`).
    pub clang: String,
    /// How aotlink spells it (`--target`).
    pub aotlink: String,
    /// How LLVM writes it in IR, and that IR's data layout.
    pub llvm: String,
    pub datalayout: String,
    pub format: object::BinaryFormat,
    pub arch: object::Architecture,
    /// The CPU targets its images get by default (its platform's).
    pub cpu_targets: String,
}

/// Every supported target, in the table's order (x86_64 Linux, aarch64 Linux, x86_64 macOS,
/// arm64 macOS, x86_64 Windows), read once from `aotlink targets --json`.
pub fn targets() -> &'static [Target] {
    static TARGETS: std::sync::OnceLock<Vec<Target>> = std::sync::OnceLock::new();
    TARGETS.get_or_init(|| {
        let out = aotlink_ok(["targets", "--json"]);
        let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        let text = |row: &serde_json::Value, key: &str| row[key].as_str().unwrap().to_string();
        rows.iter()
            .map(|row| {
                let triple = text(row, "triple");
                let format = match () {
                    _ if triple.contains("linux") => object::BinaryFormat::Elf,
                    _ if triple.contains("apple") => object::BinaryFormat::MachO,
                    _ if triple.contains("windows") => object::BinaryFormat::Pe,
                    _ => panic!("a target of an unknown format: {triple}"),
                };
                let arch = match triple.split('-').next() {
                    Some("x86_64") => object::Architecture::X86_64,
                    Some("aarch64" | "arm64") => object::Architecture::Aarch64,
                    _ => panic!("a target of an unknown architecture: {triple}"),
                };
                Target {
                    clang: text(row, "clang"),
                    aotlink: triple,
                    llvm: text(row, "llvm"),
                    datalayout: text(row, "datalayout"),
                    cpu_targets: text(row, "cpu_targets"),
                    format,
                    arch,
                }
            })
            .collect()
    })
}

/// The supported target aotlink spells `triple`.
pub fn target(triple: &str) -> &'static Target {
    (targets().iter())
        .find(|t| t.aotlink == triple)
        .unwrap_or_else(|| panic!("{triple} is not in `aotlink targets`"))
}

/// The example compiled to IR for `target` (no SDK needed: it includes no system header),
/// once per test run.
pub fn example_ir(target: &Target) -> PathBuf {
    static DONE: std::sync::Mutex<Vec<(String, PathBuf)>> = std::sync::Mutex::new(Vec::new());
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
    done.push((target.clang.clone(), out.clone()));
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
        target.aotlink.clone(),
    ];
    args.extend(["--export-all", "--image-data"].map(String::from));
    args.push(data_file().display().to_string());
    args.extend(["-o".into(), out.display().to_string()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    aotlink_ok(&args);
    out
}

/// The functions and variables the example exports.
pub fn example_exports() -> BTreeSet<String> {
    let meta = open(&example_image("cross-exports", &["--export-all"]))
        .meta()
        .clone();
    (meta.exports.iter().map(|e| e.name.clone()))
        .chain(meta.symbol_exports.iter().map(|x| x.name.clone()))
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
