//! C++ on the other targets: an aarch64 Linux image under qemu and a Windows DLL under wine,
//! each linked with the target's libstdc++ (`--link-lib`), against the same source compiled by
//! clang++ and linked by the target's gcc as an ordinary shared library. Exceptions of a class
//! type thrown in one function and caught in another (other shards, `--shards 4`), rethrown
//! through a virtual call, static objects constructed on load and destroyed on unload, and
//! thread-locals with a dynamic initializer, read from a second thread. No C++ header is
//! included: neither cross toolchain here has libstdc++'s headers. The Windows DLL crashed on
//! the first `catch` of a class: the import library made from libstdc++-6.dll gave its
//! type-info vtables (data) jump thunks, which the caught type's type-info then pointed at.
//! macOS images cannot run here: their thread-local descriptors, bindings and unwind tables
//! are checked against what dyld and the unwinder expect.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{have, wine};
use crate::common::*;
use crate::lua::run;

const SOURCE: &str = r#"
extern "C" int printf(const char *, ...);
extern "C" int fflush(void *);
typedef long long i64;
struct Err { i64 code; const char *what; };
struct Base { virtual ~Base() {} virtual i64 get() const = 0; };
struct A : Base { i64 v; A(i64 v) : v(v) {} i64 get() const override { return v * 2; } };
struct B : Base {
  i64 v; B(i64 v) : v(v) {}
  i64 get() const override { if (v % 10 == 4) throw Err{v, "ends in 4"}; return v + 100; }
};
static i64 ctor_count = 0;
struct Logger {
  i64 id;
  Logger(i64 id) : id(id) { ctor_count += id; }
  ~Logger() { printf("~Logger %lld\n", id); fflush(0); }
};
static Logger g1(1), g2(20);
struct Tl { i64 n; Tl() : n(ctor_count + 7) {} ~Tl() {} };
thread_local Tl per_thread;
thread_local i64 tl_plain = 3;
template <typename T> T twice(T x) { return x + x; }
extern "C" i64 thrower(i64 x) {
  if (x < 0) throw Err{x, "negative"};
  if (x > 1000) throw x;
  if (x == 500) throw 2.5;
  return twice(x);
}
extern "C" i64 via_virtual(i64 x) {
  Base *b = x % 2 ? (Base *)new A(x) : (Base *)new B(x);
  i64 r;
  try { r = b->get(); } catch (...) { delete b; throw; }
  delete b;
  return r;
}
extern "C" i64 catcher(i64 x) {
  try { return thrower(x) + via_virtual(x); }
  catch (const Err &e) { return -1000 - e.code; }
  catch (i64 v) { return v % 7; }
  catch (...) { return -77; }
}
extern "C" i64 ctors(void) { return ctor_count; }
extern "C" i64 thread_sum(i64 k) { per_thread.n += k; tl_plain += 1; return per_thread.n * 100 + tl_plain; }
extern "C" i64 thread_peek(void) { return per_thread.n * 1000 + tl_plain; }
"#;

/// Loads the library `argv[1]` and prints what its functions return, on the main thread and
/// on a second one, then unloads it.
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
typedef long long (*fn1)(long long);
typedef long long (*fn0)(void);
static void *lib;
static void second(void) {
  fn1 sum = (fn1)SYM(lib, "thread_sum");
  fn0 peek = (fn0)SYM(lib, "thread_peek");
  long long a = peek(), b = sum(1), c = sum(2);
  printf("thread %lld %lld %lld\n", a, b, c);
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
  printf("ctors %lld\n", ((fn0)SYM(lib, "ctors"))());
  fn1 catcher = (fn1)SYM(lib, "catcher");
  long long xs[] = {0, 3, 14, 24, -1, -12345, 500, 999, 1001, 123456789};
  for (int i = 0; i < 10; i++) { printf("catcher(%lld) = %lld\n", xs[i], catcher(xs[i])); fflush(stdout); }
  fn1 sum = (fn1)SYM(lib, "thread_sum");
  long long a = sum(1), b = sum(5);
  printf("main %lld %lld %lld\n", a, b, ((fn0)SYM(lib, "thread_peek"))());
  fflush(stdout);
#ifdef _WIN32
  HANDLE t = CreateThread(0, 0, thread_main, 0, 0, 0);
  WaitForSingleObject(t, INFINITE);
#else
  pthread_t t;
  pthread_create(&t, 0, thread_main, 0);
  pthread_join(t, 0);
#endif
  CLOSE(lib);
  return 0;
}
"#;

