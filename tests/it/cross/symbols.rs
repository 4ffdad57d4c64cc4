//! `tests/it/symbols.rs` on the other targets: C thread-locals defined in one shard and read
//! in others (`--shards 4`), from the main thread and a second one, an alias called from every
//! reader, a constructor and a destructor, in an aarch64 Linux image under qemu (IR compiled
//! as clang compiles by default there, for a position-independent executable) and a Windows
//! DLL under wine, against the target gcc's shared library of the same source.

use std::path::Path;
use std::process::Command;

use super::{have, wine};
use crate::common::*;
use crate::lua::run;

const SOURCE: &str = r#"
int printf(const char *, ...);
int fflush(void *);
_Thread_local int tls_count = 5;
static _Thread_local long long tls_local = 9;
static int base = 3;
static int ctor_ran = 0;
__attribute__((constructor)) static void init(void) { ctor_ran = 40; }
__attribute__((destructor)) static void fini(void) { printf("destructor\n"); fflush(0); }
int ctor_value(void) { return ctor_ran; }
int scaled(int x) { return x * base + 1; }
int scaled_alias(int x) __attribute__((alias("scaled")));
int bump(int x) { tls_count += x; return tls_count; }
long long local_bump(long long x) { tls_local = tls_local * 3 + x; return tls_local; }
#define READER(n) int reader_##n(int x) { return scaled_alias(x + n) + tls_count * n + (int)tls_local; }
READER(0) READER(1) READER(2) READER(3) READER(4) READER(5)
READER(6) READER(7) READER(8) READER(9) READER(10) READER(11)
"#;

const HARNESS: &str = r#"
#include <stdio.h>
#ifdef _WIN32
#include <windows.h>
#define OPEN(p) (void *)LoadLibraryA(p)
#define SYM(h, n) (void *)GetProcAddress((HMODULE)(h), n)
#define CLOSE(h) FreeLibrary((HMODULE)(h))
#else
#include <dlfcn.h>
#include <pthread.h>
#define OPEN(p) dlopen(p, RTLD_NOW | RTLD_LOCAL)
#define SYM(h, n) dlsym(h, n)
#define CLOSE(h) dlclose(h)
#endif
typedef int (*int_fn)(int);
static void *lib;
static void readers(const char *who) {
  char name[32];
  printf("%s:", who);
  for (int i = 0; i < 12; i++) {
    snprintf(name, sizeof name, "reader_%d", i);
    printf(" %d", ((int_fn)SYM(lib, name))(i));
  }
  printf("\n");
}
static void second(void) {
  int_fn bump = (int_fn)SYM(lib, "bump");
  int a = bump(1), b = bump(2);
  printf("thread bump %d %d\n", a, b);
  readers("thread");
  fflush(stdout);
}
#ifdef _WIN32
static DWORD WINAPI thread_main(LPVOID p) { second(); return 0; }
#else
static void *thread_main(void *p) { second(); return 0; }
#endif
int main(int argc, char **argv) {
  if (argc != 2) return 2;
  lib = OPEN(argv[1]);
  if (!lib) { printf("cannot open %s\n", argv[1]); return 2; }
  printf("constructor %d\n", ((int (*)(void))SYM(lib, "ctor_value"))());
  int_fn bump = (int_fn)SYM(lib, "bump");
  long long (*local_bump)(long long) = (long long (*)(long long))SYM(lib, "local_bump");
  int a = bump(1), b = bump(10);
  long long c = local_bump(1), d = local_bump(2);
  printf("bump %d %d local %lld %lld\n", a, b, c, d);
  readers("main");
  fflush(stdout);
#ifdef _WIN32
  HANDLE t = CreateThread(0, 0, thread_main, 0, 0, 0);
  WaitForSingleObject(t, INFINITE);
#else
  pthread_t t;
  pthread_create(&t, 0, thread_main, 0);
  pthread_join(t, 0);
#endif
  printf("main again %d\n", bump(0));
  fflush(stdout);
  CLOSE(lib);
  printf("unloaded\n");
  return 0;
}
"#;

/// What both builds print: the second thread starts from the initial values; the destructor
/// runs when the library is unloaded.
const EXPECTED: &str = "constructor 40
bump 6 16 local 28 86
main: 87 109 131 153 175 197 219 241 263 285 307 329
thread bump 6 8
thread: 10 24 38 52 66 80 94 108 122 136 150 164
main again 16
destructor
unloaded
";

