/*
 * aotlink.h - C interface of the aotlink image builder (libaotlink).
 *
 * A runtime hands its JIT's modules over as bitcode (LLVMWriteBitcodeToMemoryBuffer, or a
 * file), sets options, and writes an image that libaotload (aotload.h) loads in a later
 * process. No LLVM type crosses this interface: libaotlink carries its own LLVM 22, whatever
 * LLVM the runtime links.
 *
 *     aotlink_build *b = aotlink_build_new();
 *     aotlink_build_add_bitcode(b, "jit.bc", data, len);
 *     aotlink_build_set(b, "export-all", NULL);
 *     if (aotlink_build_run(b, "pkg.so") != 0) fprintf(stderr, "%s\n", aotlink_last_error());
 *     aotlink_build_free(b);
 *
 * Errors: functions returning int return 0 on success and -1 on failure; functions returning
 * pointers return NULL. Either way aotlink_last_error() then says why (per thread, until the
 * next failing call on that thread). Panics never cross this interface: an internal error is a
 * failed call with a message.
 *
 * Threads: a build may be used by one thread at a time; separate builds may run at once on
 * separate threads.
 *
 * Strings: option names and values are UTF-8; paths are the bytes the OS uses (on Unix any
 * bytes but NUL).
 *
 * ABI: the soname (libaotlink.so.N) changes whenever a declaration here changes or goes;
 * tests/it/c_api/aotlink.abi records them.
 */
#ifndef AOTLINK_H
#define AOTLINK_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One image build: inputs, options and, after a run, its report. */
typedef struct aotlink_build aotlink_build;

/* Called with (shards done, shards in all) as shards are emitted or taken from the cache, one
 * call at a time but from the build's own threads; it must not throw or longjmp. */
typedef void (*aotlink_progress_fn)(size_t done, size_t total, void *user);

/* A package image for the IR's own triple, default CPU targets, the default shard cache. */
aotlink_build *aotlink_build_new(void);
void aotlink_build_free(aotlink_build *build);

/* IR in memory (bitcode, or text IR), copied; `name` (NULL: "bitcode") names it in errors.
 * Several inputs are merged. */
int aotlink_build_add_bitcode(aotlink_build *build, const char *name, const void *data,
                              size_t len);

/* An IR file (.bc or .ll), read when the build runs. */
int aotlink_build_add_file(aotlink_build *build, const char *path);

/* Any option of `aotlink build` by its long name, without the dashes, and its value; NULL
 * for a flag: ("kind", "sysimg"), ("cpu-target", "generic;haswell"), ("export", "f"),
 * ("export-all", NULL), ("no-cache", NULL), ("cache-dir", "/tmp/c"), ("cc", "gcc"),
 * ("shards", "4"). Repeatable options (export, method-table, link-lib, ...) add a value each
 * time; others take the last value. Parsed by the command line's own definitions: an unknown
 * option, a bad value or options that conflict are refused here; values that name files
 * (trace, image-data, sign, ...) are read when the build runs. "timings" prints the report on
 * stderr as the command line does; "verbose" prints every link command line of the process. */
int aotlink_build_set(aotlink_build *build, const char *option, const char *value);

/* Bytes the image carries, copied (the loader hands them back: aotload_image_data). Replaces
 * the "image-data" option. */
int aotlink_build_set_image_data(aotlink_build *build, const void *data, size_t len);

/* Progress of the shards (NULL: none). */
int aotlink_build_set_progress(aotlink_build *build, aotlink_progress_fn cb, void *user);

/* LLVM's bitcode reader can crash on damaged input, which would take this process with it, so
 * the inputs are first parsed in a child process: this aotlink executable. The default is the
 * aotlink installed beside this library ($prefix/bin/aotlink for $prefix/lib/libaotlink.so);
 * when there is none, aotlink_build_run fails and says so. NULL: read the inputs in this
 * process without a check, for IR this process made itself (a damaged input may then abort
 * the process). */
int aotlink_build_set_checker(aotlink_build *build, const char *aotlink_executable);

/* Runs the build (codegen, shards with the cache, link, seal) and writes the image at
 * `output_path` (written whole or not at all). 0, or -1 and aotlink_last_error(). */
int aotlink_build_run(aotlink_build *build, const char *output_path);

/* The last successful run's report as JSON (what `aotlink build --timings=json` prints): phases,
 * shards, cache hits, warnings. Lives until the next run or aotlink_build_free; NULL before a
 * run has succeeded. */
const char *aotlink_build_report_json(const aotlink_build *build);

/* Message of the last failing call on this thread, "" if none. */
const char *aotlink_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* AOTLINK_H */
