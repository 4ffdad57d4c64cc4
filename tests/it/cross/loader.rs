//! The loader itself on the other systems: aotload built for aarch64 Linux and Windows (with
//! the Rust standard library for those targets), driven from C under qemu and wine. It opens
//! the example (its own CPU feature detection picks the target there) and validates a package
//! image against a method table, as on the host.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;
use crate::capi::{check_loader_methods_output, loader_basic_output};
use crate::common::*;

/// libaotload built for `rust_target` (its directory), or `None` with the reason printed when
/// the Rust standard library for that target is not installed.
fn cross_aotload(rust_target: &str) -> Option<PathBuf> {
    let sysroot = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .ok()?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if !sysroot.join("lib/rustlib").join(rust_target).exists() {
        eprintln!("skipped: no Rust standard library for {rust_target} (scripts/setup.sh --cross adds it with rustup)");
        return None;
    }
    let host_dir = Path::new(aotlink()).parent().unwrap();
    let profile = host_dir.file_name().unwrap().to_string_lossy().into_owned();
    let mut cargo = Command::new(env!("CARGO"));
    cargo.args([
        "build",
        "--quiet",
        "-p",
        "aotload",
        "--lib",
        "--target",
        rust_target,
        "--manifest-path",
    ]);
    cargo.arg(repo().join("Cargo.toml"));
    if profile == "release" {
        cargo.arg("--release");
    }
    let status = cargo.status().unwrap();
    assert!(status.success(), "building aotload for {rust_target}");
    let dir = host_dir.parent().unwrap().join(rust_target).join(profile);
    if rust_target.contains("linux") {
        link_soname(&dir.join("libaotload.so"));
    }
    Some(dir)
}

fn build_c(gcc: &str, source: &str, exe: &Path, lib_dir: &Path, extra: &[&str]) {
    let status = Command::new(gcc)
        .arg(format!("-I{}", repo().join("loader/include").display()))
        .args(extra)
        .arg(repo().join("tests/it/c").join(source))
        .arg("-o")
        .arg(exe)
        .arg(format!("-L{}", lib_dir.display()))
        .arg("-laotload")
        .status()
        .unwrap();
    assert!(status.success(), "{gcc} {source}");
}