/// The image (clang IR, `aotlink build`) and gcc's library of `SOURCE` for one target, each run
/// by the harness through `runner` in its own directory; both outputs.
fn both_outputs(
    (clang, triple, gcc, suffix): (&str, &str, &str, &str),
    dir: &Path,
    runner: &dyn Fn(&Path) -> Command,
) -> [String; 2] {
    let source = dir.join("symbols.c");
    std::fs::write(&source, SOURCE).unwrap();
    std::fs::write(dir.join("harness.c"), HARNESS).unwrap();
    let ir = dir.join("symbols.ll");
    run(Command::new(CLANG)
        .arg(format!("--target={clang}"))
        .args(["-O2", "-S", "-emit-llvm", "-o"])
        .arg(&ir)
        .arg(&source));
    let text = std::fs::read_to_string(&ir).unwrap();
    for what in [" alias ", "thread_local", "@llvm.global_ctors"] {
        assert!(text.contains(what), "{clang}: clang's IR has no {what}");
    }
    for sub in ["ours", "ref"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    let image = dir.join(format!("ours/symbols.{suffix}"));
    aotlink_ok([
        "build".as_ref(),
        ir.as_os_str(),
        "--target".as_ref(),
        triple.as_ref(),
        "--shards".as_ref(),
        "4".as_ref(),
        "--export-all".as_ref(),
        "-o".as_ref(),
        image.as_os_str(),
    ]);
    // MinGW's gcc makes thread-locals emulated, through libgcc: linked in, so that the DLL
    // needs no DLL of gcc's at run time.
    run(Command::new(gcc)
        .args(["-O2", "-fPIC", "-shared", "-static-libgcc", "-o"])
        .arg(dir.join(format!("ref/symbols.{suffix}")))
        .arg(&source));
    let exe = dir.join("harness.exe");
    run(Command::new(gcc)
        .arg(dir.join("harness.c"))
        .arg("-o")
        .arg(&exe)
        .args(["-ldl", "-lpthread"].iter().filter(|_| suffix == "so")));
    ["ours", "ref"].map(|sub| {
        // Relative names: wine reads an absolute Unix path as one on drive C:.
        let out = run(runner(&exe)
            .current_dir(dir.join(sub))
            .arg(format!("./symbols.{suffix}")));
        String::from_utf8(out.stdout).unwrap().replace("\r\n", "\n")
    })
}

#[test]
fn aarch64_thread_locals_aliases_and_constructors_run_like_gccs_build() {
    let gcc = "aarch64-linux-gnu-gcc";
    if !have(&["qemu-aarch64", gcc]) {
        return;
    }
    let dir = scratch("cross-symbols-aarch64");
    let targets = ("aarch64-linux-gnu", "aarch64-unknown-linux-gnu", gcc, "so");
    let [ours, theirs] = both_outputs(targets, &dir, &|exe| {
        let mut cmd = Command::new("qemu-aarch64");
        cmd.args(["-L", "/usr/aarch64-linux-gnu"]).arg(exe);
        cmd
    });
    assert_eq!(theirs, EXPECTED, "gcc's build");
    assert_eq!(ours, theirs);
    // clang compiles for a position-independent executable there too.
    let ir = std::fs::read_to_string(dir.join("symbols.ll")).unwrap();
    assert!(
        ir.contains("\"PIE Level\""),
        "no PIE Level: the test covers less"
    );
}

#[test]
fn windows_thread_locals_aliases_and_constructors_run_like_gccs_build() {
    let gcc = "x86_64-w64-mingw32-gcc";
    if !have(&["/usr/lib/wine/wine64", gcc]) {
        return;
    }
    let dir = scratch("cross-symbols-windows");
    let targets = ("x86_64-w64-mingw32", "x86_64-pc-windows-gnu", gcc, "dll");
    let wine = wine();
    let [ours, theirs] = both_outputs(targets, &dir, &|exe| {
        let mut cmd = Command::new(wine);
        cmd.env("WINEDEBUG", "-all").arg(exe);
        cmd
    });
    assert_eq!(theirs, EXPECTED, "gcc's build");
    assert_eq!(ours, theirs);
}
