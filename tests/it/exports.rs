//! Exports other than functions: variables (constant, writable, zeroed, weak, thread-local,
//! a table of function pointers), aliases of functions and of variables, and an ifunc, as a C
//! library's API has them, against gcc's `-shared` build of the same source. Before, an image
//! exported functions only: `--export-all` left the rest out, `--export` of a variable or an
//! alias was refused ("is not a function"), and a program's dlsym of them failed.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

/// A library whose API has data and aliases, with what gcc does not export beside it: a
/// `static`, hidden variables and functions.
const SOURCE: &str = r#"
#include <stdlib.h>
const char lib_version[] = "1.2.3";
int lib_counter = 7;
int lib_zeroed[16];
const int lib_primes[5] = {2, 3, 5, 7, 11};
__attribute__((weak)) int lib_weak = 5;
_Thread_local int lib_tls = 11;
static int calls;
__attribute__((visibility("hidden"))) int lib_hidden_var = 3;
__attribute__((visibility("hidden"))) int lib_hidden_fn(int x) { return x * lib_hidden_var; }
int lib_add(int a, int b) { calls++; return a + b + lib_counter + lib_hidden_fn(lib_zeroed[1]); }
int lib_sub(int a, int b) { calls++; return a - b - lib_weak; }
int lib_add_alias(int, int) __attribute__((alias("lib_add")));
extern int lib_counter_alias __attribute__((alias("lib_counter")));
int (*const lib_ops[2])(int, int) = {lib_add, lib_sub};
int lib_calls(void) { return calls + lib_tls; }
int lib_bump_tls(int x) { lib_tls += x; return lib_tls; }
static int pick_plain(int x) { return x * 3 + 1; }
static int pick_other(int x) { return x - 5; }
static int (*resolve_pick(void))(int) {
    return getenv("AOTLINK_TEST_NO_SUCH_VARIABLE") ? pick_other : pick_plain;
}
int lib_pick(int) __attribute__((ifunc("resolve_pick")));
"#;

/// The names `nm -D --defined-only` lists for `library`, sorted, the image's root left out.
fn defined_dynamic_symbols(library: &Path) -> Vec<String> {
    let out = check(
        Command::new("nm")
            .args(["-D", "--defined-only"])
            .arg(library),
    );
    let mut names: Vec<String> = (String::from_utf8_lossy(&out.stdout).lines())
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_string))
        .filter(|n| n != aotload::format::ROOT_SYMBOL)
        .collect();
    names.sort();
    names
}

/// The library's image (over four shards, `--export-all`) and gcc's build of it.
fn image_and_gccs(dir: &Path) -> (PathBuf, PathBuf) {
    let (_, image, reference) = image_and_reference(
        dir,
        "api.c",
        SOURCE,
        (CLANG, &["-O2", "-fPIC"]),
        &[
            "@lib_add_alias = alias",
            "@lib_counter_alias = alias",
            "@lib_tls = thread_local",
            "@lib_pick = ifunc",
            "@lib_hidden_var = hidden",
        ],
        "gcc",
    );
    (image, reference)
}

#[test]
fn export_all_exports_the_variables_and_aliases_gccs_build_exports() {
    let dir = scratch("exports-all");
    let (image, reference) = image_and_gccs(&dir);
    let theirs = defined_dynamic_symbols(&reference);
    for name in [
        "lib_version",
        "lib_counter_alias",
        "lib_tls",
        "lib_pick",
        "lib_add",
    ] {
        assert!(
            theirs.iter().any(|n| n == name),
            "gcc exports no {name}: {theirs:?}"
        );
    }
    assert_eq!(defined_dynamic_symbols(&image), theirs);
    // The metadata says what each is: an alias of a function is its method's other name.
    let meta = open(&image).meta().clone();
    let kinds: Vec<(String, aotload::meta::SymbolKind)> = (meta.symbol_exports.iter())
        .map(|x| (x.name.clone(), x.kind))
        .collect();
    let add = meta
        .methods
        .iter()
        .position(|m| m.name == "lib_add")
        .unwrap() as u32;
    use aotload::meta::SymbolKind::*;
    assert!(kinds.contains(&("lib_add_alias".into(), Function { fvar: add })));
    for data in [
        "lib_counter",
        "lib_counter_alias",
        "lib_tls",
        "lib_version",
        "lib_ops",
    ] {
        assert!(kinds.contains(&(data.into(), Data)), "{data}: {kinds:?}");
    }
    assert!(kinds.contains(&("lib_pick".into(), IFunc)));
}

