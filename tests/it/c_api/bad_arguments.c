/* Every way a caller can get libaotlink's arguments wrong gives -1 (or NULL) and a message,
 * never a crash: NULLs, unknown options and values, conflicting options, damaged bitcode, an
 * unknown CPU target, an output that cannot be written. Prints "ok <n>" with the number of
 * refusals seen; any other outcome prints what happened and exits non-zero.
 *
 * usage: bad_arguments KERNELS.bc WORKDIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <aotlink.h>

static int refused = 0;

/* `status` must be -1 with a message containing `expect`. */
static void expect_refusal(const char *what, int status, const char *expect) {
    const char *message = aotlink_last_error();
    if (status != -1 || !message || !strstr(message, expect)) {
        printf("%s: status %d, message \"%s\", expected one mentioning \"%s\"\n", what, status,
               message ? message : "(null)", expect);
        exit(1);
    }
    refused++;
}

static void *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(2); }
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = (char *)malloc(*len);
    if (fread(data, 1, *len, f) != *len) { perror(path); exit(2); }
    fclose(f);
    return data;
}

/* A build of `bc` with one option set, run into `output`: its status. */
static int run_with(const void *bc, size_t len, const char *option, const char *value,
                    const char *output) {
    aotlink_build *b = aotlink_build_new();
    if (aotlink_build_add_bitcode(b, "kernels.bc", bc, len) != 0) return 99;
    if (aotlink_build_set(b, "no-cache", NULL) != 0) return 98;
    if (option && aotlink_build_set(b, option, value) != 0) return 97;
    int status = aotlink_build_run(b, output);
    aotlink_build_free(b);
    return status;
}

int main(int argc, char **argv) {
    if (argc != 3) return 9;
    size_t len;
    unsigned char *bc = (unsigned char *)read_file(argv[1], &len);
    char output[4096], blocked[4096];
    snprintf(output, sizeof output, "%s/out.so", argv[2]);
    /* A regular file where a directory should be: not writable even by root. */
    snprintf(blocked, sizeof blocked, "%s/a-file", argv[2]);
    FILE *f = fopen(blocked, "w");
    if (!f) return 8;
    fclose(f);
    snprintf(blocked, sizeof blocked, "%s/a-file/out.so", argv[2]);

    /* NULLs. */
    expect_refusal("set on NULL", aotlink_build_set(NULL, "kind", "pkg"), "build is NULL");
    expect_refusal("run on NULL", aotlink_build_run(NULL, output), "build is NULL");
    expect_refusal("add NULL bitcode", aotlink_build_add_bitcode(NULL, "x", bc, len), "NULL");
    aotlink_build *b = aotlink_build_new();
    expect_refusal("NULL data", aotlink_build_add_bitcode(b, "x", NULL, 10), "data is NULL");
    expect_refusal("NULL path", aotlink_build_add_file(b, NULL), "path is NULL");
    expect_refusal("NULL option", aotlink_build_set(b, NULL, "x"), "option is NULL");
    expect_refusal("NULL output", aotlink_build_run(b, NULL), "output path is NULL");
    if (aotlink_build_report_json(NULL) != NULL) return 10;
    aotlink_build_free(NULL);

    /* Options the command line would refuse, refused when set. */
    expect_refusal("unknown option", aotlink_build_set(b, "no-such-option", "1"), "unknown option");
    expect_refusal("dashes", aotlink_build_set(b, "--kind", "pkg"), "unknown option");
    expect_refusal("bad kind", aotlink_build_set(b, "kind", "neither"), "neither");
    expect_refusal("bad shards", aotlink_build_set(b, "shards", "many"), "many");
    expect_refusal("flag with a value", aotlink_build_set(b, "export-all", "yes"), "export-all");
    expect_refusal("value missing", aotlink_build_set(b, "cpu-target", NULL), "cpu-target");
    if (aotlink_build_set(b, "cache-dir", argv[2]) != 0) return 11;
    expect_refusal("conflict", aotlink_build_set(b, "no-cache", NULL), "cannot be used with");
    expect_refusal("not UTF-8", aotlink_build_set(b, "export", "f\xff"), "not UTF-8");
    /* Nothing to build from. */
    expect_refusal("no inputs", aotlink_build_run(b, output), "input");
    aotlink_build_free(b);

    /* Damaged bitcode: every byte after the header flipped in a stretch, and a truncation. */
    unsigned char *damaged = (unsigned char *)malloc(len);
    memcpy(damaged, bc, len);
    for (size_t i = 64; i < len && i < 64 + 512; i++) damaged[i] ^= 0x5a;
    expect_refusal("damaged bitcode", run_with(damaged, len, NULL, NULL, output), "kernels.bc");
    expect_refusal("truncated bitcode", run_with(bc, len / 3, NULL, NULL, output), "kernels.bc");
    expect_refusal("not bitcode", run_with("hello", 5, NULL, NULL, output), "kernels.bc");

    /* A CPU LLVM does not know, and an output that cannot be written. */
    expect_refusal("unknown cpu", run_with(bc, len, "cpu-target", "generic;no-such-cpu", output),
                   "no-such-cpu");
    expect_refusal("unwritable output", run_with(bc, len, NULL, NULL, blocked), "a-file");

    /* The messages are per thread, and a failed run left no output behind. */
    FILE *out = fopen(output, "rb");
    if (out) { printf("a failed run left %s\n", output); return 12; }
    printf("ok %d\n", refused);
    free(damaged);
    free(bc);
    return 0;
}
