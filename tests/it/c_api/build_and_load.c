/* A runtime's view of libaotlink and libaotload: builds a package image from bitcode it holds
 * in memory (LLD inside libaotlink), a system image of the same bitcode with the C driver,
 * loads both with aotload and checks calls against the C compiler's build of the same source
 * (the reference library, opened with dlopen). Valid C and C++: the tests compile it with gcc
 * and with g++ -fexceptions, where a failure is thrown and caught.
 *
 * usage: build_and_load KERNELS.bc DATA.txt WORKDIR REFERENCE.so
 * prints one line per image, "<kind>: <n> calls agree, target <name>", and "progress ok". */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <aotlink.h>
#include <aotload.h>

#ifdef __cplusplus
#include <stdexcept>
#include <string>
#define FAIL(what) throw std::runtime_error(std::string(what) + ": " + aotlink_last_error())
#else
#define FAIL(what) \
    do { fprintf(stderr, "%s: %s\n", what, aotlink_last_error()); exit(1); } while (0)
#endif

static void *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(2); }
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    void *data = malloc(*len);
    if (fread(data, 1, *len, f) != *len) { perror(path); exit(2); }
    fclose(f);
    return data;
}

struct progress { size_t calls, last_done, last_total; };

static void on_progress(size_t done, size_t total, void *user) {
    struct progress *p = (struct progress *)user;
    p->calls++;
    p->last_done = done;
    p->last_total = total;
}

static void set(aotlink_build *b, const char *option, const char *value) {
    if (aotlink_build_set(b, option, value) != 0) FAIL(option);
}

/* Builds `output` from the bitcode in memory with `options` (name, value pairs, NULL-ended). */
static void build_image(const void *bc, size_t bc_len, const void *data, size_t data_len,
                        const char *const *options, struct progress *progress,
                        const char *output) {
    aotlink_build *b = aotlink_build_new();
    if (!b) FAIL("aotlink_build_new");
    if (aotlink_build_add_bitcode(b, "kernels.bc", bc, bc_len) != 0) FAIL("add_bitcode");
    if (aotlink_build_set_image_data(b, data, data_len) != 0) FAIL("set_image_data");
    for (; options[0]; options += 2) set(b, options[0], options[1]);
    if (progress && aotlink_build_set_progress(b, on_progress, progress) != 0)
        FAIL("set_progress");
    if (aotlink_build_report_json(b) != NULL) FAIL("a report before any run");
    if (aotlink_build_run(b, output) != 0) FAIL(output);
    const char *report = aotlink_build_report_json(b);
    if (!report || !strstr(report, "\"shards\"")) FAIL("report_json");
    aotlink_build_free(b);
}

typedef int64_t (*i1)(int64_t);
typedef int64_t (*i2)(int64_t, int64_t);
typedef int64_t (*i3)(int64_t, int64_t, int64_t);
typedef double (*d_idd)(int64_t, double, double);

/* Calls functions of the image and of the reference with the same arguments; returns how
 * many agreed, exits on the first that does not. */
