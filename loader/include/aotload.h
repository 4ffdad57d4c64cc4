/*
 * aotload.h - C interface of the aotlink image loader (libaotload).
 *
 * An image is a shared library built by aotlink. aotload_open verifies it (format, checksum of
 * the whole file, CPU target; its signature, when aotload_open_opts asks for one) before the dynamic loader runs any of it, then merges its shard
 * tables: functions and globals are then reachable by index (fvar / gvar) or function name.
 *
 * Errors: functions returning pointers return NULL and set a message that
 * aotload_last_error() returns (per thread, until the next failing call on that thread).
 *
 * Strings: paths are taken as the bytes the OS uses (on Unix any bytes but NUL; on Windows
 * UTF-8). Names, signatures and targets are UTF-8, as images store them; other bytes are an
 * error, never a lossy near match. Panics never cross this interface: an internal error is a
 * failed call with a message.
 */
#ifndef AOTLOAD_H
#define AOTLOAD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct aotload_image aotload_image;

/* The method table: which method (name + signature) is where, with the content hash it was
 * compiled from. Images opened into a table add their valid exported methods to it; package
 * images resolve the methods of other images through it and are validated against it. */
typedef struct aotload_method_table aotload_method_table;

aotload_method_table *aotload_method_table_new(void);
void aotload_method_table_free(aotload_method_table *table);

/* Adds a method the runtime provides. 0, or -1 when one with this name and signature exists. */
int aotload_method_table_define(aotload_method_table *table, const char *name,
                                const char *signature, uint64_t hash, const void *address);

/* Adds or replaces a method (the runtime redefined it): package images opened afterwards see
 * the new hash, and the methods that depended on the old one are invalid. A name or signature
 * that is not UTF-8 changes nothing and sets the error message. */
void aotload_method_table_redefine(aotload_method_table *table, const char *name,
                                   const char *signature, uint64_t hash, const void *address);

/* What invalid methods of package images point at instead of NULL (a "recompile" entry). */
void aotload_method_table_set_recompile_stub(aotload_method_table *table, const void *stub);

/* Opens, verifies and loads the image at `path`, choosing the best CPU target for this host. */
aotload_image *aotload_open(const char *path);

/* Like aotload_open, but with the CPU target named `target` (NULL: choose). The target must be
 * usable on this host. */
aotload_image *aotload_open_target(const char *path, const char *target);

/* Opens an image into `table`: a package image is validated against it (methods whose edges
 * no longer hold are invalidated), a system image is trusted; the image's valid exported
 * methods then enter the table (a name + signature already there is an error). */
aotload_image *aotload_open_in(aotload_method_table *table, const char *path, const char *target);

/* Load options: which CPU target, and which signatures are accepted. An image signed with
 * `aotlink sign` (or `--sign`) ends with an ed25519 signature over a BLAKE3 hash of the file;
 * with a signature required, an unsigned image, one signed by a key not trusted here, or one
 * whose signature does not match its bytes is refused before any of its structures is parsed
 * and before the dynamic loader sees it. */
typedef struct aotload_options aotload_options;

/* Defaults: choose the target, no signature required, no key trusted. */
aotload_options *aotload_options_new(void);
void aotload_options_free(aotload_options *options);

/* The CPU target named `target` (NULL: choose the best one for this host). 0, or -1 when
 * `options` is NULL or `target` is not UTF-8. */
int aotload_options_set_target(aotload_options *options, const char *target);

/* Nonzero: refuse an image without a valid signature by a trusted key. When keys are trusted
 * but no signature is required, a signed image must still be signed by one of them. */
void aotload_options_require_signature(aotload_options *options, int require);

/* Trusts an ed25519 public key: its 32 bytes, or the file `aotlink keygen` wrote (NAME.pub).
 * 0, or -1 when the key is not valid (or the file not readable or not a key file). */