/// What the harness prints for every image of `SOURCE` (checked against both builds, so a
/// reference that went wrong the same way would not pass either).
const EXPECTED: &[&str] = &[
    "ctors 21",
    "catcher(0) = 100",
    "catcher(3) = 12",
    "catcher(14) = -1014",
    "catcher(24) = -1024",
    "catcher(-1) = -999",
    "catcher(-12345) = 11345",
    "catcher(500) = -77",
    "catcher(1001) = 0",
    "main 2904 3405 34005",
    "thread 28003 2904 3105",
    "~Logger 20",
    "~Logger 1",
];

/// A target's tools: clang's triple, aotlink's, the gcc that links the reference and builds
/// the harness, its libstdc++ and the other libraries an image links, and how a program runs.
struct Cross {
    clang: &'static str,
    aotlink: &'static str,
    gcc: &'static str,
    /// Found by the gcc (`-print-file-name`); the first is libstdc++.
    libraries: &'static [&'static str],
    /// Copied beside the library for the program to find at run time (Windows).
    runtime: &'static [&'static str],
    suffix: &'static str,
}

/// The path the target gcc has for `name`, if it has one.
fn gcc_file(gcc: &str, name: &str) -> Option<PathBuf> {
    let out = Command::new(gcc)
        .arg(format!("-print-file-name={name}"))
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    path.is_absolute().then_some(path)
}

/// Builds `SOURCE` for `cross` both ways in `dir` and runs the harness against each with
/// `runner`; the two outputs.
fn both_outputs(cross: &Cross, dir: &Path, runner: &dyn Fn(&Path) -> Command) -> [String; 2] {
    let libraries: Option<Vec<PathBuf>> = (cross.libraries.iter())
        .map(|l| gcc_file(cross.gcc, l))
        .collect();
    let runtime: Option<Vec<PathBuf>> = (cross.runtime.iter())
        .map(|l| gcc_file(cross.gcc, l))
        .collect();
    let (Some(libraries), Some(runtime)) = (libraries, runtime) else {
        eprintln!(
            "skipped: {} has not all of {:?}",
            cross.gcc,
            [cross.libraries, cross.runtime].concat()
        );
        return [String::new(), String::new()];
    };
    let source = dir.join("ex.cpp");
    std::fs::write(&source, SOURCE).unwrap();
    std::fs::write(dir.join("harness.c"), HARNESS).unwrap();
    let clang = |out: &str, flags: &[&str]| {
        run(Command::new("clang++-22")
            .arg(format!("--target={}", cross.clang))
            .args(["-O2"])
            .args(flags)
            .arg(&source)
            .arg("-o")
            .arg(dir.join(out)));
    };
    clang("ex.ll", &["-S", "-emit-llvm"]);
    let ir = std::fs::read_to_string(dir.join("ex.ll")).unwrap();
    for what in [
        "landingpad",
        "thread_local",
        "@llvm.global_ctors",
        "_ZTI3Err",
    ] {
        assert!(ir.contains(what), "clang++'s IR has no {what}");
    }
    clang("ex.o", &["-c", "-fPIC"]);
    let image = format!("ours/ex.{}", cross.suffix);
    let reference = format!("ref/ex.{}", cross.suffix);
    for sub in ["ours", "ref"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        for lib in &runtime {
            std::fs::copy(lib, dir.join(sub).join(lib.file_name().unwrap())).unwrap();
        }
    }
    let mut build = vec![
        "build".to_string(),
        "--target".into(),
        cross.aotlink.into(),
        "--shards".into(),
        "4".into(),
        "--export-all".into(),
        "--no-cache".into(),
    ];
    for lib in &libraries {
        build.extend(["--link-lib".to_string(), lib.display().to_string()]);
    }
    build.extend(["-o".into(), dir.join(&image).display().to_string()]);
    build.push(dir.join("ex.ll").display().to_string());
    aotlink_ok(&build);
    run(Command::new(cross.gcc)
        .args(["-shared", "-o"])
        .arg(dir.join(&reference))
        .arg(dir.join("ex.o"))
        .args(&libraries));
    let exe = dir.join("harness.exe");
    run(Command::new(cross.gcc)
        .arg(dir.join("harness.c"))
        .arg("-o")
        .arg(&exe)
        .args(
            ["-ldl", "-lpthread"]
                .iter()
                .filter(|_| cross.suffix == "so"),
        ));
    [image, reference].map(|lib| {
        // Relative names: wine reads an absolute Unix path as one on drive C:.
        let (sub, file) = lib.split_once('/').unwrap();
        let out = run(runner(&exe)
            .current_dir(dir.join(sub))
            .arg(format!("./{file}")));
        String::from_utf8(out.stdout).unwrap().replace("\r\n", "\n")
    })
}

