/* A package image whose versioned functions call vector-typed methods of the system image
 * (vec_sys.c) through external-method slots. */
typedef float v8f __attribute__((vector_size(32)));
typedef float v16f __attribute__((vector_size(64)));
v8f sys_madd8(v8f a, v8f b);
v16f sys_madd16(v16f a, v16f b);

float pkg_run256(float x) {
    v8f a, b; for (int i = 0; i < 8; i++) { a[i] = x + i; b[i] = x * i; }
    v8f r = sys_madd8(a, b);
    float s = 0; for (int i = 0; i < 8; i++) s += r[i] * (i + 1);
    return s;
}

float pkg_run512(float x) {
    v16f a, b; for (int i = 0; i < 16; i++) { a[i] = x - i; b[i] = x * 0.5f + i; }
    v16f r = sys_madd16(a, b);
    float s = 0; for (int i = 0; i < 16; i++) s += r[i] * (i + 1);
    return s;
}
