//! C++ as clang++ compiles it, against g++'s build of the same source: virtual calls,
//! exceptions thrown in one function and caught in another (other shards), constructors that
//! clang emits as aliases, templates in comdats, a static constructor and a thread-local with
//! a dynamic initializer. An exception thrown in an image needs the image's unwind tables
//! to be findable (`PT_GNU_EH_FRAME`): without it every throw ended the process.

use std::ffi::c_void;

use crate::common::*;

const SOURCE: &str = r#"
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>
struct Shape { virtual ~Shape() {} virtual double area() const = 0; };
struct Sq : Shape { double s; explicit Sq(double s); double area() const override; };
struct Ci : Shape { double r; explicit Ci(double r); double area() const override; };
Sq::Sq(double s) : s(s) {}
Ci::Ci(double r) : r(r) {}
double Sq::area() const { return s * s; }
double Ci::area() const { return 3.0 * r * r; }
template <typename T> T twice(T x) { return x + x; }
static std::vector<long> table = {1, 2, 3, 4, 5};
thread_local std::vector<long> per_thread(3, 7);
extern "C" double shapes(long n) {
  std::vector<std::unique_ptr<Shape>> v;
  for (long i = 0; i < n % 64; i++) {
    if (i % 2) v.emplace_back(new Sq(i)); else v.emplace_back(new Ci(i));
  }
  double t = 0;
  for (auto &s : v) t += s->area();
  return twice(t);
}
extern "C" long thrower(long x) {
  if (x < 0) throw std::invalid_argument("negative: " + std::to_string(x));
  if (x > 1000) throw x;
  return twice(x);
}
extern "C" long catcher(long x) {
  try { return thrower(x); }
  catch (const std::exception &e) { return -(long)std::string(e.what()).size(); }
  catch (long v) { return v % 7; }
}
extern "C" long table_sum(long k) { long s = 0; for (long v : table) s += v * k; return s; }
extern "C" long thread_sum(long k) {
  per_thread.push_back(k);
  long s = 0;
  for (long v : per_thread) s += v;
  return s;
}
"#;

#[test]
fn cplusplus_runs_like_gpps_build() {
    let dir = scratch("cplusplus");
    let expect = [
        " alias void",
        "comdat",
        "thread_local",
        "@llvm.global_ctors",
        "landingpad",
    ];
    let (_, image_path, reference) = image_and_reference(
        &dir,
        "shapes.cpp",
        SOURCE,
        ("clang++-22", &["-O2"]),
        &expect,
        "g++",
    );
    let image = open(&image_path);
    // SAFETY: g++'s build of the same source.
    let library = unsafe { libloading::Library::new(&reference) }.unwrap();
    let ours = |name: &str| export_address(&image, name);
    let theirs =
        |name: &str| unsafe { *library.get::<*const c_void>(name.as_bytes()).unwrap() } as usize;
    // SAFETY (all calls below): the functions have these C signatures in both builds, which
    // stay loaded while the calls run.
    let long_fn = |f: usize| -> extern "C" fn(i64) -> i64 { unsafe { std::mem::transmute(f) } };
    let double_fn = |f: usize| -> extern "C" fn(i64) -> f64 { unsafe { std::mem::transmute(f) } };
    for n in [0, 1, 5, 17, 63, 64, 200] {
        assert_eq!(
            double_fn(ours("shapes"))(n).to_bits(),
            double_fn(theirs("shapes"))(n).to_bits(),
            "shapes({n})"
        );
    }
    for name in ["catcher", "table_sum", "thread_sum"] {
        for x in [0, 3, -1, -12345, 999, 1001, 123456789] {
            assert_eq!(
                long_fn(ours(name))(x),
                long_fn(theirs(name))(x),
                "{name}({x})"
            );
        }
    }
    assert_eq!(
        long_fn(ours("catcher"))(-1),
        -12,
        "caught in another function"
    );
    assert_eq!(long_fn(ours("catcher"))(1001), 1001 % 7, "a thrown long");
    // A new thread gets its own vector, initialized on first use.
    let in_new_thread = |f: usize| std::thread::spawn(move || long_fn(f)(1)).join().unwrap();
    assert_eq!(in_new_thread(ours("thread_sum")), 22);
    assert_eq!(in_new_thread(theirs("thread_sum")), 22);
    // Unloaded, the image runs its static destructors (`table`'s) and forgets them: a process
    // that loaded, called and unloaded it exits cleanly (it crashed at exit before).
    let expected = long_fn(theirs("table_sum"))(2);
    drop(image);
    let out = aotlink_ok([
        "run".as_ref(),
        image_path.as_os_str(),
        "table_sum".as_ref(),
        "2".as_ref(),
    ]);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(printed.lines().last(), Some(expected.to_string().as_str()));
}