fn assert_same_and_expected([ours, theirs]: [String; 2]) {
    if ours.is_empty() && theirs.is_empty() {
        return;
    }
    assert_eq!(
        ours, theirs,
        "the image printed otherwise than the reference"
    );
    let lines: Vec<&str> = ours.lines().collect();
    for line in EXPECTED {
        assert!(lines.contains(line), "no {line:?} in:\n{ours}");
    }
}

#[test]
fn windows_cplusplus_exceptions_statics_and_thread_locals_run_like_gccs_link() {
    let gcc = "x86_64-w64-mingw32-gcc";
    if !have(&["/usr/lib/wine/wine64", gcc, "clang++-22"]) {
        return;
    }
    let cross = Cross {
        clang: "x86_64-w64-mingw32",
        aotlink: "x86_64-pc-windows-gnu",
        gcc,
        libraries: &["libstdc++-6.dll", "libgcc_s_seh-1.dll"],
        runtime: &[
            "libstdc++-6.dll",
            "libgcc_s_seh-1.dll",
            "libwinpthread-1.dll",
        ],
        suffix: "dll",
    };
    let dir = scratch("cross-cplusplus-windows");
    let wine = wine();
    assert_same_and_expected(both_outputs(&cross, &dir, &|exe| {
        let mut cmd = Command::new(wine);
        cmd.env("WINEDEBUG", "-all").arg(exe);
        cmd
    }));
}

#[test]
fn aarch64_cplusplus_exceptions_statics_and_thread_locals_run_like_gccs_link() {
    let gcc = "aarch64-linux-gnu-gcc";
    if !have(&["qemu-aarch64", gcc, "clang++-22"]) {
        return;
    }
    let cross = Cross {
        clang: "aarch64-linux-gnu",
        aotlink: "aarch64-unknown-linux-gnu",
        gcc,
        libraries: &["libstdc++.so.6"],
        runtime: &[],
        suffix: "so",
    };
    let dir = scratch("cross-cplusplus-aarch64");
    assert_same_and_expected(both_outputs(&cross, &dir, &|exe| {
        let mut cmd = Command::new("qemu-aarch64");
        cmd.args(["-L", "/usr/aarch64-linux-gnu"]).arg(exe);
        cmd
    }));
}

/// The C++ runtime names `SOURCE` needs from libc++ on macOS, as a text stub of
/// `/usr/lib/libc++.1.dylib` (which re-exports libc++abi), so that they bind to it rather than
/// by flat lookup.
const LIBCXX_TBD: &str = "--- !tapi-tbd
tbd-version:     4
targets:         [ x86_64-macos, arm64-macos ]
install-name:    '/usr/lib/libc++.1.dylib'
current-version: 1300.23
exports:
  - targets:         [ x86_64-macos, arm64-macos ]
    symbols:         [ __ZSt9terminatev, __ZTId, __ZTIx, __ZTVN10__cxxabiv117__class_type_infoE,
                       __ZTVN10__cxxabiv120__si_class_type_infoE, __ZdlPvm, __Znwm,
                       ___cxa_allocate_exception, ___cxa_begin_catch, ___cxa_end_catch,
                       ___cxa_rethrow, ___cxa_throw, ___gxx_personality_v0 ]
...
";

/// The number of functions with an LSDA (a `catch` or cleanup) in a Mach-O `__unwind_info`
/// section, and its number of personality functions (compact unwind format, version 1).
fn unwind_info_lsdas_and_personalities(info: &[u8]) -> (usize, usize) {
    let word = |at: usize| u32::from_le_bytes(info[at..at + 4].try_into().unwrap()) as usize;
    assert_eq!(word(0), 1, "__unwind_info version");
    let (personalities, index, index_count) = (word(16), word(20), word(24));
    // First-level entries: function offset, second-level page, LSDA array offset; the last
    // is a sentinel, so the LSDA array runs from the first entry's offset to the last's.
    let lsda_at = |entry: usize| word(index + entry * 12 + 8);
    ((lsda_at(index_count - 1) - lsda_at(0)) / 8, personalities)
}

