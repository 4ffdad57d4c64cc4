//! `tests/it/exports.rs` on the other targets: a library's variables (constant, writable,
//! zeroed, a table of function pointers) and aliases of a function and of a variable, exported
//! by `--export-all` and used by a program, in an aarch64 Linux image under qemu and a Windows
//! DLL under wine, against the target gcc's shared library of the same source. On Windows the
//! program also links against the DLL's import library, where a variable must be `DATA` (no
//! jump thunk: MinGW's auto-import then reaches the variable itself).

use std::path::Path;
use std::process::Command;

use super::{have, wine};
use crate::common::*;
use crate::lua::run;

const SOURCE: &str = r#"
const char lib_version[] = "1.2.3";
int lib_counter = 7;
int lib_zeroed[16];
static int calls;
int lib_add(int a, int b) { calls++; return a + b + lib_counter + lib_zeroed[1]; }
int lib_sub(int a, int b) { calls++; return a - b; }
int lib_add_alias(int, int) __attribute__((alias("lib_add")));
extern int lib_counter_alias __attribute__((alias("lib_counter")));
int (*const lib_ops[2])(int, int) = {lib_add, lib_sub};
int lib_calls(void) { return calls; }
"#;

/// Loads the library at run time (dlopen, LoadLibrary) and uses everything it exports.
const LOADING: &str = r#"
#include <stdio.h>
#ifdef _WIN32
#include <windows.h>
#define OPEN(p) (void *)LoadLibraryA(p)
#define SYM(h, n) (void *)GetProcAddress((HMODULE)(h), n)
#else
#include <dlfcn.h>
#define OPEN(p) dlopen(p, RTLD_NOW | RTLD_LOCAL)
#define SYM(h, n) dlsym(h, n)
#endif
typedef int (*binop)(int, int);
int main(int argc, char **argv) {
  void *lib = OPEN(argv[1]);
  if (!lib) { printf("cannot open %s\n", argv[1]); return 2; }
  const char *names[] = {"lib_version", "lib_counter", "lib_counter_alias", "lib_zeroed",
                         "lib_ops", "lib_add", "lib_add_alias", "lib_calls"};
  for (int i = 0; i < 8; i++)
    if (!SYM(lib, names[i])) { printf("no %s\n", names[i]); return 3; }
  int *counter = SYM(lib, "lib_counter"), *zeroed = SYM(lib, "lib_zeroed");
  binop add = (binop)SYM(lib, "lib_add"), alias = (binop)SYM(lib, "lib_add_alias");
  binop *ops = SYM(lib, "lib_ops");
  printf("version=%s counter=%d add=%d alias=%d same=%d\n", (const char *)SYM(lib, "lib_version"),
         *counter, add(1, 2), alias(1, 2), add == alias);
  *counter = 40;
  zeroed[1] = 2;
  printf("after writes add=%d alias=%d counter_alias=%d\n", add(1, 2), alias(1, 2),
         *(int *)SYM(lib, "lib_counter_alias"));
  printf("ops same=%d %d %d\n", ops[0] == add, ops[0](5, 6), ops[1](5, 6));
  printf("calls=%d\n", ((int (*)(void))SYM(lib, "lib_calls"))());
  fflush(stdout);
  return 0;
}
"#;

const LOADING_EXPECTED: &str = "version=1.2.3 counter=7 add=10 alias=10 same=1
after writes add=45 alias=45 counter_alias=40
ops same=1 53 -1
calls=6
";

/// Linked against the library (its import library on Windows): uses the variables directly.
const LINKED: &str = r#"
#include <stdio.h>
#ifdef _WIN32
#define IMPORT __declspec(dllimport)
#else
#define IMPORT
#endif
IMPORT extern int lib_counter, lib_zeroed[16];
IMPORT extern const char lib_version[];
int lib_add(int, int), lib_add_alias(int, int);
int main(void) {
  printf("version=%s add=%d\n", lib_version, lib_add(1, 2));
  lib_counter = 100;
  lib_zeroed[1] = 4;
  printf("add=%d alias=%d\n", lib_add(1, 2), lib_add_alias(1, 2));
  fflush(stdout);
  return 0;
}
"#;

const LINKED_EXPECTED: &str = "version=1.2.3 add=10\nadd=107 alias=107\n";