int aotload_options_trust_key(aotload_options *options, const uint8_t key[32]);
int aotload_options_trust_key_file(aotload_options *options, const char *path);

/* Verdicts: an image is verified byte for byte before anything in it runs. A verdict
 * remembers that a file was hashed and found whole, keyed by its device, inode, size, mtime
 * and ctime (ns) and its checksum; opening the same unchanged file again skips the hash (the
 * structures are still checked). A file changed since (any write changes its ctime), or
 * changed within the filesystem's timestamp granularity before it was hashed, is hashed again.
 * Verdicts are always remembered in the process; on disk (so the next process skips the hash
 * too) only when asked for, here or with the environment variable AOTLINK_VERDICT_CACHE (1:
 * the default place, an absolute path: that directory). A directory or entry owned by another
 * user, or writable by group or others, is not used. Neither kind is used when a signature is
 * checked. What it gives up (bit rot on a disk that changes bytes without a write): DESIGN.md,
 * "Trust model". */

/* The verdict cache on disk: `mode` 1 uses it in the default place (`verdicts/` in the shard
 * cache's directory: $AOTLINK_CACHE_DIR, else $XDG_CACHE_HOME/aotlink, else
 * ~/.cache/aotlink), 0 does not, -1 does as AOTLINK_VERDICT_CACHE says (the default). 0, or -1
 * when `options` is NULL or `mode` is none of these. */
int aotload_options_disk_verdicts(aotload_options *options, int mode);
/* The verdict cache on disk in the directory `dir` (created, mode 0700, when missing). 0, or
 * -1 when `options` or `dir` is NULL. */
int aotload_options_disk_verdicts_dir(aotload_options *options, const char *dir);

/* Opens an image with `options` (NULL: the defaults) into `table` (NULL: a table of its own,
 * like aotload_open). */
aotload_image *aotload_open_opts(aotload_method_table *table, const char *path,
                                 const aotload_options *options);

/* Methods of a package image that did not validate: how many, and the `index`-th one's name,
 * reason and culprit (the external method at the root of it). Strings live as long as the
 * image. Returns 0, or -1 when index is out of range. */
/* How the image's bytes were found whole: 0 hashed on this open, 1 a trusted signature, 2 a
 * verdict this process remembered, 3 a verdict from the cache on disk; -1 for NULL. */
int aotload_verification(const aotload_image *image);

uint32_t aotload_ninvalidated(const aotload_image *image);
int aotload_invalidated(const aotload_image *image, uint32_t index, const char **method,
                        const char **reason, const char **culprit);

/* Number of functions (fvars) and globals (gvars) of the image. */
uint32_t aotload_nfvars(const aotload_image *image);
uint32_t aotload_ngvars(const aotload_image *image);

/* The function of fvar index `index`, in the version for the chosen target. NULL if out of
 * range, or for an invalid method (unless the table has a recompile stub). */
const void *aotload_fptr(const aotload_image *image, uint32_t index);

/* The address of the global of gvar index `index`. NULL if out of range. */
void *aotload_gvar(const aotload_image *image, uint32_t index);

/* The function named `name` (exported or not, or an exported alias of one: the same address).
 * NULL if the image has none. */
const void *aotload_lookup(const aotload_image *image, const char *name);

/* The exported variable named `name` (or an exported alias of one); for a thread-local
 * variable, the calling thread's copy. NULL if the image exports none. */
void *aotload_lookup_data(const aotload_image *image, const char *name);

/* The image data given at build time (--image-data); its size goes to *len (if len != NULL). */
const uint8_t *aotload_image_data(const aotload_image *image, size_t *len);

/* CPU name of the chosen target. */
const char *aotload_target_name(const aotload_image *image);

/* Message of the last failing call on this thread, "" if none. */
const char *aotload_last_error(void);

/* Closes the image; its function and data pointers become invalid. */
void aotload_close(aotload_image *image);

#ifdef __cplusplus
}
#endif

#endif /* AOTLOAD_H */