#[test]
fn macos_cplusplus_and_thread_locals_bind_to_libsystem_and_libcxx() {
    use object::{Object, ObjectSection};
    if !have(&["clang++-22"]) {
        return;
    }
    for triple in ["x86_64-apple-macosx11.0", "arm64-apple-macosx11.0"] {
        let target = super::target(triple);
        let dir = scratch(&format!("cross-cplusplus-{}", target.clang));
        let source = dir.join("ex.cpp");
        std::fs::write(&source, SOURCE).unwrap();
        std::fs::write(dir.join("libc++.tbd"), LIBCXX_TBD).unwrap();
        let ir = dir.join("ex.ll");
        run(Command::new("clang++-22")
            .arg(format!("--target={}", target.clang))
            .args(["-O2", "-S", "-emit-llvm", "-o"])
            .arg(&ir)
            .arg(&source));
        let text = std::fs::read_to_string(&ir).unwrap();
        let thread_locals = (text.lines())
            .filter(|l| l.starts_with('@') && l.contains(" thread_local "))
            .count();
        assert!(
            thread_locals >= 2,
            "clang++'s IR has {thread_locals} thread-locals"
        );
        let image = dir.join("ex.dylib");
        aotlink_ok([
            "build".as_ref(),
            ir.as_os_str(),
            "--target".as_ref(),
            triple.as_ref(),
            "--shards".as_ref(),
            "4".as_ref(),
            "--export-all".as_ref(),
            "--link-lib".as_ref(),
            dir.join("libc++.tbd").as_os_str(),
            "-o".as_ref(),
            image.as_os_str(),
        ]);
        let bytes = std::fs::read(&image).unwrap();
        let macho = match goblin::mach::Mach::parse(&bytes).unwrap() {
            goblin::mach::Mach::Binary(m) => m,
            _ => panic!("{triple}: not a thin Mach-O"),
        };
        const LIBSYSTEM: &str = "/usr/lib/libSystem.B.dylib";
        const LIBCXX: &str = "/usr/lib/libc++.1.dylib";
        let mut libs: Vec<&str> = macho.libs[1..].to_vec();
        libs.sort();
        assert_eq!(libs, [LIBSYSTEM, LIBCXX], "{triple}: LC_LOAD_DYLIB");
        // Every name binds to one library (two-level), the C++ runtime's to libc++.
        let imports = macho.imports().unwrap();
        for import in &imports {
            let want = match import.name {
                "___cxa_throw" | "___gxx_personality_v0" | "__ZTIx" => LIBCXX,
                "__tlv_bootstrap" | "___cxa_atexit" | "__tlv_atexit" | "_printf" => LIBSYSTEM,
                _ => import.dylib,
            };
            assert!(
                import.dylib == want && [LIBSYSTEM, LIBCXX].contains(&import.dylib),
                "{triple}: {} binds to {}",
                import.name,
                import.dylib
            );
        }
        // One descriptor per thread-local, each bound to dyld's __tlv_bootstrap and pointing
        // at its own place in the thread-local template.
        let file = object::File::parse(&*bytes).unwrap();
        let section = |name: &str| {
            (file.sections())
                .find(|s| s.name() == Ok(name))
                .unwrap_or_else(|| panic!("{triple}: no {name}"))
        };
        let vars = section("__thread_vars");
        assert_eq!(
            vars.size(),
            24 * thread_locals as u64,
            "{triple}: __thread_vars"
        );
        let template = section("__thread_data").size() + section("__thread_bss").size();
        let data = vars.data().unwrap();
        let mut offsets = Vec::new();
        for i in 0..thread_locals {
            let address = vars.address() + 24 * i as u64;
            assert!(
                (imports.iter()).any(|b| b.address == address
                    && b.name == "__tlv_bootstrap"
                    && b.dylib == LIBSYSTEM),
                "{triple}: descriptor {i} is not bound to __tlv_bootstrap"
            );
            let at = 24 * i + 16;
            offsets.push(u64::from_le_bytes(data[at..at + 8].try_into().unwrap()));
        }
        offsets.sort();
        offsets.dedup();
        assert_eq!(
            offsets.len(),
            thread_locals,
            "{triple}: shared template offsets"
        );
        assert!(
            offsets.iter().all(|&o| o < template),
            "{triple}: {offsets:?}"
        );
        // catcher and via_virtual catch: their LSDAs and the one personality are in the
        // compact unwind table the unwinder reads.
        let (lsdas, personalities) =
            unwind_info_lsdas_and_personalities(section("__unwind_info").data().unwrap());
        assert!(
            lsdas >= 2 && personalities == 1,
            "{triple}: {lsdas} LSDAs, {personalities} personalities"
        );
        section("__gcc_except_tab");
    }
}