#[test]
fn named_exports_take_variables_and_aliases() {
    let dir = scratch("exports-named");
    let (image, _) = image_and_gccs(&dir);
    let ir = image.with_extension("ll");
    let out = dir.join("some.so");
    let mut args: Vec<String> = vec!["build".into(), ir.display().to_string()];
    for name in ["lib_counter", "lib_add_alias", "lib_version", "lib_tls"] {
        args.extend(["--export".into(), name.into()]);
    }
    args.extend(["-o".into(), out.display().to_string()]);
    aotlink_ok(&args);
    assert_eq!(
        defined_dynamic_symbols(&out),
        ["lib_add_alias", "lib_counter", "lib_tls", "lib_version"]
    );
    // What is missing or only declared is refused with one line, as for functions.
    let declared = dir.join("declared.ll");
    std::fs::write(
        &declared,
        "target triple = \"x86_64-unknown-linux-gnu\"\n\
         @elsewhere = external global i32\n\
         define i32 @f() {\n  %v = load i32, ptr @elsewhere\n  ret i32 %v\n}\n",
    )
    .unwrap();
    for (input, name, why) in [
        (
            &ir,
            "lib_nothing",
            "--export lib_nothing: no such function, variable or alias",
        ),
        (
            &declared,
            "elsewhere",
            "--export elsewhere: is declared but not defined",
        ),
    ] {
        let failed = run_aotlink([
            "build".as_ref(),
            input.as_os_str(),
            "--export".as_ref(),
            name.as_ref(),
            "-o".as_ref(),
            dir.join("refused.so").as_os_str(),
        ]);
        assert_clean_failure(&failed, why);
    }
}

/// A program that dlopens the library, reads and writes its variables, calls through the
/// alias, the table of function pointers and the ifunc, and reads the thread-local in two
/// threads.
const CALLER: &str = r#"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
typedef int (*binop)(int, int);
typedef int (*unop)(int);
static void *lib;
static void *sym(const char *name) {
    void *p = dlsym(lib, name);
    if (!p) { printf("no %s: %s\n", name, dlerror()); exit(1); }
    return p;
}
static void *in_thread(void *arg) {
    int *tls = sym("lib_tls");
    *tls += 100;
    printf("thread tls=%d\n", *tls);
    printf("thread bump=%d\n", ((unop)sym("lib_bump_tls"))(1));
    return arg;
}
int main(int argc, char **argv) {
    lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) { printf("dlopen: %s\n", dlerror()); return 1; }
    const char *version = sym("lib_version");
    int *counter = sym("lib_counter"), *counter_alias = sym("lib_counter_alias");
    int *zeroed = sym("lib_zeroed"), *weak = sym("lib_weak"), *tls = sym("lib_tls");
    const int *primes = sym("lib_primes");
    binop add = sym("lib_add"), add_alias = sym("lib_add_alias");
    binop *ops = sym("lib_ops");
    printf("version=%s counter=%d primes=%d,%d weak=%d tls=%d zeroed=%d\n", version, *counter,
           primes[0], primes[4], *weak, *tls, zeroed[1]);
    printf("alias same=%d add=%d alias=%d\n", add == add_alias, add(1, 2), add_alias(1, 2));
    *counter = 40; zeroed[1] = 2; *weak = 9;
    printf("after writes add=%d alias=%d counter_alias=%d\n", add_alias(1, 2), add(1, 2),
           *counter_alias);
    *counter_alias = 100;
    printf("through the alias counter=%d add=%d\n", *counter, add(0, 0));
    printf("ops same=%d %d %d\n", ops[0] == add, ops[0](5, 6), ops[1](5, 6));
    printf("pick=%d\n", ((unop)sym("lib_pick"))(4));
    *tls = 20;
    pthread_t t;
    pthread_create(&t, 0, in_thread, 0);
    pthread_join(t, 0);
    printf("main tls=%d calls=%d\n", *tls, ((int (*)(void))sym("lib_calls"))());
    return 0;
}
"#;

