//! C code that registers exit and fork handlers (`atexit`, `pthread_atfork`), loaded and
//! unloaded by a C program, against gcc's build. glibc's libc.so.6 does not export these:
//! libc_nonshared.a defines them in each library, with the library's `__dso_handle`, so its
//! exit handlers run when it is unloaded. Without them the image was refused by the dynamic
//! loader (undefined symbol: atexit).

use crate::common::*;

const SOURCE: &str = r#"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
static int forks;
static void bye(void) { printf("exit handler\n"); fflush(stdout); }
static void before_fork(void) { forks++; }
int registered(int x) {
    atexit(bye);
    pthread_atfork(before_fork, NULL, NULL);
    return x + 1;
}
int forks_seen(int x) { return forks + x; }
"#;

/// Loads the library, registers, forks once, unloads it (running its exit handler), forks
/// again (its fork handler is gone: the library is unmapped) and exits.
const CALLER: &str = r#"
#include <dlfcn.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
static void fork_and_wait(void) {
    pid_t child = fork();
    if (child == 0) _exit(0);
    waitpid(child, NULL, 0);
}
int main(int argc, char **argv) {
    void *lib = dlopen(argv[1], RTLD_NOW);
    if (!lib) { printf("dlopen: %s\n", dlerror()); return 1; }
    int (*registered)(int) = (int (*)(int))dlsym(lib, "registered");
    int (*forks_seen)(int) = (int (*)(int))dlsym(lib, "forks_seen");
    printf("registered(1)=%d\n", registered(1));
    fork_and_wait();
    printf("forks_seen(0)=%d\n", forks_seen(0));
    fflush(stdout);
    dlclose(lib);
    printf("unloaded\n");
    fork_and_wait();
    printf("forked again\n");
    return 0;
}
"#;

#[test]
fn exit_and_fork_handlers_belong_to_the_image_like_gccs_build() {
    let dir = scratch("exit-handlers");
    let (_, image, reference) = image_and_reference(
        &dir,
        "handlers.c",
        SOURCE,
        (CLANG, &["-O2", "-fPIC"]),
        &["@atexit", "@pthread_atfork"],
        "cc",
    );
    let run = c_program_loading(&dir, CALLER);
    let theirs = run(&reference);
    assert_eq!(
        theirs,
        "registered(1)=2\nforks_seen(0)=1\nexit handler\nunloaded\nforked again\n"
    );
    assert_eq!(run(&image), theirs);
}
