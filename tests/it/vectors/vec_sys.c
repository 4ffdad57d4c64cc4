/* A system image providing vector-typed methods, for vec_pkg.c to call through its slots. */
typedef float v8f __attribute__((vector_size(32)));
typedef float v16f __attribute__((vector_size(64)));
__attribute__((noinline)) v8f sys_madd8(v8f a, v8f b) { v8f r; for (int i = 0; i < 8; i++) r[i] = a[i] * b[i] + a[i]; return r; }
__attribute__((noinline)) v16f sys_madd16(v16f a, v16f b) { v16f r; for (int i = 0; i < 16; i++) r[i] = a[i] * b[i] - b[i]; return r; }