/// Builds the image (`ours/`) and gcc's library (`ref/`) for one target, compiles the
/// programs with that gcc (the linked one against each library), runs them through `runner`
/// in each directory; returns both outputs of each program.
fn outputs(
    (clang, triple, gcc, suffix): (&str, &str, &str, &str),
    dir: &Path,
    runner: &dyn Fn(&Path) -> Command,
) -> [[String; 2]; 2] {
    let source = dir.join("api.c");
    std::fs::write(&source, SOURCE).unwrap();
    let ir = dir.join("api.ll");
    run(Command::new(CLANG)
        .arg(format!("--target={clang}"))
        .args(["-O2", "-S", "-emit-llvm", "-o"])
        .arg(&ir)
        .arg(&source));
    let text = std::fs::read_to_string(&ir).unwrap();
    for what in ["@lib_add_alias = ", "@lib_counter_alias = "] {
        let line = text.lines().find(|l| l.starts_with(what));
        assert!(
            line.is_some_and(|l| l.contains(" alias ")),
            "{clang}: clang's IR has no alias {what}"
        );
    }
    let library = format!("api.{suffix}");
    for sub in ["ours", "ref"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    aotlink_ok([
        "build".as_ref(),
        ir.as_os_str(),
        "--target".as_ref(),
        triple.as_ref(),
        "--shards".as_ref(),
        "4".as_ref(),
        "--export-all".as_ref(),
        "-o".as_ref(),
        dir.join("ours").join(&library).as_os_str(),
    ]);
    run(Command::new(gcc)
        .args(["-O2", "-fPIC", "-shared", "-static-libgcc", "-o"])
        .arg(dir.join("ref").join(&library))
        .arg(&source));
    let loading = dir.join("loading.c");
    std::fs::write(&loading, LOADING).unwrap();
    let linked = dir.join("linked.c");
    std::fs::write(&linked, LINKED).unwrap();
    let dl = ["-ldl"];
    let dl = dl.iter().filter(|_| suffix == "so");
    run(Command::new(gcc)
        .arg(&loading)
        .arg("-o")
        .arg(dir.join("loading.exe"))
        .args(dl));
    ["ours", "ref"].map(|sub| {
        let sub_dir = dir.join(sub);
        // Windows: our DLL's import library (aotlink writes it beside the DLL); gcc's DLL
        // is linked directly, as MinGW's ld can.
        let against = match (suffix, sub) {
            ("dll", "ours") => sub_dir.join("api.lib"),
            _ => sub_dir.join(&library),
        };
        run(Command::new(gcc)
            .arg(&linked)
            .arg("-o")
            .arg(sub_dir.join("linked.exe"))
            .arg(&against)
            .args(match suffix {
                "so" => ["-Wl,-rpath,$ORIGIN"],
                _ => ["-static-libgcc"],
            }));
        let loading = run(runner(&dir.join("loading.exe"))
            .current_dir(&sub_dir)
            .arg(format!("./{library}")));
        let linked = run(runner(&sub_dir.join("linked.exe")).current_dir(&sub_dir));
        [loading, linked].map(|out| String::from_utf8(out.stdout).unwrap().replace("\r\n", "\n"))
    })
}

#[test]
fn aarch64_exported_variables_and_aliases_work_like_gccs_build() {
    let gcc = "aarch64-linux-gnu-gcc";
    if !have(&["qemu-aarch64", gcc]) {
        return;
    }
    let dir = scratch("cross-exports-aarch64");
    let targets = ("aarch64-linux-gnu", "aarch64-unknown-linux-gnu", gcc, "so");
    let [ours, theirs] = outputs(targets, &dir, &|exe| {
        let mut cmd = Command::new("qemu-aarch64");
        cmd.args(["-L", "/usr/aarch64-linux-gnu"])
            .env("LD_LIBRARY_PATH", ".")
            .arg(exe);
        cmd
    });
    assert_eq!(theirs, [LOADING_EXPECTED, LINKED_EXPECTED], "gcc's build");
    assert_eq!(ours, theirs);
}

#[test]
fn windows_exported_variables_and_aliases_work_like_gccs_build() {
    let gcc = "x86_64-w64-mingw32-gcc";
    if !have(&["/usr/lib/wine/wine64", gcc]) {
        return;
    }
    let dir = scratch("cross-exports-windows");
    let targets = ("x86_64-w64-mingw32", "x86_64-pc-windows-gnu", gcc, "dll");
    let wine = wine();
    let [ours, theirs] = outputs(targets, &dir, &|exe| {
        let mut cmd = Command::new(wine);
        cmd.env("WINEDEBUG", "-all").arg(exe);
        cmd
    });
    assert_eq!(theirs, [LOADING_EXPECTED, LINKED_EXPECTED], "gcc's build");
    assert_eq!(ours, theirs);
}
