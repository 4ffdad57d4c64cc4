//! Symbols other than plain functions and variables: aliases (C's `alias` attribute; C++
//! constructors and rustc emit them too) and thread-local variables, in IR compiled the way
//! clang compiles by default (for a position-independent executable, `PIE Level` in the
//! module), spread over shards, against gcc's build of the same source. Each crashed or
//! failed to link before: the alias in codegen, the thread-locals in LLD (local-exec
//! relocations, and a table entry pointing at a thread-local).

use std::ffi::c_void;

use crate::common::*;

/// A variable defined in one shard and read in others, one local to its file, an alias
/// called from every reader.
const SOURCE: &str = r#"
_Thread_local int tls_count = 5;
static _Thread_local long tls_local = 9;
static int base = 3;
int scaled(int x) { return x * base + 1; }
int scaled_alias(int x) __attribute__((alias("scaled")));
int bump(int x) { tls_count += x; return tls_count; }
long local_bump(long x) { tls_local = tls_local * 3 + x; return tls_local; }
#define READER(n) int reader_##n(int x) { return scaled_alias(x + n) + tls_count * n + (int)tls_local; }
READER(0) READER(1) READER(2) READER(3) READER(4) READER(5)
READER(6) READER(7) READER(8) READER(9) READER(10) READER(11)
"#;

#[test]
fn aliases_and_thread_locals_across_shards_run_like_gccs_build() {
    let dir = scratch("symbols");
    let (_, image_path, reference) = image_and_reference(
        &dir,
        "symbols.c",
        SOURCE,
        (CLANG, &["-O2", "-fPIE"]),
        &["alias", "thread_local", "\"PIE Level\""],
        "cc",
    );
    let image = open(&image_path);
    let compared = assert_same_results(&image, &reference, 6, &[]);
    assert!(compared >= 15 * 6, "compared only {compared} calls");

    // Each thread has its own copy: a new thread starts from the initial values, in both.
    let export = |name: &str| export_address(&image, name);
    // SAFETY: gcc's build of the same source, `bump` is `int bump(int)`.
    let library = unsafe { libloading::Library::new(&reference) }.unwrap();
    let theirs = unsafe { *library.get::<*const c_void>(b"bump").unwrap() } as usize;
    let in_new_thread = |f: usize| {
        std::thread::spawn(move || {
            // SAFETY: `f` is `int bump(int)` of a library that stays loaded (the image and
            // gcc's build outlive the thread, joined below).
            let bump: extern "C" fn(i32) -> i32 = unsafe { std::mem::transmute(f) };
            (bump(1), bump(2))
        })
        .join()
        .unwrap()
    };
    assert_eq!(in_new_thread(export("bump")), in_new_thread(theirs));
    assert_eq!(in_new_thread(export("bump")), (6, 8));
}

/// Weak references to what nothing defines, as code that works with or without an optional
/// library writes them: each reads as null, in every shard that tests it. Before, a shard
/// declared them as plain (strong) symbols: the optimizer folded each test to "present" and
/// the dynamic loader refused the image for the undefined symbols.
const WEAK_SOURCE: &str = r#"
extern int optional_hook(int) __attribute__((weak));
extern int optional_count __attribute__((weak));
int has_hook(int x) { return optional_hook ? 1 : 0; }
int call_hook(int x) { return optional_hook ? optional_hook(x) : -x; }
int read_count(int x) { return &optional_count ? optional_count + x : x * 2; }
int both(int x) { return has_hook(x) * 10 + (&optional_count != 0) + call_hook(x); }
"#;

