//! Package images that call their runtime's own shared library, linked with `-l`/`-L` or
//! `--link-lib`: the dependency is recorded the way each OS loads it, and the call works on
//! Linux (the real dynamic loader) and on Windows (under wine); on macOS it is checked in the
//! load commands.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;
use crate::cross::{have, target, wine};

fn source(name: &str) -> PathBuf {
    repo().join("tests/it/libraries").join(name)
}

fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// uses_runtime.c as IR for `clang_target`.
fn package_ir(dir: &Path, clang_target: &str) -> PathBuf {
    let ll = dir.join("uses_runtime.ll");
    let target = format!("--target={clang_target}");
    clang_ir(
        &source("uses_runtime.c"),
        &ll,
        &[&target, "-O2", "-S", "-emit-llvm"],
    );
    ll
}

/// What rt_scale computes, from its C source: x * 7 + 3.
fn expected(x: i64) -> i64 {
    x * 7 + 3 + 1
}

#[test]
fn a_package_image_calls_its_runtime_library_on_linux() {
    let dir = scratch("libraries-linux");
    run(Command::new("cc")
        .args(["-O2", "-fPIC", "-shared", "-Wl,-soname,libjlrt.so", "-o"])
        .arg(dir.join("libjlrt.so"))
        .arg(source("runtime_lib.c")));
    let ll = package_ir(&dir, "x86_64-linux-gnu");
    for (name, how) in [
        (
            "by-name.so",
            vec![
                "-l".to_string(),
                "jlrt".into(),
                "-L".into(),
                dir.display().to_string(),
            ],
        ),
        (
            "by-path.so",
            vec![
                "--link-lib".to_string(),
                dir.join("libjlrt.so").display().to_string(),
            ],
        ),
    ] {
        let image = dir.join(name);
        build_image(&ll, &image, &how);
        let bytes = std::fs::read(&image).unwrap();
        let elf = goblin::elf::Elf::parse(&bytes).unwrap();
        assert!(
            elf.libraries.contains(&"libjlrt.so"),
            "{name}: DT_NEEDED {:?}",
            elf.libraries
        );
        // The dynamic loader finds the runtime library as it would for any program.
        for x in [0, 5, -12] {
            let out = run(Command::new(aotlink())
                .env("LD_LIBRARY_PATH", &dir)
                .arg("run")
                .arg(&image)
                .args(["pkg_uses_runtime", &x.to_string()]));
            let printed = String::from_utf8_lossy(&out.stdout);
            assert_eq!(
                printed.trim().lines().last(),
                Some(expected(x).to_string().as_str())
            );
        }
    }
    // Without the library on the loader's path, dlopen says which one is missing.
    let out = run_aotlink([
        "run".as_ref(),
        dir.join("by-name.so").as_os_str(),
        "pkg_uses_runtime".as_ref(),
        "1".as_ref(),
    ]);
    assert_clean_failure(&out, "libjlrt.so");
    // A library that is not there is a link error.
    let out = run_aotlink([
        "build".as_ref(),
        ll.as_os_str(),
        "-l".as_ref(),
        "nosuchlib".as_ref(),
        "-o".as_ref(),
        dir.join("none.so").as_os_str(),
    ]);
    assert_clean_failure(&out, "nosuchlib");
}

