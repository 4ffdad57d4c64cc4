//! Code that calls the unwinder (libgcc_s's `_Unwind_*`: Rust's panics, C++ exceptions, C
//! with `-fexceptions`, backtraces), loaded by a C program that has no unwinder of its own,
//! against gcc's build of the same source. The image depends on libgcc_s as gcc's build does;
//! before, it loaded only into processes that had libgcc_s already (aotlink, Rust programs)
//! and a C program's dlopen failed on the first `_Unwind_` symbol.

use crate::common::*;

/// A backtrace's length (through frames in other shards), and a `cleanup` variable under
/// `-fexceptions`, whose landing pad resumes unwinding through `_Unwind_Resume`.
const SOURCE: &str = r#"
#include <unwind.h>
volatile int sink;
static _Unwind_Reason_Code count(struct _Unwind_Context *context, void *frames) {
    ++*(int *)frames;
    return _URC_NO_REASON;
}
__attribute__((noinline)) int depth(int n) {
    if (n > 0) { int r = depth(n - 1); sink += r; return r; }
    int frames = 0;
    _Unwind_Backtrace(count, &frames);
    return frames;
}
int frames_added(int n) { return depth(n) - depth(0); }
static void release(int *p) { sink += *p; }
__attribute__((noinline)) void call_out(void (*f)(int), int x) {
    int guard __attribute__((cleanup(release))) = x;
    f(x);
}
static void add(int x) { sink += x; }
int cleaned(int x) { sink = 0; call_out(add, x); return sink; }
"#;

/// Opens a library with dlopen (the program links no unwinder) and calls its functions.
const CALLER: &str = r#"
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
    void *lib = dlopen(argv[1], RTLD_NOW);
    if (!lib) { printf("dlopen: %s\n", dlerror()); return 1; }
    int (*frames_added)(int) = (int (*)(int))dlsym(lib, "frames_added");
    int (*cleaned)(int) = (int (*)(int))dlsym(lib, "cleaned");
    printf("frames_added(7)=%d cleaned(5)=%d\n", frames_added(7), cleaned(5));
    return 0;
}
"#;

#[test]
fn images_that_call_the_unwinder_load_into_c_programs_like_gccs_build() {
    let dir = scratch("unwinder");
    let (_, image, reference) = image_and_reference(
        &dir,
        "unwind.c",
        SOURCE,
        (CLANG, &["-O2", "-fPIC", "-fexceptions"]),
        &["@_Unwind_Backtrace", "landingpad", "resume "],
        "cc",
    );
    let run = c_program_loading(&dir, CALLER);
    let theirs = run(&reference);
    assert_eq!(theirs, "frames_added(7)=7 cleaned(5)=10\n");
    assert_eq!(run(&image), theirs);
}