#[test]
fn a_program_uses_exported_variables_and_aliases_as_with_gccs_build() {
    let dir = scratch("exports-dlopen");
    let (image, reference) = image_and_gccs(&dir);
    let run = c_program_loading(&dir, CALLER);
    let theirs = run(&reference);
    assert!(theirs.contains("version=1.2.3 counter=7"), "{theirs}");
    assert!(theirs.contains("through the alias counter=100"), "{theirs}");
    assert_eq!(run(&image), theirs);
}

/// The loader finds what a program would: an alias of a function is the function's version
/// for the chosen target (on every target), an exported variable its address.
#[test]
fn the_loader_finds_aliases_as_their_function_and_exported_variables() {
    let dir = scratch("exports-loader");
    let (image, _) = image_and_gccs(&dir);
    let ran = on_each_runnable_target(&image, |image| {
        let add = image.lookup("lib_add").unwrap();
        assert_eq!(image.lookup("lib_add_alias"), Some(add));
        let fvar = image.fvar_index("lib_add").unwrap();
        assert_eq!(image.fvars()[fvar as usize], add);
        assert!(
            image.lookup("lib_counter").is_none(),
            "data is not a function"
        );
        assert!(
            image.lookup_data("lib_add").is_none(),
            "a function is not data"
        );
    });
    assert!(ran >= 1);
    let image = open(&image);
    let counter = image.lookup_data("lib_counter").unwrap() as *mut i32;
    assert_eq!(image.lookup_data("lib_counter_alias"), Some(counter.cast()));
    // The exported variable is the one the gvar table has, and the one the code uses.
    let gvar = (image.meta().gvars.iter())
        .position(|g| g.name == "lib_counter")
        .unwrap();
    assert_eq!(image.gvars()[gvar], counter.cast());
    // SAFETY: `lib_counter` is an `int`, `lib_add` is `int lib_add(int, int)`, in an image
    // that stays open; no other thread uses them.
    let add: extern "C" fn(i32, i32) -> i32 =
        unsafe { std::mem::transmute(image.lookup("lib_add_alias").unwrap()) };
    unsafe { *counter = 1000 };
    assert_eq!(add(1, 2), 1003);
    let version = image.lookup_data("lib_version").unwrap() as *const [u8; 6];
    assert_eq!(unsafe { &*version }, b"1.2.3\0");
    // The ifunc's address is what its resolver picked.
    let pick: extern "C" fn(i32) -> i32 =
        unsafe { std::mem::transmute(image.lookup("lib_pick").unwrap()) };
    assert_eq!(pick(4), 13);
    // A thread-local's address is the calling thread's.
    let here = image.lookup_data("lib_tls").unwrap() as usize;
    let there = std::thread::scope(|s| {
        s.spawn(|| image.lookup_data("lib_tls").unwrap() as usize)
            .join()
            .unwrap()
    });
    assert_ne!(here, there);
    assert_eq!(unsafe { *(here as *const i32) }, 11);
}

