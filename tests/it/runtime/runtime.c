/* Plain C that needs the compiler runtime: 128-bit division and modulo, overflow-checked
 * 128-bit multiplication, half-precision conversions, __builtin_powi, and on x86 the CPU
 * model behind __builtin_cpu_supports. No system header, so it compiles for every target. */
typedef long long i64;
typedef unsigned long long u64;
typedef __int128 i128;
typedef unsigned __int128 u128;

i64 div128(i64 a, i64 b, i64 c) {
    i128 x = ((i128)a << 64) | (u64)b;
    i128 d = c ? c : 7;
    return (i64)(x / d) ^ (i64)(x % d);
}

i64 udiv128(i64 a, i64 b, i64 c) {
    u128 x = ((u128)(u64)a << 64) | (u64)b;
    u128 d = (u64)(c ? c : 3) | ((u128)1 << 70);
    return (i64)(x / d) + (i64)(x % d);
}

/* Overflow-checked 128-bit multiplication (__muloti4 in compiler-rt, which libgcc lacks;
   LLVM 22 expands it inline for these targets and calls neither). */
i64 mulo128(i64 a, i64 b) {
    i128 r;
    int overflow = __builtin_mul_overflow((i128)a << 40, (i128)b << 40, &r);
    return overflow ? -1 : (i64)(r >> 64) ^ (i64)r;
}

i64 umulo128(i64 a, i64 b) {
    u128 r;
    int overflow = __builtin_mul_overflow((u128)(u64)a << 50, (u128)(u64)b << 30, &r);
    return overflow ? -1 : (i64)(r >> 64) ^ (i64)r;
}

/* 128-bit integers to and from floating point. */
double u128_to_double(i64 a, i64 b) {
    u128 x = ((u128)(u64)a << 64) | (u64)b;
    return (double)x;
}

float i128_to_float(i64 a, i64 b) {
    i128 x = ((i128)a << 24) ^ (i128)b;
    return (float)x;
}

/* Arguments out of range would make the conversions undefined: replaced by one in range. */
i64 double_to_i128(double x) {
    if (!(x > -1e17 && x < 1e17)) x = 1.5;
    i128 v = (i128)(x * 1e20);
    return (i64)(v >> 40) ^ (i64)v;
}

/* Half precision: MinGW's libgcc has these conversions with another calling convention than
   LLVM's; x86_64 has no instructions for them. */
double half_round(double x) { return (double)(_Float16)x; }

float half_sum(float a, float b) {
    _Float16 x = (_Float16)a, y = (_Float16)b;
    return (float)(_Float16)(x + y);
}

i64 half_to_int(double x) {
    if (!(x > -600.0 && x < 600.0)) x = 1.25;
    _Float16 h = (_Float16)(x * 100.0);
    return (i64)h;
}

double half_from_i128(i64 a, i64 b) {
    i128 x = ((i128)a << 3) ^ b;
    return (double)(_Float16)(x % 60000);
}

/* Windows: LLVM calls the C runtime's pow for these, gcc libgcc's __powidf2 (repeated
   multiplication); elsewhere both call __powidf2 / __powisf2. */
double powi(double x, i64 n) { return __builtin_powi(x, (int)(n % 16)); }

float powi_float(float x, i64 n) { return __builtin_powif(x, (int)(n % 16)); }

#if defined(__x86_64__)
/* 1 when the CPU has AVX2 (as gcc's __builtin_cpu_supports says). */
i64 has_avx2(void) { return __builtin_cpu_supports("avx2") ? 1 : 0; }
#endif
