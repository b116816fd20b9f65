// CDecodeKernels: see include/CDecodeKernels.h. Blocks of 4 weight rows x 2 input rows keep 8
// accumulators in registers while each weight row streams once for all input rows. The AVX2 path
// is selected once at run time (__builtin_cpu_supports); elsewhere a portable path runs.
#include "CDecodeKernels.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define VERITY_X86 1
#endif

// MARK: - Portable path (8 partial sums per element, like the AVX2 lanes)

static inline float dot_portable(const float *a, const float *b, long k) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    long p = 0;
    for (; p + 8 <= k; p += 8)
        for (int l = 0; l < 8; l++) acc[l] += a[p + l] * b[p + l];
    float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; p < k; p++) s += a[p] * b[p];
    return s;
}

static void matmul_portable(const float *x, long m, long k, const float *w, long n, long j0, long j1,
                            const float *bias, float *out) {
    for (long j = j0; j < j1; j++)
        for (long i = 0; i < m; i++) out[i * n + j] = dot_portable(x + i * k, w + j * k, k) + (bias ? bias[j] : 0.0f);
}

#ifdef VERITY_X86
// MARK: - AVX2 + FMA path

__attribute__((target("avx2,fma")))
static inline float hsum(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    __m128 s = _mm_add_ps(lo, hi);                 // (a0+a4, a1+a5, a2+a6, a3+a7)
    __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s)); // (s0+s2, s1+s3, ...)
    __m128 u = _mm_add_ss(t, _mm_shuffle_ps(t, t, 1));
    return _mm_cvtss_f32(u);
}

__attribute__((target("avx2,fma")))
static inline float tail(float s, const float *a, const float *b, long p, long k) {
    for (; p < k; p++) s = __builtin_fmaf(a[p], b[p], s);
    return s;
}

__attribute__((target("avx2,fma")))
static void matmul_avx2(const float *x, long m, long k, const float *w, long n, long j0, long j1,
                        const float *bias, float *out) {
    long j = j0;
    for (; j + 4 <= j1; j += 4) {
        const float *w0 = w + j * k, *w1 = w0 + k, *w2 = w1 + k, *w3 = w2 + k;
        float b0 = bias ? bias[j] : 0.0f, b1 = bias ? bias[j + 1] : 0.0f, b2 = bias ? bias[j + 2] : 0.0f, b3 = bias ? bias[j + 3] : 0.0f;
        long i = 0;
        for (; i + 2 <= m; i += 2) {
            const float *xa = x + i * k, *xb = xa + k;
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, c0 = a0, c1 = a0, c2 = a0, c3 = a0;
            long p = 0;
            for (; p + 8 <= k; p += 8) {
                __m256 u = _mm256_loadu_ps(xa + p), v = _mm256_loadu_ps(xb + p);
                __m256 q0 = _mm256_loadu_ps(w0 + p), q1 = _mm256_loadu_ps(w1 + p), q2 = _mm256_loadu_ps(w2 + p), q3 = _mm256_loadu_ps(w3 + p);
                a0 = _mm256_fmadd_ps(u, q0, a0); a1 = _mm256_fmadd_ps(u, q1, a1); a2 = _mm256_fmadd_ps(u, q2, a2); a3 = _mm256_fmadd_ps(u, q3, a3);
                c0 = _mm256_fmadd_ps(v, q0, c0); c1 = _mm256_fmadd_ps(v, q1, c1); c2 = _mm256_fmadd_ps(v, q2, c2); c3 = _mm256_fmadd_ps(v, q3, c3);
            }
            float *oa = out + i * n + j, *ob = oa + n;
            oa[0] = tail(hsum(a0), xa, w0, p, k) + b0; oa[1] = tail(hsum(a1), xa, w1, p, k) + b1;
            oa[2] = tail(hsum(a2), xa, w2, p, k) + b2; oa[3] = tail(hsum(a3), xa, w3, p, k) + b3;
            ob[0] = tail(hsum(c0), xb, w0, p, k) + b0; ob[1] = tail(hsum(c1), xb, w1, p, k) + b1;
            ob[2] = tail(hsum(c2), xb, w2, p, k) + b2; ob[3] = tail(hsum(c3), xb, w3, p, k) + b3;
        }
        for (; i < m; i++) {
            const float *xa = x + i * k;
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            long p = 0;
            for (; p + 8 <= k; p += 8) {
                __m256 u = _mm256_loadu_ps(xa + p);
                a0 = _mm256_fmadd_ps(u, _mm256_loadu_ps(w0 + p), a0); a1 = _mm256_fmadd_ps(u, _mm256_loadu_ps(w1 + p), a1);
                a2 = _mm256_fmadd_ps(u, _mm256_loadu_ps(w2 + p), a2); a3 = _mm256_fmadd_ps(u, _mm256_loadu_ps(w3 + p), a3);
            }
            float *oa = out + i * n + j;
            oa[0] = tail(hsum(a0), xa, w0, p, k) + b0; oa[1] = tail(hsum(a1), xa, w1, p, k) + b1;
            oa[2] = tail(hsum(a2), xa, w2, p, k) + b2; oa[3] = tail(hsum(a3), xa, w3, p, k) + b3;
        }
    }
    for (; j < j1; j++) {
        const float *wj = w + j * k;
        float bj = bias ? bias[j] : 0.0f;
        for (long i = 0; i < m; i++) {
            const float *xa = x + i * k;
            __m256 a0 = _mm256_setzero_ps();
            long p = 0;
            for (; p + 8 <= k; p += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(xa + p), _mm256_loadu_ps(wj + p), a0);
            out[i * n + j] = tail(hsum(a0), xa, wj, p, k) + bj;
        }
    }
}
#endif

// MARK: - Dispatch

static int use_avx2 = -1;

int verity_matmul_nt_uses_avx2(void) {
#ifdef VERITY_X86
    if (use_avx2 < 0) {
        __builtin_cpu_init();
        use_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return use_avx2;
#else
    return 0;
#endif
}

void verity_matmul_nt(const float *x, long m, long k, const float *w, long n, long j0, long j1,
                      const float *bias, float *out) {
#ifdef VERITY_X86
    if (verity_matmul_nt_uses_avx2()) { matmul_avx2(x, m, k, w, n, j0, j1, bias, out); return; }
#endif
    matmul_portable(x, m, k, w, n, j0, j1, bias, out);
}
