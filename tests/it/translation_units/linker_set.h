/* A linker set over three files: each adds entries to section "aot_reg", which code walks from
   __start_aot_reg to __stop_aot_reg; a linker lays the files' entries out in the order of its
   inputs (twice, square, neg), not of their names. The files also hold common symbols of two
   sizes, a tentative definition another file initializes, an alias, a hidden function and a
   gnu89 `extern inline` one (-fgnu89-inline) whose out-of-line definition is elsewhere. */
struct entry { const char *name; long (*fn)(long); };
#define REGISTER(n, f) static const struct entry reg_##f __attribute__((used, section("aot_reg"), aligned(sizeof(void*)))) = { n, f }
