/* Vector arguments and results of 128, 256 and 512 bits (float, double and integer), passed
 * between functions that aotlink may version for different CPU targets: exported, internal,
 * through a table of function pointers. Scalar entry points (run_*) take and return plain
 * numbers so a test can compare every CPU target of the image with gcc's build. */
#include <stdint.h>

typedef float v4f __attribute__((vector_size(16)));
typedef float v8f __attribute__((vector_size(32)));
typedef float v16f __attribute__((vector_size(64)));
typedef double v4d __attribute__((vector_size(32)));
typedef double v8d __attribute__((vector_size(64)));
typedef int32_t v4i __attribute__((vector_size(16)));
typedef int32_t v8i __attribute__((vector_size(32)));
typedef int64_t v8l __attribute__((vector_size(64)));

#define NOINLINE __attribute__((noinline))

/* Exported vector functions (their callers below are versioned, they may be too). */
NOINLINE v4f madd4(v4f a, v4f b) { v4f r; for (int i = 0; i < 4; i++) r[i] = a[i] * b[i] + a[i]; return r; }
NOINLINE v8f madd8(v8f a, v8f b) { v8f r; for (int i = 0; i < 8; i++) r[i] = a[i] * b[i] + a[i]; return r; }
NOINLINE v16f madd16(v16f a, v16f b) { v16f r; for (int i = 0; i < 16; i++) r[i] = a[i] * b[i] + a[i]; return r; }
NOINLINE v4d dmix4(v4d a, v4d b) { v4d r; for (int i = 0; i < 4; i++) r[i] = a[i] - b[i] * 0.5; return r; }
NOINLINE v8d dmix8(v8d a, v8d b) { v8d r; for (int i = 0; i < 8; i++) r[i] = a[i] - b[i] * 0.5; return r; }
NOINLINE v4i imix4(v4i a, v4i b) { v4i r; for (int i = 0; i < 4; i++) r[i] = (a[i] ^ b[i]) + i * 7; return r; }
NOINLINE v8i imix8(v8i a, v8i b) { v8i r; for (int i = 0; i < 8; i++) r[i] = (a[i] ^ b[i]) + i * 7; return r; }
NOINLINE v8l lmix8(v8l a, v8l b) { v8l r; for (int i = 0; i < 8; i++) r[i] = a[i] * 3 - (b[i] >> 1); return r; }

/* Exported, vectors only in the result: no parameter in memory, so these can have versions
 * (pinned: the exported symbol must stay the base-ABI version). */
NOINLINE v8f splat8(float x) { v8f r; for (int i = 0; i < 8; i++) r[i] = x * (float)(i + 1) - 0.5f; return r; }
NOINLINE v16f splat16(float x) { v16f r; for (int i = 0; i < 16; i++) r[i] = x / (float)(i + 2) + (float)i; return r; }

/* Internal ones, reached only from this file. */
static NOINLINE v8f scale8(v8f a, float s) { for (int i = 0; i < 8; i++) a[i] *= s; return a; }
static NOINLINE v16f scale16(v16f a, float s) { for (int i = 0; i < 16; i++) a[i] *= s; return a; }
static NOINLINE v8i shift8(v8i a, int s) { for (int i = 0; i < 8; i++) a[i] = (a[i] << (s & 7)) - s; return a; }

/* Through pointers: the table is volatile so no compiler can see which function is called. */
static NOINLINE v8f sub8(v8f a, v8f b) { return a - b; }
static NOINLINE v16f sub16(v16f a, v16f b) { return a - b; }
v8f (*volatile ops8[2])(v8f, v8f) = {madd8, sub8};
v16f (*volatile ops16[2])(v16f, v16f) = {madd16, sub16};

static v4f fill4(float x) { v4f v; for (int i = 0; i < 4; i++) v[i] = x + i; return v; }
static v8f fill8(float x) { v8f v; for (int i = 0; i < 8; i++) v[i] = x * (i + 1) - 3; return v; }
static v16f fill16(float x) { v16f v; for (int i = 0; i < 16; i++) v[i] = x - i * 0.25f; return v; }

float run128(float x) {
    v4f r = madd4(fill4(x), fill4(x * 0.5f));
    float s = 0; for (int i = 0; i < 4; i++) s += r[i] * (i + 1);
    return s;
}

float run256(float x, int64_t which) {
    v8f a = fill8(x), b = fill8(x + 1);
    v8f r = madd8(a, b);
    r = scale8(r, 0.75f);
    r = ops8[which & 1](r, a);
    float s = 0; for (int i = 0; i < 8; i++) s += r[i] * (i + 1);
    return s;
}

float run512(float x, int64_t which) {
    v16f a = fill16(x), b = fill16(x * 2);
    v16f r = madd16(a, b);
    r = scale16(r, 1.5f);
    r = ops16[which & 1](r, b);
    float s = 0; for (int i = 0; i < 16; i++) s += r[i] * (i + 1);
    return s;
}

double run_double(double x) {
    v4d a, b; v8d c, d;
    for (int i = 0; i < 4; i++) { a[i] = x + i; b[i] = x * i; }
    for (int i = 0; i < 8; i++) { c[i] = x - i; d[i] = x / (i + 1); }
    v4d r = dmix4(a, b); v8d q = dmix8(c, d);
    double s = 0;
    for (int i = 0; i < 4; i++) s += r[i] * (i + 2);
    for (int i = 0; i < 8; i++) s += q[i] * (i + 3);
    return s;
}

int64_t run_int(int64_t x) {
    v4i a, b; v8i c, d; v8l e, f;
    for (int i = 0; i < 4; i++) { a[i] = (int32_t)(x + i); b[i] = (int32_t)(x >> i); }
    for (int i = 0; i < 8; i++) { c[i] = (int32_t)(x * i); d[i] = (int32_t)(x ^ i); e[i] = x + i; f[i] = x * (i + 1); }
    v4i r = imix4(a, b); v8i q = shift8(imix8(c, d), (int)(x & 15)); v8l l = lmix8(e, f);
    int64_t s = 0;
    for (int i = 0; i < 4; i++) s += (int64_t)r[i] * (i + 1);
    for (int i = 0; i < 8; i++) s += (int64_t)q[i] * (i + 5) + l[i];
    return s;
}