#[test]
fn a_package_dll_calls_its_runtime_dll_under_wine() {
    if !have(&["/usr/lib/wine/wine64", "x86_64-w64-mingw32-gcc"]) {
        return;
    }
    let dir = scratch("libraries-windows");
    run(Command::new("x86_64-w64-mingw32-gcc")
        .args(["-O2", "-shared", "-o"])
        .arg(dir.join("jlrt.dll"))
        .arg(source("runtime_lib.c")));
    let ll = package_ir(&dir, &target("x86_64-pc-windows-gnu").clang);
    let def = dir.join("jlrt.def");
    std::fs::write(
        &def,
        "; what jlrt.dll exports\nLIBRARY jlrt.dll\nEXPORTS\n    rt_scale\n    rt_bias DATA\n",
    )
    .unwrap();
    // An import library made from the DLL's exports, found by -l, the DLL given by path, and
    // one made from a .def file. The package reads the runtime's variable too: made from the
    // DLL, the import library gave it a jump thunk, whose bytes the package then read.
    for (name, how) in [
        (
            "bynamepkg.dll",
            vec![
                "-l".to_string(),
                "jlrt".into(),
                "-L".into(),
                dir.display().to_string(),
            ],
        ),
        (
            "bypathpkg.dll",
            vec![
                "--link-lib".to_string(),
                dir.join("jlrt.dll").display().to_string(),
            ],
        ),
        (
            "bydefpkg.dll",
            vec!["--link-lib".to_string(), def.display().to_string()],
        ),
    ] {
        let image = dir.join(name);
        build_image(&ll, &image, &how);
        let bytes = std::fs::read(&image).unwrap();
        let pe = goblin::pe::PE::parse(&bytes).unwrap();
        assert!(
            pe.libraries
                .iter()
                .any(|l| l.eq_ignore_ascii_case("jlrt.dll")),
            "{:?}",
            pe.libraries
        );
        let harness = dir.join(format!("{name}.c"));
        std::fs::write(
            &harness,
            format!(
                "#include <stdio.h>\n#include <windows.h>\nint main(void) {{\n  HMODULE m = LoadLibraryA(\"./{name}\");\n  if (!m) {{ printf(\"cannot load %lu\\n\", GetLastError()); return 1; }}\n  long long (*f)(long long) = (long long (*)(long long))GetProcAddress(m, \"pkg_uses_runtime\");\n  printf(\"%lld %lld\\n\", f(5), f(-12));\n  return 0;\n}}\n"
            ),
        )
        .unwrap();
        let exe = dir.join(format!("{name}.exe"));
        run(Command::new("x86_64-w64-mingw32-gcc")
            .arg(&harness)
            .arg("-o")
            .arg(&exe));
        let out = run(Command::new(wine())
            .env("WINEDEBUG", "-all")
            .current_dir(&dir)
            .arg(&exe));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("{} {}", expected(5), expected(-12))
        );
    }
}

#[test]
fn a_macos_package_records_its_runtime_dylib() {
    let dir = scratch("libraries-macos");
    // The runtime library: an aotlink image for macOS is a dylib with an install name.
    let rt_ll = dir.join("runtime_lib.ll");
    let flag = format!("--target={}", target("arm64-apple-macosx11.0").clang);
    let args = [flag.as_str(), "-O2", "-S", "-emit-llvm"];
    clang_ir(&source("runtime_lib.c"), &rt_ll, &args);
    build_image(&rt_ll, &dir.join("libjlrt.dylib"), &[]);
    let ll = package_ir(&dir, &target("arm64-apple-macosx11.0").clang);
    let image = dir.join("pkg.dylib");
    let lib_dir = dir.display().to_string();
    build_image(
        &ll,
        &image,
        &["-l".into(), "jlrt".into(), "-L".into(), lib_dir],
    );
    let bytes = std::fs::read(&image).unwrap();
    let macho = match goblin::mach::Mach::parse(&bytes).unwrap() {
        goblin::mach::Mach::Binary(m) => m,
        _ => panic!("not a thin Mach-O"),
    };
    assert!(
        macho.libs.contains(&"@rpath/libjlrt.dylib"),
        "LC_LOAD_DYLIB: {:?}",
        macho.libs
    );
}

#[test]
fn a_package_image_calls_its_runtime_library_on_aarch64_under_qemu() {
    if !have(&["qemu-aarch64", "aarch64-linux-gnu-gcc"]) {
        return;
    }
    let dir = scratch("libraries-aarch64");
    run(Command::new("aarch64-linux-gnu-gcc")
        .args(["-O2", "-fPIC", "-shared", "-Wl,-soname,libjlrt.so", "-o"])
        .arg(dir.join("libjlrt.so"))
        .arg(source("runtime_lib.c")));
    let ll = package_ir(&dir, &target("aarch64-unknown-linux-gnu").clang);
    let image = dir.join("pkg.so");
    let lib_dir = dir.display().to_string();
    build_image(
        &ll,
        &image,
        &["-l".into(), "jlrt".into(), "-L".into(), lib_dir],
    );
    let harness = dir.join("harness.c");
    std::fs::write(
        &harness,
        "#include <dlfcn.h>\n#include <stdio.h>\nint main(void) {\n  void *m = dlopen(\"./pkg.so\", RTLD_NOW);\n  if (!m) { printf(\"%s\\n\", dlerror()); return 1; }\n  long long (*f)(long long) = (long long (*)(long long))dlsym(m, \"pkg_uses_runtime\");\n  printf(\"%lld %lld\\n\", f(5), f(-12));\n  return 0;\n}\n",
    )
    .unwrap();
    let exe = dir.join("harness");
    run(Command::new("aarch64-linux-gnu-gcc")
        .arg(&harness)
        .arg("-o")
        .arg(&exe)
        .arg("-ldl"));
    let out = run(Command::new("qemu-aarch64")
        .args(["-L", "/usr/aarch64-linux-gnu", "-E"])
        .arg(format!("LD_LIBRARY_PATH={}", dir.display()))
        .arg(&exe)
        .current_dir(&dir));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("{} {}", expected(5), expected(-12))
    );
}