static int compare(aotload_image *img, void *ref, const char *kind) {
    static const char *const one[] = {"prime_at", "collatz_steps", "image_data_byte", NULL};
    static const char *const two[] = {"i32_sum", "popcount_sum", "crc32_bytes", "ll_gcd",
                                      "ops_sweep", NULL};
    static const char *const three[] = {"apply_op", "pow_mod", "histogram_checksum", NULL};
    static const char *const doubles[] = {"sum_squares", "exp_sum", "scaled_mean", NULL};
    static const int64_t args[] = {0, 1, 7, 31, 100, 1000, -5, INT64_MIN, INT64_MAX,
                                   123456789};
    const int nargs = (int)(sizeof args / sizeof args[0]);
    int agreed = 0;
    for (const char *const *name = one; *name; name++) {
        i1 f = (i1)aotload_lookup(img, *name), g = (i1)dlsym(ref, *name);
        if (!f || !g) { fprintf(stderr, "%s: no %s\n", kind, *name); exit(3); }
        for (int i = 0; i < nargs; i++, agreed++)
            if (f(args[i]) != g(args[i])) { fprintf(stderr, "%s %s(%lld)\n", kind, *name, (long long)args[i]); exit(3); }
    }
    for (const char *const *name = two; *name; name++) {
        i2 f = (i2)aotload_lookup(img, *name), g = (i2)dlsym(ref, *name);
        if (!f || !g) { fprintf(stderr, "%s: no %s\n", kind, *name); exit(3); }
        for (int i = 0; i < nargs; i++)
            for (int j = 0; j < nargs; j++, agreed++)
                if (f(args[i], args[j]) != g(args[i], args[j])) { fprintf(stderr, "%s %s\n", kind, *name); exit(3); }
    }
    for (const char *const *name = three; *name; name++) {
        i3 f = (i3)aotload_lookup(img, *name), g = (i3)dlsym(ref, *name);
        if (!f || !g) { fprintf(stderr, "%s: no %s\n", kind, *name); exit(3); }
        for (int i = 0; i < nargs; i++)
            for (int j = 0; j < nargs; j++, agreed++)
                if (f(args[i] % 5, args[j], args[(i + j) % nargs]) != g(args[i] % 5, args[j], args[(i + j) % nargs])) { fprintf(stderr, "%s %s\n", kind, *name); exit(3); }
    }
    for (const char *const *name = doubles; *name; name++) {
        d_idd f = (d_idd)aotload_lookup(img, *name), g = (d_idd)dlsym(ref, *name);
        if (!f || !g) { fprintf(stderr, "%s: no %s\n", kind, *name); exit(3); }
        for (int i = 0; i < nargs; i++, agreed++) {
            double a = f(args[i], 0.25 * (double)i, -1.5), b = g(args[i], 0.25 * (double)i, -1.5);
            if (memcmp(&a, &b, sizeof a) != 0) { fprintf(stderr, "%s %s: %g vs %g\n", kind, *name, a, b); exit(3); }
        }
    }
    int64_t (*fnv)(void) = (int64_t (*)(void))aotload_lookup(img, "image_data_fnv1a");
    int64_t (*ref_fnv)(void) = (int64_t (*)(void))dlsym(ref, "image_data_fnv1a");
    if (!fnv || !ref_fnv || fnv() != ref_fnv()) { fprintf(stderr, "%s: image data\n", kind); exit(3); }
    return agreed + 1;
}

static int run(int argc, char **argv) {
    if (argc != 5) return 9;
    size_t bc_len, data_len;
    void *bc = read_file(argv[1], &bc_len);
    void *data = read_file(argv[2], &data_len);
    char pkg[4096], sys[4096], cache[4096];
    snprintf(pkg, sizeof pkg, "%s/pkg.so", argv[3]);
    snprintf(sys, sizeof sys, "%s/sys.so", argv[3]);
    snprintf(cache, sizeof cache, "%s/cache", argv[3]);

    struct progress progress = {0, 0, 0};
    const char *const pkg_options[] = {"export-all", NULL, "cpu-target", "generic;haswell",
                                       "cache-dir", cache, NULL};
    build_image(bc, bc_len, data, data_len, pkg_options, &progress, pkg);
    const char *const sys_options[] = {"kind", "sysimg", "cc", "gcc", "export-all", NULL,
                                       "no-cache", NULL, "shards", "3", NULL};
    build_image(bc, bc_len, data, data_len, sys_options, NULL, sys);
    free(bc);
    free(data);

    void *ref = dlopen(argv[4], RTLD_NOW | RTLD_LOCAL);
    if (!ref) { fprintf(stderr, "%s\n", dlerror()); return 4; }
    const char *paths[] = {pkg, sys};
    const char *kinds[] = {"pkg", "sysimg"};
    for (int i = 0; i < 2; i++) {
        aotload_image *img = aotload_open(paths[i]);
        if (!img) { fprintf(stderr, "%s: %s\n", paths[i], aotload_last_error()); return 5; }
        int agreed = compare(img, ref, kinds[i]);
        printf("%s: %d calls agree, target %s\n", kinds[i], agreed, aotload_target_name(img));
        aotload_close(img);
    }
    if (progress.calls > 0 && progress.last_done == progress.last_total) printf("progress ok\n");
    return 0;
}

int main(int argc, char **argv) {
#ifdef __cplusplus
    try {
        return run(argc, argv);
    } catch (const std::exception &e) {
        fprintf(stderr, "caught: %s\n", e.what());
        return 1;
    }
#else
    return run(argc, argv);
#endif
}