/// The same through the C ABI: `aotload_lookup` of an alias, `aotload_lookup_data`.
#[test]
fn c_programs_find_exported_variables_through_the_c_abi() {
    let dir = scratch("exports-capi");
    let (image, _) = image_and_gccs(&dir);
    let source = dir.join("lookup_data.c");
    std::fs::write(
        &source,
        r#"
#include <stdio.h>
#include <aotload.h>
int main(int argc, char **argv) {
    aotload_image *img = aotload_open(argv[1]);
    if (!img) { printf("open: %s\n", aotload_last_error()); return 1; }
    int (*add)(int, int) = (int (*)(int, int))aotload_lookup(img, "lib_add_alias");
    int *counter = aotload_lookup_data(img, "lib_counter");
    const char *version = aotload_lookup_data(img, "lib_version");
    if (!add || !counter || !version) { printf("lookup: %s\n", aotload_last_error()); return 1; }
    *counter = 30;
    printf("version=%s add=%d same=%d\n", version, add(1, 2),
           add == aotload_lookup(img, "lib_add"));
    printf("function as data=%p\n", aotload_lookup_data(img, "lib_add"));
    printf("%s\n", aotload_last_error());
    aotload_close(img);
    return 0;
}
"#,
    )
    .unwrap();
    let exe = dir.join("lookup_data");
    cc_with_aotload(&source, &exe, &[]);
    let out = check(Command::new(&exe).arg(&image));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("version=1.2.3 add=33 same=1\nfunction as data=(nil)\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("aotload_lookup_data: no exported variable `lib_add`"),
        "{stdout}"
    );
}

/// A program linked against the library (not dlopening it) uses its variables directly: cc
/// gives it a copy of each (a copy relocation), and the dynamic loader binds the library's
/// references to that copy. Before, the image bound its variables within itself
/// (`-Bsymbolic`), so the program and the image each used their own copy: the program set
/// `lib_counter` and the image's `lib_add` never saw it.
const LINKED: &str = r#"
#include <stdio.h>
extern int lib_counter, lib_counter_alias, lib_zeroed[16];
extern const char lib_version[];
extern int (*const lib_ops[2])(int, int);
int lib_add(int, int), lib_add_alias(int, int), lib_calls(void);
int main(void) {
    printf("version=%s add=%d\n", lib_version, lib_add(1, 2));
    lib_counter = 100;
    lib_zeroed[1] = 4;
    printf("add=%d alias=%d counter_alias=%d\n", lib_add(1, 2), lib_add_alias(1, 2),
           lib_counter_alias);
    printf("ops=%d same=%d calls=%d\n", lib_ops[0](3, 4), lib_ops[0] == lib_add, lib_calls());
    return 0;
}
"#;

#[cfg(target_arch = "x86_64")]
#[test]
fn a_program_linked_against_the_image_shares_its_variables_as_with_gccs_build() {
    let dir = scratch("exports-linked");
    let (image, reference) = image_and_gccs(&dir);
    let source = dir.join("linked.c");
    std::fs::write(&source, LINKED).unwrap();
    let run = |library: &Path, exe: &str| {
        let exe = dir.join(exe);
        check(
            Command::new("cc")
                .arg(&source)
                .arg("-o")
                .arg(&exe)
                .arg(library)
                .arg(format!("-Wl,-rpath,{}", dir.display())),
        );
        // Else the test covers less than it says: the program has its own copy.
        let relocations = check(Command::new("readelf").arg("-rW").arg(&exe));
        let relocations = String::from_utf8_lossy(&relocations.stdout).into_owned();
        assert!(
            relocations.contains("R_X86_64_COPY") && relocations.contains("lib_counter"),
            "no copy relocation: {relocations}"
        );
        String::from_utf8_lossy(&check(&mut Command::new(&exe)).stdout).into_owned()
    };
    let theirs = run(&reference, "linked-gcc");
    assert!(theirs.contains("add=115 alias=115 "), "{theirs}");
    assert_eq!(run(&image, "linked-image"), theirs);
}