/// Runs `run`, expects success, returns stdout.
fn stdout_of(run: &mut Command) -> String {
    let out = run.output().unwrap();
    // Windows programs write text with CRLF line ends.
    let stdout = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    assert!(
        out.status.success(),
        "{run:?}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The basic harness's line must be the host's, with a target of the image.
fn check_basic(stdout: &str, image: &Path) {
    let target = stdout
        .trim_end()
        .rsplit("target=")
        .next()
        .unwrap()
        .to_string();
    let names: Vec<String> = open_any(image)
        .meta
        .targets
        .iter()
        .map(|t| t.name.clone())
        .collect();
    assert!(
        names.contains(&target),
        "chose `{target}`, not one of {names:?}"
    );
    assert_eq!(stdout, loader_basic_output(&target));
    eprintln!("the loader chose {target} for {}", image.display());
}

#[test]
fn the_loader_runs_on_aarch64_linux_under_qemu() {
    if !have(&["qemu-aarch64", "aarch64-linux-gnu-gcc"]) {
        return;
    }
    let Some(lib_dir) = cross_aotload("aarch64-unknown-linux-gnu") else {
        return;
    };
    let dir = scratch("cross-loader-aarch64");
    let rpath = format!("-Wl,-rpath,{}", lib_dir.display());
    let qemu = || {
        let mut c = Command::new("qemu-aarch64");
        c.args(["-L", "/usr/aarch64-linux-gnu"]);
        c
    };
    let basic = dir.join("loader_basic");
    build_c(
        "aarch64-linux-gnu-gcc",
        "loader_basic.c",
        &basic,
        &lib_dir,
        &[&rpath],
    );
    let image = cross_image(&targets()[1], "loader", &[]);
    check_basic(&stdout_of(qemu().arg(&basic).arg(&image)), &image);
    // qemu's CPU models: the loader reads their features from HWCAP and picks accordingly
    // (targets: generic; cortex-a76; neoverse-v1). neoverse-v1 needs, beyond cortex-a76,
    // SVE, LSE2, LRCPC2 and pointer authentication; whether qemu's `max` offers them all
    // depends on qemu's version (7.2 lacks LSE2), so the expectation comes from the HWCAP
    // word qemu gives the guest, as glibc shows it.
    let hwcap = guest_hwcap(qemu(), &basic);
    const NEOVERSE_V1_HWCAPS: [(u32, &str); 4] =
        [(22, "sve"), (25, "uscat"), (26, "ilrcpc"), (30, "paca")];
    let lacking: Vec<&str> = NEOVERSE_V1_HWCAPS
        .iter()
        .filter(|(bit, _)| hwcap >> bit & 1 == 0)
        .map(|(_, name)| *name)
        .collect();
    let max_expected = if lacking.is_empty() {
        "neoverse-v1"
    } else {
        eprintln!("note: qemu -cpu max lacks {lacking:?}: it runs cortex-a76, not neoverse-v1");
        "cortex-a76"
    };
    for (cpu, expected) in [
        ("cortex-a53", "generic"),
        ("cortex-a76", "cortex-a76"),
        ("max", max_expected),
    ] {
        let out = stdout_of(qemu().args(["-cpu", cpu]).arg(&basic).arg(&image));
        assert_eq!(out, loader_basic_output(expected), "qemu -cpu {cpu}");
    }

    let methods = dir.join("loader_methods");
    build_c(
        "aarch64-linux-gnu-gcc",
        "loader_methods.c",
        &methods,
        &lib_dir,
        &[&rpath],
    );
    let (sys, pkg) = packages::cross_packages(&targets()[1]);
    check_loader_methods_output(&stdout_of(qemu().arg(&methods).arg(&sys).arg(&pkg)));
}

#[test]
fn the_loader_runs_on_windows_under_wine() {
    if !have(&["/usr/lib/wine/wine64", "x86_64-w64-mingw32-gcc"]) {
        return;
    }
    let Some(lib_dir) = cross_aotload("x86_64-pc-windows-gnu") else {
        return;
    };
    let dir = scratch("cross-loader-windows");
    // Windows finds DLLs beside the program.
    std::fs::copy(lib_dir.join("aotload.dll"), dir.join("aotload.dll")).unwrap();
    // Wine 8 lacks bcryptprimitives.dll, which Rust's std imports; Windows 10+ has it.
    let status = Command::new("x86_64-w64-mingw32-gcc")
        .args(["-shared", "-O2", "-o"])
        .arg(dir.join("bcryptprimitives.dll"))
        .arg(repo().join("tests/it/c/bcryptprimitives.c"))
        .arg("-ladvapi32")
        .status()
        .unwrap();
    assert!(status.success());
    let image = cross_image(&targets()[4], "loader", &[]);
    std::fs::copy(&image, dir.join("kernels.dll")).unwrap();
    let (sys, pkg) = packages::cross_packages(&targets()[4]);
    std::fs::copy(&sys, dir.join("sys.dll")).unwrap();
    std::fs::copy(&pkg, dir.join("pkg.dll")).unwrap();
    let wine = || {
        let mut c = Command::new(wine());
        c.env("WINEDEBUG", "-all").current_dir(&dir);
        c
    };
    build_c(
        "x86_64-w64-mingw32-gcc",
        "loader_basic.c",
        &dir.join("loader_basic.exe"),
        &lib_dir,
        &[],
    );
    check_basic(
        &stdout_of(wine().arg("loader_basic.exe").arg("./kernels.dll")),
        &image,
    );

    // long is 32-bit on Windows: the methods are i32 (i32) there.
    build_c(
        "x86_64-w64-mingw32-gcc",
        "loader_methods.c",
        &dir.join("loader_methods.exe"),
        &lib_dir,
        &["-DSIG=\"i32 (i32)\""],
    );
    check_loader_methods_output(&stdout_of(
        wine()
            .arg("loader_methods.exe")
            .arg("./sys.dll")
            .arg("./pkg.dll"),
    ));
}

/// AT_HWCAP that qemu -cpu max gives a guest program: glibc prints the auxiliary vector with
/// LD_SHOW_AUXV (qemu's own process prints first, the guest's line comes last).
fn guest_hwcap(mut qemu: Command, program: &Path) -> u64 {
    let out = qemu
        .args(["-cpu", "max"])
        .env("LD_SHOW_AUXV", "1")
        .arg(program)
        .output()
        .expect("qemu-aarch64");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rfind(|l| l.starts_with("AT_HWCAP:"))
        .unwrap_or_else(|| panic!("no AT_HWCAP in LD_SHOW_AUXV output: {text}"));
    let value = line["AT_HWCAP:".len()..].trim().trim_start_matches("0x");
    u64::from_str_radix(value, 16).unwrap_or_else(|e| panic!("{line}: {e}"))
}