#[test]
fn undefined_weak_references_read_as_null_like_gccs_build() {
    let dir = scratch("weak-refs");
    let (_, image_path, reference) = image_and_reference(
        &dir,
        "weak.c",
        WEAK_SOURCE,
        (CLANG, &["-O2", "-fPIC"]),
        &["extern_weak global", "declare extern_weak"],
        "cc",
    );
    let image = open(&image_path);
    let compared = assert_same_results(&image, &reference, 6, &[]);
    assert!(compared >= 4 * 6, "compared only {compared} calls");
    // SAFETY: `has_hook` is `int has_hook(int)`, in an image that stays loaded.
    let has_hook: extern "C" fn(i32) -> i32 =
        unsafe { std::mem::transmute(export_address(&image, "has_hook")) };
    assert_eq!(has_hook(1), 0, "a missing weak function reads as null");
}

/// GNU ifuncs, written out and as clang makes them for `target_clones`, called from functions
/// in other shards. Before, codegen lost every ifunc ("selection removed `dot`"): the module's
/// globals were listed without them, and the shard split had no place for them.
const IFUNC_SOURCE: &str = r#"
#include <stdlib.h>
static int pick_plain(int x) { return x * 3 + 1; }
static int pick_other(int x) { return x - 5; }
static int (*resolve_pick(void))(int) {
    return getenv("AOTLINK_TEST_NO_SUCH_VARIABLE") ? pick_other : pick_plain;
}
int pick(int) __attribute__((ifunc("resolve_pick")));
__attribute__((target_clones("avx2", "default")))
long dot(const long *a, const long *b, long n) {
    long s = 0;
    for (long i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}
#define CALLER(k) long caller_##k(long x) { \
    long a[40], b[40]; \
    for (int i = 0; i < 40; i++) { a[i] = x + i * k; b[i] = i - k; } \
    return dot(a, b, 40) + pick((int)x + k); }
CALLER(0) CALLER(1) CALLER(2) CALLER(3) CALLER(4) CALLER(5) CALLER(6) CALLER(7)
"#;

#[test]
fn ifuncs_and_target_clones_across_shards_run_like_gccs_build() {
    let dir = scratch("ifuncs");
    let (_, image_path, reference) = image_and_reference(
        &dir,
        "ifuncs.c",
        IFUNC_SOURCE,
        (CLANG, &["-O2", "-fPIC"]),
        &["= ifunc", "= weak_odr ifunc", "@dot.resolver"],
        "cc",
    );
    let image = open(&image_path);
    // The versions clang makes for `target_clones` are symbols of their own in its build; an
    // AVX2 one must not run on a CPU without AVX2, whichever build has it.
    let versions = ["dot.resolver", "dot.avx2.0", "dot.default.1"];
    let compared = assert_same_results(&image, &reference, 6, &versions);
    assert!(compared >= 8 * 6, "compared only {compared} calls");
}

/// A function written in top-level assembly (as coroutine libraries write their context
/// switch), called from every shard. The module's assembly went into every shard's object,
/// and the link failed: "duplicate symbol: asm_add".
#[cfg(target_arch = "x86_64")]
const MODULE_ASM_SOURCE: &str = r#"
__asm__(".text\n.globl asm_add\n.type asm_add,@function\nasm_add:\n"
        "  lea (%rdi,%rsi), %rax\n  ret\n.size asm_add, .-asm_add\n");
long asm_add(long, long);
static long twice(long x) { return x * 2; }
#define CALLER(n) long caller_##n(long x) { return asm_add(twice(x), n); }
CALLER(0) CALLER(1) CALLER(2) CALLER(3) CALLER(4) CALLER(5) CALLER(6) CALLER(7)
"#;

#[cfg(target_arch = "x86_64")]
#[test]
fn module_assembly_is_linked_once_and_runs_like_gccs_build() {
    let dir = scratch("module-asm");
    let (_, image_path, reference) = image_and_reference(
        &dir,
        "module_asm.c",
        MODULE_ASM_SOURCE,
        (CLANG, &["-O2", "-fPIC"]),
        &["module asm \".globl asm_add\""],
        "cc",
    );
    let image = open(&image_path);
    let compared = assert_same_results(&image, &reference, 6, &[]);
    assert!(compared >= 8 * 6, "compared only {compared} calls");
}
