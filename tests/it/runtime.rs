//! Images of plain C that needs the compiler runtime (128-bit division, overflow-checked
//! 128-bit multiplication, half-precision conversions, `__builtin_powi`, x86's
//! `__builtin_cpu_supports`), linked by the embedded LLD with the target's runtime archive, give
//! what the target's gcc build gives: on the host, on aarch64 Linux under qemu and on Windows
//! under wine, none refused (MinGW's libgcc has the half-precision conversions with another
//! calling convention; compiler-rt for MinGW, Debian's libclang-rt-22-dev-win, has them at
//! LLVM's). A target without a runtime is refused with the functions named.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;
use crate::cross::run::run_comparison;
use crate::cross::{have, open_any, targets, wine, Target};

fn source() -> PathBuf {
    repo().join("tests/it/runtime/runtime.c")
}

/// runtime.c as IR for `clang_target`, built into an image in `dir` (the embedded LLD, the
/// default CPU targets of the architecture): it must link, every runtime function found.
fn image(dir: &Path, clang_target: &str, aotlink_target: &str, file: &str) -> PathBuf {
    let ll = dir.join("runtime.ll");
    let status = Command::new(CLANG)
        .arg(format!("--target={clang_target}"))
        .args(IR_FLAGS)
        .arg("-S")
        .arg(source())
        .arg("-o")
        .arg(&ll)
        .status()
        .unwrap();
    assert!(status.success());
    let out = dir.join(file);
    let result = run_aotlink([
        "build".as_ref(),
        ll.as_os_str(),
        "--export-all".as_ref(),
        "--target".as_ref(),
        aotlink_target.as_ref(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    out
}

/// The target gcc's build of runtime.c (its runtime linked statically, so the library needs
/// no libgcc DLL under wine).
fn gcc_library(gcc: &str, dir: &Path, file: &str) -> PathBuf {
    let out = dir.join(file);
    let status = Command::new(gcc)
        .args([
            "-O2",
            "-ffp-contract=off",
            "-fPIC",
            "-shared",
            "-static-libgcc",
        ])
        .arg("-o")
        .arg(&out)
        .arg(source())
        .status()
        .unwrap();
    assert!(status.success(), "{gcc}");
    out
}

#[test]
fn compiler_runtime_functions_work_in_host_images() {
    let dir = scratch("runtime-host");
    let image_path = image(
        &dir,
        "x86_64-linux-gnu",
        "x86_64-unknown-linux-gnu",
        "runtime.so",
    );
    let reference = gcc_library("gcc", &dir, "libruntime-gcc.so");
    let meta = open(&image_path).meta().clone();
    for target in meta.targets.iter().filter(|t| host_runs(t)) {
        let copy = dir.join(format!("runtime-{}.so", target.name));
        std::fs::copy(&image_path, &copy).unwrap();
        let options = aotload::LoadOptions {
            target: Some(target.name.clone()),
            ..Default::default()
        };
        let loaded = aotload::Image::open(&copy, &options).unwrap();
        let compared = assert_same_results(&loaded, &reference, 60, &[]);
        assert!(compared >= 7 * 60, "{}: compared {compared}", target.name);
    }
}

/// Builds runtime.c for `target` (none of its runtime functions may be refused) and compares
/// every function but `skip` with gcc's build under the emulator.
fn run_under(target: &Target, gcc: &str, dir: &Path, emulator: &mut Command, skip: &[&str]) {
    let suffix = if target.format == object::BinaryFormat::Pe {
        "dll"
    } else {
        "so"
    };
    let file = format!("runtime.{suffix}");
    let image_path = image(dir, &target.clang, &target.aotlink, &file);
    let reference = gcc_library(gcc, dir, &format!("runtime_ref.{suffix}"));
    let exe = dir.join(if suffix == "dll" {
        "harness.exe"
    } else {
        "harness"
    });
    let mut compile = Command::new(gcc);
    compile.arg(dir.join("harness.c")).arg("-o").arg(&exe);
    if suffix == "so" {
        compile.arg("-ldl");
    }
    run_comparison(
        &image_path,
        &reference,
        skip,
        &mut compile,
        emulator.arg(&exe),
    );
}

#[test]
fn compiler_runtime_functions_work_on_aarch64_under_qemu() {
    if !have(&["qemu-aarch64", "aarch64-linux-gnu-gcc"]) {
        return;
    }
    let dir = scratch("runtime-aarch64");
    run_under(
        &targets()[1],
        "aarch64-linux-gnu-gcc",
        &dir,
        Command::new("qemu-aarch64").args(["-L", "/usr/aarch64-linux-gnu"]),
        &[],
    );
}

#[test]
fn compiler_runtime_functions_work_in_windows_dlls_under_wine() {
    if !have(&["/usr/lib/wine/wine64", "x86_64-w64-mingw32-gcc"]) {
        return;
    }
    let dir = scratch("runtime-windows");
    // has_avx2 is compared: the DLL's entry runs the constructor that fills __cpu_model.
    // __builtin_powi is where gcc and clang legitimately differ on Windows: LLVM lowers it to
    // the C runtime's pow and powf (MinGW's pow is up to 11 units in the last place from x^n
    // on these arguments), gcc to libgcc's __powidf2 (repeated multiplication). So powi and
    // powi_float are compared with clang's own DLL of the same C (its driver, GNU ld, MinGW's
    // runtime and compiler-rt), the rest with gcc's.
    const POWI: [&str; 2] = ["powi", "powi_float"];
    let target = &targets()[4];
    let gcc = "x86_64-w64-mingw32-gcc";
    run_under(
        target,
        gcc,
        &dir,
        Command::new(wine()).env("WINEDEBUG", "-all"),
        &POWI,
    );
    let clang_reference = dir.join("runtime_clang.dll");
    let status = Command::new(CLANG)
        .arg(format!("--target={}", target.clang))
        .args([
            "--rtlib=compiler-rt",
            "-O2",
            "-ffp-contract=off",
            "-shared",
            "-o",
        ])
        .arg(&clang_reference)
        .arg(source())
        .status()
        .unwrap();
    assert!(status.success(), "clang's DLL");
    let image_path = dir.join("runtime.dll");
    let others: Vec<String> = open_any(&image_path)
        .meta
        .exports
        .iter()
        .map(|e| e.name.clone())
        .filter(|name| !POWI.contains(&name.as_str()))
        .collect();
    let others: Vec<&str> = others.iter().map(String::as_str).collect();
    let exe = dir.join("harness_clang.exe");
    run_comparison(
        &image_path,
        &clang_reference,
        &others,
        Command::new(gcc)
            .arg(dir.join("harness.c"))
            .arg("-o")
            .arg(&exe),
        Command::new(wine()).env("WINEDEBUG", "-all").arg(&exe),
    );
}

#[test]
fn a_target_without_a_compiler_runtime_is_refused_naming_the_functions() {
    let dir = scratch("runtime-missing");
    let ll = dir.join("runtime.ll");
    let flag = format!("--target={}", targets()[2].clang);
    let mut args = vec![flag.as_str(), "-S"];
    args.extend(IR_FLAGS);
    clang_ir(&source(), &ll, &args);
    let out = dir.join("runtime.dylib");
    // libSystem provides __divti3 and the like at load time; __cpu_model only a static
    // compiler-rt has, and none for macOS is installed here.
    let result = run_aotlink([
        "build".as_ref(),
        ll.as_os_str(),
        "--export-all".as_ref(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    assert_clean_failure(&result, "__cpu_model");
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        stderr.contains("--rtlib") && !stderr.contains("__divti3"),
        "{stderr}"
    );
    assert_only_files(&dir, &["runtime.ll"]);
    // A named runtime that does not exist is an error too.
    let result = run_aotlink([
        "build".as_ref(),
        ll.as_os_str(),
        "--rtlib".as_ref(),
        dir.join("nothing.a").as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    assert_clean_failure(&result, "nothing.a: no such file");
}

/// A package DLL runs its C constructors when loaded (its entry point walks the constructor
/// list; it used to be linked without one): here a constructor whose effect no compiler can
/// fold into a constant.
#[test]
fn windows_dlls_run_their_constructors_under_wine() {
    if !have(&["/usr/lib/wine/wine64", "x86_64-w64-mingw32-gcc"]) {
        return;
    }
    let dir = scratch("runtime-dll-constructors");
    let c = dir.join("ctor.c");
    std::fs::write(
        &c,
        "char *getenv(const char *);\nstatic long long initialized = 0;\n\
         __attribute__((constructor)) static void setup(void) { initialized = getenv(\"PATH\") ? 42 : 7; }\n\
         long long was_initialized(void) { return initialized; }\n",
    )
    .unwrap();
    let ll = dir.join("ctor.ll");
    clang_ir(
        &c,
        &ll,
        &[
            &format!("--target={}", targets()[4].clang),
            "-O2",
            "-S",
            "-emit-llvm",
        ],
    );
    build_image(&ll, &dir.join("ctor.dll"), &[]);
    let harness = dir.join("harness.c");
    std::fs::write(
        &harness,
        "#include <stdio.h>\n#include <windows.h>\nint main(void) {\n  HMODULE m = LoadLibraryA(\"./ctor.dll\");\n  if (!m) { printf(\"cannot load %lu\\n\", GetLastError()); return 1; }\n  long long (*f)(void) = (long long (*)(void))GetProcAddress(m, \"was_initialized\");\n  printf(\"%lld\\n\", f());\n  return 0;\n}\n",
    )
    .unwrap();
    let exe = dir.join("harness.exe");
    let status = Command::new("x86_64-w64-mingw32-gcc")
        .arg(&harness)
        .arg("-o")
        .arg(&exe)
        .status()
        .unwrap();
    assert!(status.success());
    let out = Command::new(wine())
        .env("WINEDEBUG", "-all")
        .current_dir(&dir)
        .arg(&exe)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "42",
        "the constructor did not run"
    );
}
