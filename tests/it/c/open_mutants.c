/* Opens each image listed in LIST (a path per line) through the C API and prints one line per
 * image: "refused <error>", or "ok" followed by the result of each call named on the command
 * line as NAME:ARITY (int64 functions of 1 to 3 arguments, called with 11, 6, 7; "none" when
 * the image has no address for NAME). With --open-only nothing is called. With --sys PATH,
 * each image is opened into a fresh method table that holds the system image PATH first.
 *
 * usage: open_mutants LIST [--open-only] [--sys PATH] [NAME:ARITY ...] */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aotload.h"

typedef int64_t (*fn1)(int64_t);
typedef int64_t (*fn2)(int64_t, int64_t);
typedef int64_t (*fn3)(int64_t, int64_t, int64_t);

static void print_call(const aotload_image *image, const char *spec) {
    char name[256];
    const char *colon = strchr(spec, ':');
    size_t len = colon ? (size_t)(colon - spec) : strlen(spec);
    if (!colon || len >= sizeof name) {
        printf(" bad-spec");
        return;
    }
    memcpy(name, spec, len);
    name[len] = 0;
    const void *address = aotload_lookup(image, name);
    if (!address) {
        printf(" none");
        return;
    }
    int64_t result;
    switch (atoi(colon + 1)) {
    case 1: result = ((fn1)address)(11); break;
    case 2: result = ((fn2)address)(11, 6); break;
    case 3: result = ((fn3)address)(11, 6, 7); break;
    default: printf(" bad-arity"); return;
    }
    printf(" %" PRId64, result);
}

int main(int argc, char **argv) {
    if (argc < 2) return 9;
    int open_only = 0, first_call = argc;
    const char *sys = NULL;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--open-only")) {
            open_only = 1;
        } else if (!strcmp(argv[i], "--sys") && i + 1 < argc) {
            sys = argv[++i];
        } else {
            first_call = i;
            break;
        }
    }
    FILE *list = fopen(argv[1], "r");
    if (!list) return 8;
    char path[4096];
    while (fgets(path, sizeof path, list)) {
        path[strcspn(path, "\n")] = 0;
        aotload_method_table *table = aotload_method_table_new();
        aotload_image *system = NULL;
        if (sys && !(system = aotload_open_in(table, sys, NULL))) {
            printf("system image refused: %s\n", aotload_last_error());
            return 7;
        }
        aotload_image *image = aotload_open_in(table, path, NULL);
        if (!image) {
            printf("refused %s\n", aotload_last_error());
        } else {
            printf("ok");
            for (int i = first_call; i < argc && !open_only; i++) print_call(image, argv[i]);
            printf("\n");
            aotload_close(image);
        }
        fflush(stdout);
        if (system) aotload_close(system);
        aotload_method_table_free(table);
    }
    fclose(list);
    return 0;
}
