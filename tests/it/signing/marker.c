/* An image whose constructor leaves a trace: when the environment variable AOTLINK_TEST_MARKER
 * names a path, loading the image creates that file. It runs only when the dynamic loader
 * maps the image, so a missing marker after a refused open shows that the refusal came before
 * the platform loader ran anything of the file (tests/it/signing.rs).
 *
 * No system headers, like examples/kernels/kernels.c: the few C library functions used are
 * declared here. */
typedef struct marker_file marker_file;
char *getenv(const char *name);
marker_file *fopen(const char *path, const char *mode);
int fputs(const char *text, marker_file *file);
int fclose(marker_file *file);

__attribute__((constructor)) static void leave_marker(void) {
    const char *path = getenv("AOTLINK_TEST_MARKER");
    if (!path) return;
    marker_file *file = fopen(path, "w");
    if (!file) return;
    fputs("the constructor ran\n", file);
    fclose(file);
}

/* A value fixed by this source: signing_answer(11) == 11042. */
long long signing_answer(long long x) { return x * 1000 + 42; }
