//! Package images with external methods on every target; unresolved calls trap.

use object::Object;

use std::path::PathBuf;
use std::process::Command;

use super::*;
use crate::common::*;

/// tests/it/methods/{sys,pkg}.c for `target`: the system image, and the package image built
/// against its method table (once per test run: several tests use them).
pub fn cross_packages(target: &Target) -> (PathBuf, PathBuf) {
    static BUILT: std::sync::Mutex<Vec<(String, (PathBuf, PathBuf))>> =
        std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap();
    if let Some((_, images)) = built.iter().find(|(t, _)| *t == target.clang) {
        return images.clone();
    }
    let dir = scratch(&format!("cross-methods-{}", target.clang));
    let suffix = match target.format {
        object::BinaryFormat::MachO => "dylib",
        object::BinaryFormat::Pe => "dll",
        _ => "so",
    };
    let ir = |name: &str| {
        let out = dir.join(format!("{name}.ll"));
        let status = Command::new(crate::common::CLANG)
            .arg(format!("--target={}", target.clang))
            .args(["-O2", "-S", "-emit-llvm", "-o"])
            .arg(&out)
            .arg(repo().join(format!("tests/it/methods/{name}.c")))
            .status()
            .unwrap();
        assert!(status.success());
        out
    };
    let sys = dir.join(format!("sys.{suffix}"));
    aotlink_ok([
        "build".as_ref(),
        ir("sys").as_os_str(),
        "--export-all".as_ref(),
        "-o".as_ref(),
        sys.as_os_str(),
    ]);
    let table = dir.join("sys.json");
    std::fs::write(
        &table,
        aotlink_ok([
            "inspect".as_ref(),
            "--method-table".as_ref(),
            sys.as_os_str(),
        ])
        .stdout,
    )
    .unwrap();
    let pkg = dir.join(format!("pkg.{suffix}"));
    aotlink_ok([
        "build".as_ref(),
        ir("pkg").as_os_str(),
        "--export-all".as_ref(),
        "--method-table".as_ref(),
        table.as_os_str(),
        "-o".as_ref(),
        pkg.as_os_str(),
    ]);
    built.push((target.clang.clone(), (sys.clone(), pkg.clone())));
    (sys, pkg)
}

#[test]
fn package_images_with_external_methods_build_for_every_target() {
    for target in targets() {
        let (_, pkg) = cross_packages(target);
        let image = open_any(&pkg);
        let externals: Vec<&str> = image
            .meta
            .externals
            .iter()
            .map(|x| x.name.as_str())
            .collect();
        assert_eq!(externals, ["f", "g"], "{}", target.clang);
        // The slots are the image's own: f and g are not symbols it imports.
        let bytes = std::fs::read(&pkg).unwrap();
        let file = object::File::parse(&*bytes).unwrap();
        let imported: Vec<String> = file
            .imports()
            .unwrap()
            .iter()
            .map(|i| String::from_utf8_lossy(i.name()).into_owned())
            .collect();
        assert!(
            !imported
                .iter()
                .any(|n| ["f", "g", "_f", "_g"].contains(&n.as_str())),
            "{}: imports {imported:?}",
            target.clang
        );
    }
}

/// Without the loader (plain dlopen), a method that reaches an external one calls the trap
/// stub, not null: the program stops on an illegal instruction / trap.
const TRAP_HARNESS: &str = r#"#include <stdio.h>
#ifdef _WIN32
#include <windows.h>
#define OPEN(p) (void *)LoadLibraryA(p)
#define SYM(h, n) (void *)GetProcAddress((HMODULE)(h), n)
#else
#include <dlfcn.h>
#define OPEN(p) dlopen(p, RTLD_NOW)
#define SYM(h, n) dlsym(h, n)
#endif
int main(int argc, char **argv) {
  void *pkg = OPEN(argv[1]);
  if (!pkg) { printf("cannot open\n"); return 2; }
  long (*independent)(long) = (long (*)(long))SYM(pkg, "independent");
  long (*uses_f)(long) = (long (*)(long))SYM(pkg, "uses_f");
  printf("independent %ld\n", independent(5));
  fflush(stdout);
  printf("uses_f returned %ld\n", uses_f(5));
  return 0;
}
"#;

fn assert_traps(run: &mut Command) {
    let out = run.output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(stdout.contains("independent 105"), "{stdout}");
    assert!(
        !stdout.contains("uses_f returned"),
        "the unresolved call returned: {stdout}"
    );
    // qemu dies of the signal; wine reports the exception but its exit status varies.
    let reported = format!("{stdout}{stderr}").contains("illegal instruction");
    assert!(
        !out.status.success() || reported,
        "the unresolved call must trap: {stdout}{stderr}"
    );
}

#[test]
fn unresolved_external_methods_trap_under_qemu_and_wine() {
    if have(&["qemu-aarch64", "aarch64-linux-gnu-gcc"]) {
        let (_, pkg) = cross_packages(&targets()[1]);
        let dir = pkg.parent().unwrap();
        std::fs::write(dir.join("trap.c"), TRAP_HARNESS).unwrap();
        let status = Command::new("aarch64-linux-gnu-gcc")
            .arg(dir.join("trap.c"))
            .arg("-o")
            .arg(dir.join("trap"))
            .arg("-ldl")
            .status()
            .unwrap();
        assert!(status.success());
        assert_traps(
            Command::new("qemu-aarch64")
                .args(["-L", "/usr/aarch64-linux-gnu"])
                .arg(dir.join("trap"))
                .arg(&pkg),
        );
    }
    if have(&["/usr/lib/wine/wine64", "x86_64-w64-mingw32-gcc"]) {
        let wine = wine();
        let (_, pkg) = cross_packages(&targets()[4]);
        let dir = pkg.parent().unwrap();
        std::fs::write(dir.join("trap.c"), TRAP_HARNESS).unwrap();
        let status = Command::new("x86_64-w64-mingw32-gcc")
            .arg(dir.join("trap.c"))
            .arg("-o")
            .arg(dir.join("trap.exe"))
            .status()
            .unwrap();
        assert!(status.success());
        assert_traps(
            Command::new(wine)
                .env("WINEDEBUG", "-all")
                .current_dir(dir)
                .arg("trap.exe")
                .arg("./pkg.dll"),
        );
    }
}
