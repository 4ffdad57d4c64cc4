/* Loads a system image and a package image (tests/it/methods) into one method table after
 * redefining g, and prints the package's invalidations and two calls. SIG is the methods'
 * LLVM signature on this target ("i64 (i64)"; "i32 (i32)" where long is 32-bit). */
#include <stdio.h>

#include "aotload.h"

#ifndef SIG
#define SIG "i64 (i64)"
#endif

static long new_g(long x) { return x + 1000; }

int main(int argc, char **argv) {
    if (argc != 3) return 9;
    aotload_method_table *table = aotload_method_table_new();
    aotload_image *sys = aotload_open_in(table, argv[1], NULL);
    if (!sys) { printf("sys: %s\n", aotload_last_error()); return 1; }
    if (aotload_method_table_define(table, "f", SIG, 1, (const void *)new_g) != -1) return 2;
    aotload_method_table_redefine(table, "g", SIG, 42, (const void *)new_g);
    aotload_image *pkg = aotload_open_in(table, argv[2], NULL);
    if (!pkg) { printf("pkg: %s\n", aotload_last_error()); return 3; }
    for (unsigned i = 0; i < aotload_ninvalidated(pkg); i++) {
        const char *method, *reason, *culprit;
        aotload_invalidated(pkg, i, &method, &reason, &culprit);
        printf("invalid %s (culprit %s)\n", method, culprit);
    }
    long (*uses_f)(long) = (long (*)(long))aotload_lookup(pkg, "uses_f");
    printf("uses_f(5)=%d uses_g=%s target=%s\n", (int)uses_f(5),
           aotload_lookup(pkg, "uses_g") ? "callable" : "none", aotload_target_name(pkg));
    aotload_close(pkg);
    aotload_close(sys);
    aotload_method_table_free(table);
    return 0;
}
