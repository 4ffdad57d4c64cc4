/* Built by gcc for the base x86-64 ABI: calls an image's exported vector function through the
 * address the loader returns, as a C host program would. */
typedef float v8f __attribute__((vector_size(32)));
typedef float v16f __attribute__((vector_size(64)));

float call_v8f(v8f (*f)(v8f, v8f), float x) {
    v8f a, b; for (int i = 0; i < 8; i++) { a[i] = x + i; b[i] = x - i; }
    v8f r = f(a, b);
    float s = 0; for (int i = 0; i < 8; i++) s += r[i] * (i + 1);
    return s;
}

float call_v16f(v16f (*f)(v16f, v16f), float x) {
    v16f a, b; for (int i = 0; i < 16; i++) { a[i] = x * i; b[i] = x + 0.5f * i; }
    v16f r = f(a, b);
    float s = 0; for (int i = 0; i < 16; i++) s += r[i] * (i + 1);
    return s;
}

float call_ret8(v8f (*f)(float), float x) {
    v8f r = f(x);
    float s = 0; for (int i = 0; i < 8; i++) s += r[i] * (i + 1);
    return s;
}

float call_ret16(v16f (*f)(float), float x) {
    v16f r = f(x);
    float s = 0; for (int i = 0; i < 16; i++) s += r[i] * (i + 1);
    return s;
}
