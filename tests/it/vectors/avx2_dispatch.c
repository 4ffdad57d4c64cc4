/* The dispatch pattern of SIMD libraries: an AVX2 kernel written with intrinsics under
 * __attribute__((target("avx2"))), a portable one, and a run-time CPU check choosing between
 * them. DISPATCH_BUILTIN picks __builtin_cpu_supports (needs the compiler runtime's
 * __cpu_model); otherwise the check is cpuid + xgetbv, header-only. */
#include <immintrin.h>
#include <stdint.h>
#ifndef DISPATCH_BUILTIN
#include <cpuid.h>
#endif

#define N 4096
static int32_t data[N];

static int has_avx2(void) {
#ifdef DISPATCH_BUILTIN
    return __builtin_cpu_supports("avx2");
#else
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE) || !(c & bit_AVX))
        return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 6) != 6)
        return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return 0;
    return (b & bit_AVX2) != 0;
#endif
}

__attribute__((target("avx2"), noinline)) static int64_t weighted_sum_avx2(int n, int32_t w) {
    __m256i acc_lo = _mm256_setzero_si256(), acc_hi = _mm256_setzero_si256();
    __m256i weight = _mm256_set1_epi32(w);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(data + i));
        __m256i p = _mm256_mullo_epi32(v, weight);
        acc_lo = _mm256_add_epi64(acc_lo, _mm256_cvtepi32_epi64(_mm256_castsi256_si128(p)));
        acc_hi = _mm256_add_epi64(acc_hi, _mm256_cvtepi32_epi64(_mm256_extracti128_si256(p, 1)));
    }
    __m256i acc = _mm256_add_epi64(acc_lo, acc_hi);
    int64_t out[4];
    _mm256_storeu_si256((__m256i *)out, acc);
    int64_t s = out[0] + out[1] + out[2] + out[3];
    for (; i < n; i++)
        s += (int64_t)(int32_t)((uint32_t)data[i] * (uint32_t)w);
    return s;
}

__attribute__((noinline)) static int64_t weighted_sum_portable(int n, int32_t w) {
    int64_t s = 0;
    for (int i = 0; i < n; i++)
        s += (int64_t)(int32_t)((uint32_t)data[i] * (uint32_t)w);
    return s;
}

/* Fills the data from `seed`, then sums it with weight `w` on the best path this CPU has. */
int64_t weighted_sum(int64_t n, int64_t seed, int64_t w) {
    int len = n < 0 ? 0 : n > N ? N : (int)n;
    uint32_t s = (uint32_t)seed * 2654435761u + 1;
    for (int i = 0; i < len; i++) {
        s ^= s << 13; s ^= s >> 17; s ^= s << 5;
        data[i] = (int32_t)s;
    }
    return has_avx2() ? weighted_sum_avx2(len, (int32_t)w) : weighted_sum_portable(len, (int32_t)w);
}

/* Which path weighted_sum takes here: 1 for AVX2. */
int64_t uses_avx2(void) { return has_avx2(); }
