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

#ifndef WITHOUT_MULO128
/* clang calls __muloti4 for this on aarch64, which libgcc lacks (compiler-rt has it). */
i64 mulo128(i64 a, i64 b) {
    i128 r;
    int overflow = __builtin_mul_overflow((i128)a << 40, (i128)b << 40, &r);
    return overflow ? -1 : (i64)(r >> 64) ^ (i64)r;
}
#endif

#ifndef WITHOUT_HALF
/* MinGW's libgcc has these conversions with another calling convention than LLVM's. */
double half_round(double x) { return (double)(_Float16)x; }

float half_sum(float a, float b) {
    _Float16 x = (_Float16)a, y = (_Float16)b;
    return (float)(_Float16)(x + y);
}
#endif

double powi(double x, i64 n) { return __builtin_powi(x, (int)(n % 16)); }

#if defined(__x86_64__)
/* 1 when the CPU has AVX2 (as gcc's __builtin_cpu_supports says). */
i64 has_avx2(void) { return __builtin_cpu_supports("avx2") ? 1 : 0; }
#endif