/// Calls the C++ source's functions from a C program, which has no C++ runtime of its own:
/// through aotload for the image, through dlopen for g++'s build.
const C_CALLER: &str = r#"
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include "aotload.h"
int main(int argc, char **argv) {
    void *(*lookup)(const char *) = 0;
    aotload_image *img = 0;
    void *lib = 0;
    if (strcmp(argv[1], "image") == 0) {
        img = aotload_open(argv[2]);
        if (!img) { printf("open: %s\n", aotload_last_error()); return 1; }
    } else {
        lib = dlopen(argv[2], RTLD_NOW);
        if (!lib) { printf("dlopen: %s\n", dlerror()); return 1; }
    }
    const char *names[] = {"catcher", "table_sum", "thread_sum"};
    long args[] = {0, 3, -1, -12345, 1001};
    for (int n = 0; n < 3; n++) {
        void *f = img ? aotload_lookup(img, names[n]) : dlsym(lib, names[n]);
        for (int a = 0; a < 5; a++) printf("%s(%ld)=%ld\n", names[n], args[a], ((long (*)(long))f)(args[a]));
    }
    void *s = img ? aotload_lookup(img, "shapes") : dlsym(lib, "shapes");
    printf("shapes(17)=%.17g\n", ((double (*)(long))s)(17));
    return 0;
}
"#;

/// A C++ image depends on libstdc++ (DT_NEEDED), as g++'s build does: a C program loads it
/// and runs its `std::` code and exceptions. Without the dependency the image loaded only
/// into a process that already had libstdc++ (aotlink, this test binary), and a C program's
/// open failed on the first `std::` symbol.
#[test]
fn cplusplus_images_load_into_c_programs_like_gpps_build() {
    let dir = scratch("cplusplus-from-c");
    let (_, image, reference) = image_and_reference(
        &dir,
        "shapes.cpp",
        SOURCE,
        ("clang++-22", &["-O2"]),
        &["landingpad"],
        "g++",
    );
    let caller = dir.join("caller.c");
    std::fs::write(&caller, C_CALLER).unwrap();
    let exe = dir.join("caller");
    cc_with_aotload(&caller, &exe, &["-ldl"]);
    let run = |how: &str, path: &std::path::Path| {
        let out = std::process::Command::new(&exe)
            .arg(how)
            .arg(path)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{how} {}: {stdout}", path.display());
        stdout
    };
    let theirs = run("dlopen", &reference);
    assert!(theirs.contains("catcher(-1)=-12\n"), "{theirs}");
    assert_eq!(run("image", &image), theirs);
}

/// A thread-local defined in one file and used in another: the user's file calls the
/// variable's initialization function only if it exists (`extern_weak @_ZTH...`), and a
/// variable with a constant initializer has none, so the reference must read as null.
const TLS_DEFINITIONS: &str = r#"
#include <string>
thread_local std::string name = std::string("init-") + std::to_string(42);
thread_local int plain = 7;
"#;
const TLS_USER: &str = r#"
#include <string>
extern thread_local std::string name;
extern thread_local int plain;
extern "C" long use_tls(long x) { name += "x"; plain += (int)x; return (long)name.size() * 1000 + plain; }
"#;

/// Before, the image of the two files was refused by the dynamic loader: the shard declared
/// the missing `_ZTH5plain` as a plain symbol, which nothing defines.
#[test]
fn thread_locals_of_another_file_run_like_gpps_build() {
    let dir = scratch("cplusplus-extern-tls");
    let mut inputs = Vec::new();
    let mut sources = Vec::new();
    for (file, text) in [("defs.cpp", TLS_DEFINITIONS), ("user.cpp", TLS_USER)] {
        let source = dir.join(file);
        std::fs::write(&source, text).unwrap();
        let ir = source.with_extension("ll");
        clang_ir(&source, &ir, &["-O2", "-S", "-emit-llvm"]);
        inputs.push(ir);
        sources.push(source);
    }
    let user_ir = std::fs::read_to_string(&inputs[1]).unwrap();
    assert!(
        user_ir.contains("declare extern_weak void @_ZTH5plain"),
        "the test covers less"
    );
    let image = dir.join("tls.so");
    let mut args: Vec<String> = vec!["build".into()];
    args.extend(inputs.iter().map(|p| p.display().to_string()));
    args.extend(["--export-all", "--shards", "2", "-o"].map(String::from));
    args.push(image.display().to_string());
    aotlink_ok(&args);
    let reference = dir.join("libtls_ref.so");
    check(
        std::process::Command::new("g++")
            .args(["-O2", "-fPIC", "-shared", "-o"])
            .arg(&reference)
            .args(&sources),
    );
    let image = open(&image);
    // SAFETY: g++'s build of the same sources.
    let library = unsafe { libloading::Library::new(&reference) }.unwrap();
    let theirs = unsafe { *library.get::<*const c_void>(b"use_tls").unwrap() } as usize;
    // SAFETY: `long use_tls(long)` in both, which stay loaded while the threads run.
    let in_new_thread = |f: usize, x: i64| {
        std::thread::spawn(move || {
            let f: extern "C" fn(i64) -> i64 = unsafe { std::mem::transmute(f) };
            (f(x), f(x))
        })
        .join()
        .unwrap()
    };
    for x in [3, -5] {
        let ours = in_new_thread(export_address(&image, "use_tls"), x);
        assert_eq!(ours, in_new_thread(theirs, x), "use_tls({x})");
    }
}
