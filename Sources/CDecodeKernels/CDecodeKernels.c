// CDecodeKernels: see include/CDecodeKernels.h for the panel layout and the per-element operation
// order every path follows. The AVX2 path is a register-blocked microkernel (up to 6 rows x 16
// columns of accumulators, x broadcast, FMA with the panel's row kk), K-blocked in slices of KC so
// a panel slice stays in L1 while the row blocks reuse it; partial sums go through `out` between
// slices, which is exact (a float stored and reloaded is the same float). With 1-3 rows it walks
// two panels at once so that more independent chains hide the FMA latency (a GEMV at bandwidth).
// With more than 12 rows (compute-bound sizes) each K slice of x is first packed into 6-row blocks
// laid out [kc][6], so the microkernel walks x with one pointer at fixed offsets (as BLAS kernels
// pack their A operand); at batch 64 this took the product from ~75% to ~100% of OpenBLAS's
// large-matrix sgemm rate on the benchmark's shapes. Packing moves data only: the chains are unchanged.
// bfloat16 panels are widened to float32 (exact) either in registers (few rows) or slice by slice
// into a stack buffer (many rows). The AVX2 path is chosen once at run time; the portable path is
// plain C with fmaf and gives the same bits (slowly where the CPU has no FMA unit).
#include "CDecodeKernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define VERITY_X86 1
#endif

#define P VERITY_PANEL
/// Inner-dimension slice per pass when several row blocks share a panel (16 x 256 floats = 16 KB, L1-resident).
#define KC 256
/// Rows per chunk (64 x 256 floats of x = 64 KB, L2-resident).
#define MC 64
/// Rows per microkernel block.
#define MR 6
/// Stride of a packed x block (MR rows padded to 8, so packing is an 8 x 8 transpose).
#define XS 8
/// Row blocks up to which panels go outermost (the packed matrix streams front to back).
#ifndef VERITY_PANEL_OUTER_MAX_BLOCKS
#define VERITY_PANEL_OUTER_MAX_BLOCKS 2
#endif
#ifndef VERITY_PREFETCH
#define VERITY_PREFETCH 1
#endif

// MARK: - Packing

void verity_pack_f32(const float *w, long n, long k, long p0, long p1, float *panels) {
    for (long p = p0; p < p1; p++) {
        float *dst = panels + p * P * k;
        for (int c = 0; c < P; c++) {
            long j = p * P + c;
            if (j < n) {
                const float *row = w + j * k;
                for (long kk = 0; kk < k; kk++) dst[kk * P + c] = row[kk];
            } else {
                for (long kk = 0; kk < k; kk++) dst[kk * P + c] = 0.0f;
            }
        }
    }
}

static inline uint16_t to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);  // quiet NaN
    u += 0x7fffu + ((u >> 16) & 1u);                                          // round to nearest, ties to even
    return (uint16_t)(u >> 16);
}

static inline float from_bf16(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

void verity_pack_bf16(const float *w, long n, long k, long p0, long p1, uint16_t *panels) {
    for (long p = p0; p < p1; p++) {
        uint16_t *dst = panels + p * P * k;
        for (int c = 0; c < P; c++) {
            long j = p * P + c;
            if (j < n) {
                const float *row = w + j * k;
                for (long kk = 0; kk < k; kk++) dst[kk * P + c] = to_bf16(row[kk]);
            } else {
                for (long kk = 0; kk < k; kk++) dst[kk * P + c] = 0;
            }
        }
    }
}

/// Widens `count` bfloat16 values to float32 (exact).
static void widen_portable(const uint16_t *src, long count, float *dst) {
    for (long i = 0; i < count; i++) dst[i] = from_bf16(src[i]);
}

/// Packs columns 16p ..< 16p+16 of the row-major matrix W [n, k] (float32, or bfloat16 when `wbf16`), inner range
/// kb ..< kb+kl, as a float32 panel slice [kl][16] (columns past n zero): the slice a packed copy would hold, made on the
/// fly so the sampler can read the trainer's own weights (no second copy). Moves and widens data only.
static void pack_rows_portable(const void *w, int wbf16, long n, long k, long p, long kb, long kl, float *dst) {
    for (int c = 0; c < P; c++) {
        long j = p * P + c;
        if (j < n) {
            if (wbf16) {
                const uint16_t *row = (const uint16_t *)w + j * k + kb;
                for (long kk = 0; kk < kl; kk++) dst[kk * P + c] = from_bf16(row[kk]);
            } else {
                const float *row = (const float *)w + j * k + kb;
                for (long kk = 0; kk < kl; kk++) dst[kk * P + c] = row[kk];
            }
        } else {
            for (long kk = 0; kk < kl; kk++) dst[kk * P + c] = 0.0f;
        }
    }
}

// MARK: - Portable path

/// R rows x 16 columns over a float32 panel slice of kc rows: the reference operation order.
static void kern_portable(int R, const float *x, long ldx, const float *pan, long kc, float *o, long ldo, int first, int last,
                          const float *bias) {
    for (int r = 0; r < R; r++)
        for (int c = 0; c < P; c++) {
            float acc = first ? 0.0f : o[r * ldo + c];
            for (long kk = 0; kk < kc; kk++) acc = fmaf(x[r * ldx + kk], pan[kk * P + c], acc);
            if (last && bias) acc = acc + bias[c];
            o[r * ldo + c] = acc;
        }
}

#ifdef VERITY_X86
// MARK: - AVX2 + FMA path

__attribute__((target("avx2,fma"))) static inline __m256 ld_f32(const float *p) { return _mm256_loadu_ps(p); }

__attribute__((target("avx2,fma"))) static inline __m256 ld_bf16(const uint16_t *p) {
    __m128i h = _mm_loadu_si128((const __m128i *)p);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

__attribute__((target("avx2,fma"))) static void widen_avx2(const uint16_t *src, long count, float *dst) {
    long i = 0;
    for (; i + 8 <= count; i += 8) _mm256_storeu_ps(dst + i, ld_bf16(src + i));
    for (; i < count; i++) dst[i] = from_bf16(src[i]);
}

// Calls CALL(R) with R a compile-time constant 1..6 (R > 6 takes 6), so each row count gets its own unrolled kernel.
#define ROWS_1_TO_6(CALL)                                                                                       \
    switch (R) {                                                                                                \
    case 1: CALL(1); break;                                                                                     \
    case 2: CALL(2); break;                                                                                     \
    case 3: CALL(3); break;                                                                                     \
    case 4: CALL(4); break;                                                                                     \
    case 5: CALL(5); break;                                                                                     \
    default: CALL(6); break;                                                                                    \
    }

// Pieces of the one-panel microkernels (R a constant after inlining): 2R accumulators, loaded from `o` unless `first`;
// one step over row kk of the panel with x[r] read through XAT(r); bias on the `last` slice, then the store.
#define ACC_INIT                                                                                                \
    __m256 a0[MR], a1[MR];                                                                                      \
    for (int r = 0; r < R; r++) {                                                                               \
        if (first) { a0[r] = _mm256_setzero_ps(); a1[r] = _mm256_setzero_ps(); }                                \
        else { a0[r] = _mm256_loadu_ps(o + r * ldo); a1[r] = _mm256_loadu_ps(o + r * ldo + 8); }                \
    }
#define PANEL_STEP(LOADW, XAT)                                                                                  \
    {                                                                                                           \
        __m256 w0 = LOADW(pan + kk * P), w1 = LOADW(pan + kk * P + 8);                                          \
        for (int r = 0; r < R; r++) {                                                                           \
            __m256 xv = _mm256_broadcast_ss(XAT(r));                                                            \
            a0[r] = _mm256_fmadd_ps(xv, w0, a0[r]);                                                             \
            a1[r] = _mm256_fmadd_ps(xv, w1, a1[r]);                                                             \
        }                                                                                                       \
    }
#define ACC_STORE                                                                                               \
    if (last && bias) {                                                                                         \
        __m256 b0 = _mm256_loadu_ps(bias), b1 = _mm256_loadu_ps(bias + 8);                                     \
        for (int r = 0; r < R; r++) { a0[r] = _mm256_add_ps(a0[r], b0); a1[r] = _mm256_add_ps(a1[r], b1); }     \
    }                                                                                                           \
    for (int r = 0; r < R; r++) { _mm256_storeu_ps(o + r * ldo, a0[r]); _mm256_storeu_ps(o + r * ldo + 8, a1[r]); }

// One panel, R rows of x `ldx` apart; the first `pfl` steps also prefetch one line at `pfp`.
#define X_ROWS(r) (x + (r) * ldx + kk)
#define KERN1_BODY(WT, LOADW)                                                                                   \
    ACC_INIT                                                                                                    \
    for (long kk = 0; kk < kc; kk++) {                                                                          \
        if (kk < pfl) _mm_prefetch(pfp + kk * 64, _MM_HINT_T0);                                                 \
        PANEL_STEP(LOADW, X_ROWS)                                                                               \
    }                                                                                                           \
    ACC_STORE

__attribute__((target("avx2,fma"), always_inline)) static inline void
k1_f32(const int R, const float *x, long ldx, const float *pan, long kc, float *o, long ldo, int first, int last, const float *bias,
       const char *pfp, long pfl) {
    KERN1_BODY(float, ld_f32)
}

__attribute__((target("avx2,fma"), always_inline)) static inline void
k1_bf16(const int R, const float *x, long ldx, const uint16_t *pan, long kc, float *o, long ldo, int first, int last, const float *bias,
        const char *pfp, long pfl) {
    KERN1_BODY(uint16_t, ld_bf16)
}

// One panel, R rows of x packed as [kc][XS] (row r of step kk at xp[kk·XS + r]): one pointer walks x, so each step is two
// panel loads, R broadcasts at fixed offsets and 2R FMAs. The first `pfl` steps also prefetch one line of the next slice.
#define X_PACKED(r) (xp + kk * XS + (r))
#define KERNP_BODY(LOADW)                                                                                       \
    ACC_INIT                                                                                                    \
    long kk = 0;                                                                                                \
    long kp = pfl < kc ? pfl : kc;                                                                              \
    for (; kk < kp; kk++) {                                                                                     \
        _mm_prefetch(pfp + kk * 64, _MM_HINT_T0);                                                               \
        PANEL_STEP(LOADW, X_PACKED)                                                                             \
    }                                                                                                           \
    _Pragma("clang loop unroll_count(4)")                                                                       \
    for (; kk < kc; kk++) PANEL_STEP(LOADW, X_PACKED)                                                           \
    ACC_STORE

__attribute__((target("avx2,fma"), always_inline)) static inline void
kp_f32(const int R, const float *xp, const float *pan, long kc, float *o, long ldo, int first, int last, const float *bias,
       const char *pfp, long pfl) {
    KERNP_BODY(ld_f32)
}

__attribute__((target("avx2,fma"))) static void
kernp_avx2(int R, const float *xp, const float *pan, long kc, float *o, long ldo, int first, int last, const float *bias,
           const char *pfp, long pfl) {
#define KP_F32(n) kp_f32(n, xp, pan, kc, o, ldo, first, last, bias, pfp, pfl)
    ROWS_1_TO_6(KP_F32)
}

// Two adjacent full panels (pan, pan + P·k), R ≤ 3 rows, whole K: 4R accumulators.
#define KERN2_BODY(WT, LOADW)                                                                                   \
    __m256 a0[3], a1[3], a2[3], a3[3];                                                                          \
    const WT *pb = pan + P * k;                                                                                 \
    for (int r = 0; r < R; r++) { a0[r] = a1[r] = a2[r] = a3[r] = _mm256_setzero_ps(); }                       \
    for (long kk = 0; kk < k; kk++) {                                                                           \
        __m256 w0 = LOADW(pan + kk * P), w1 = LOADW(pan + kk * P + 8);                                          \
        __m256 w2 = LOADW(pb + kk * P), w3 = LOADW(pb + kk * P + 8);                                            \
        for (int r = 0; r < R; r++) {                                                                           \
            __m256 xv = _mm256_broadcast_ss(x + r * ldx + kk);                                                  \
            a0[r] = _mm256_fmadd_ps(xv, w0, a0[r]);                                                             \
            a1[r] = _mm256_fmadd_ps(xv, w1, a1[r]);                                                             \
            a2[r] = _mm256_fmadd_ps(xv, w2, a2[r]);                                                             \
            a3[r] = _mm256_fmadd_ps(xv, w3, a3[r]);                                                             \
        }                                                                                                       \
    }                                                                                                           \
    if (bias) {                                                                                                 \
        __m256 b0 = _mm256_loadu_ps(bias), b1 = _mm256_loadu_ps(bias + 8);                                     \
        __m256 b2 = _mm256_loadu_ps(bias + 16), b3 = _mm256_loadu_ps(bias + 24);                               \
        for (int r = 0; r < R; r++) {                                                                           \
            a0[r] = _mm256_add_ps(a0[r], b0); a1[r] = _mm256_add_ps(a1[r], b1);                                 \
            a2[r] = _mm256_add_ps(a2[r], b2); a3[r] = _mm256_add_ps(a3[r], b3);                                 \
        }                                                                                                       \
    }                                                                                                           \
    for (int r = 0; r < R; r++) {                                                                               \
        _mm256_storeu_ps(o + r * ldo, a0[r]); _mm256_storeu_ps(o + r * ldo + 8, a1[r]);                         \
        _mm256_storeu_ps(o + r * ldo + 16, a2[r]); _mm256_storeu_ps(o + r * ldo + 24, a3[r]);                   \
    }

__attribute__((target("avx2,fma"), always_inline)) static inline void
k2_f32(const int R, const float *x, long ldx, const float *pan, long k, float *o, long ldo, const float *bias) {
    KERN2_BODY(float, ld_f32)
}

__attribute__((target("avx2,fma"), always_inline)) static inline void
k2_bf16(const int R, const float *x, long ldx, const uint16_t *pan, long k, float *o, long ldo, const float *bias) {
    KERN2_BODY(uint16_t, ld_bf16)
}

__attribute__((target("avx2,fma"))) static void
kern1_avx2(int R, int bf16, const float *x, long ldx, const void *pan, long kc, float *o, long ldo, int first, int last,
           const float *bias, const char *pfp, long pfl) {
#define K1_BF16(n) k1_bf16(n, x, ldx, (const uint16_t *)pan, kc, o, ldo, first, last, bias, pfp, pfl)
#define K1_F32(n) k1_f32(n, x, ldx, (const float *)pan, kc, o, ldo, first, last, bias, pfp, pfl)
    if (bf16) ROWS_1_TO_6(K1_BF16)
    else ROWS_1_TO_6(K1_F32)
}

__attribute__((target("avx2,fma"))) static void
kern2_avx2(int R, int bf16, const float *x, long ldx, const void *pan, long k, float *o, long ldo, const float *bias) {
    if (bf16) {
        const uint16_t *w = (const uint16_t *)pan;
        switch (R) {
        case 1: k2_bf16(1, x, ldx, w, k, o, ldo, bias); break;
        case 2: k2_bf16(2, x, ldx, w, k, o, ldo, bias); break;
        default: k2_bf16(3, x, ldx, w, k, o, ldo, bias); break;
        }
    } else {
        const float *w = (const float *)pan;
        switch (R) {
        case 1: k2_f32(1, x, ldx, w, k, o, ldo, bias); break;
        case 2: k2_f32(2, x, ldx, w, k, o, ldo, bias); break;
        default: k2_f32(3, x, ldx, w, k, o, ldo, bias); break;
        }
    }
}
#endif

#ifdef VERITY_X86
/// The 8 x 8 transpose of r: t[q] lane i = r[i] lane q.
__attribute__((target("avx2,fma"), always_inline)) static inline void transpose8(const __m256 r[8], __m256 t[8]) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    t[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    t[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    t[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    t[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    t[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    t[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    t[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    t[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

/// Rows j0 ..< j0+8 of a row-major W (float32 or bfloat16; rows at or past n read as zero), columns kk ..< kk+8,
/// transposed in registers: t[q] holds W[j0 + i][kk + q] in lane i.
__attribute__((target("avx2,fma"), always_inline)) static inline void
load_t8(const void *w, int wbf16, long n, long k, long j0, long kk, __m256 t[8]) {
    __m256 r[8];
    for (int i = 0; i < 8; i++) {
        if (j0 + i >= n) r[i] = _mm256_setzero_ps();
        else if (wbf16) {
            __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)w + (j0 + i) * k + kk));
            r[i] = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
        } else r[i] = _mm256_loadu_ps((const float *)w + (j0 + i) * k + kk);
    }
    transpose8(r, t);
}

/// `pack_rows_portable` with 8 x 8 transposes (the same values).
__attribute__((target("avx2,fma"))) static void pack_rows_avx2(const void *w, int wbf16, long n, long k, long p, long kb, long kl,
                                                               float *dst) {
    for (int c0 = 0; c0 < P; c0 += 8) {
        long j0 = p * P + c0;
        long rows = n - j0 < 8 ? (n - j0 > 0 ? n - j0 : 0) : 8;
        long kk = 0;
        for (; kk + 8 <= kl; kk += 8) {
            __m256 t[8];
            load_t8(w, wbf16, n, k, j0, kb + kk, t);
            for (int q = 0; q < 8; q++) _mm256_storeu_ps(dst + (kk + q) * P + c0, t[q]);
        }
        for (; kk < kl; kk++)
            for (long i = 0; i < 8; i++) {
                float v = 0.0f;
                if (i < rows)
                    v = wbf16 ? from_bf16(((const uint16_t *)w)[(j0 + i) * k + kb + kk]) : ((const float *)w)[(j0 + i) * k + kb + kk];
                dst[kk * P + c0 + i] = v;
            }
    }
}
#endif

#ifdef VERITY_X86
/// R ≤ 3 rows of x against panel p of a row-major W read in place (no packing buffer): each 8 x 8 block of W is
/// transposed in registers and consumed at once. Per element the same chain as the panel kernels: fma over kk in
/// order from 0, then + bias.
#define KD_BODY(R)                                                                                              \
    __m256 a0[R], a1[R];                                                                                        \
    long j0 = p * P;                                                                                            \
    for (int r = 0; r < R; r++) a0[r] = a1[r] = _mm256_setzero_ps();                                            \
    long kk = 0;                                                                                                \
    for (; kk + 8 <= k; kk += 8) {                                                                              \
        __m256 t[8];                                                                                            \
        load_t8(w, wbf16, n, k, j0, kk, t);                                                                     \
        for (int q = 0; q < 8; q++)                                                                             \
            for (int r = 0; r < R; r++) a0[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(x + r * ldx + kk + q), t[q], a0[r]); \
        load_t8(w, wbf16, n, k, j0 + 8, kk, t);                                                                 \
        for (int q = 0; q < 8; q++)                                                                             \
            for (int r = 0; r < R; r++) a1[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(x + r * ldx + kk + q), t[q], a1[r]); \
    }                                                                                                           \
    float acc[R][P];                                                                                            \
    for (int r = 0; r < R; r++) {                                                                               \
        _mm256_storeu_ps(acc[r], a0[r]);                                                                        \
        _mm256_storeu_ps(acc[r] + 8, a1[r]);                                                                    \
    }                                                                                                           \
    for (int c = 0; c < cols; c++) {                                                                            \
        for (long kt = kk; kt < k; kt++) {                                                                      \
            float wv = wbf16 ? from_bf16(((const uint16_t *)w)[(j0 + c) * k + kt]) : ((const float *)w)[(j0 + c) * k + kt]; \
            for (int r = 0; r < R; r++) acc[r][c] = fmaf(x[r * ldx + kt], wv, acc[r][c]);                        \
        }                                                                                                       \
        for (int r = 0; r < R; r++) o[r * ldo + c] = bias ? acc[r][c] + bias[c] : acc[r][c];                     \
    }

__attribute__((target("avx2,fma"))) static void kd_avx2(int R, const float *x, long ldx, const void *w, int wbf16, long n,
                                                        long k, long p, float *o, long ldo, const float *bias) {
    int cols = n - p * P < P ? (int)(n - p * P) : P;
    switch (R) {
    case 1: { KD_BODY(1) break; }
    case 2: { KD_BODY(2) break; }
    default: { KD_BODY(3) break; }
    }
}
#endif

// MARK: - Dispatch

static int avx2_state = -1;
static int force_portable = 0;

int verity_panel_uses_avx2(void) {
#ifdef VERITY_X86
    if (force_portable) return 0;
    if (avx2_state < 0) {
        __builtin_cpu_init();
        avx2_state = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return avx2_state;
#else
    return 0;
#endif
}

void verity_panel_force_portable(int on) { force_portable = on ? 1 : 0; }

/// `pack_rows_portable` on the path in use.
static void pack_rows(int avx, const void *w, int wbf16, long n, long k, long p, long kb, long kl, float *dst) {
#ifdef VERITY_X86
    if (avx) {
        pack_rows_avx2(w, wbf16, n, k, p, kb, kl, dst);
        return;
    }
#endif
    (void)avx;
    pack_rows_portable(w, wbf16, n, k, p, kb, kl, dst);
}

/// One R-row x 16-column tile over a slice (float32, or bfloat16 when `bf16` and the AVX2 path widens in registers);
/// a partial panel (cols < 16) goes through a 16-wide scratch tile so the kernels always see full panels.
static void tile(int avx, int bf16, int R, const float *x, long ldx, const void *slice, long kc, float *o, long ldo, int first,
                 int last, const float *bias, int cols, const char *pfp, long pfl) {
    float tmp[MR * P], bt[P];
    float *dst = o;
    long ld = ldo;
    const float *bb = bias;
    if (cols < P) {
        memset(tmp, 0, sizeof tmp);
        if (!first)
            for (int r = 0; r < R; r++) memcpy(tmp + r * P, o + r * ldo, (size_t)cols * sizeof(float));
        if (bias) {
            memset(bt, 0, sizeof bt);
            memcpy(bt, bias, (size_t)cols * sizeof(float));
            bb = bt;
        }
        dst = tmp;
        ld = P;
    }
#ifdef VERITY_X86
    if (avx) kern1_avx2(R, bf16, x, ldx, slice, kc, dst, ld, first, last, bb, pfp, pfl);
    else
#endif
        kern_portable(R, x, ldx, (const float *)slice, kc, dst, ld, first, last, bb);
    (void)avx;
    (void)bf16;
    (void)pfp;
    (void)pfl;
    if (cols < P)
        for (int r = 0; r < R; r++) memcpy(o + r * ldo, tmp + r * P, (size_t)cols * sizeof(float));
}

#ifdef VERITY_X86
/// Per-thread buffer for x packed by row blocks (grown as needed, kept for the thread's life).
static __thread float *xp_buf = NULL;
static __thread long xp_cap = 0;

/// Packs R ≤ 8 rows of x (kl columns from src, rows ldx apart) as [kl][XS]: 8 x 8 transposes, lanes of missing rows zero.
__attribute__((target("avx2,fma"))) static void pack_x_block(const float *src, long ldx, long R, long kl, float *dst) {
    long kk = 0;
    for (; kk + 8 <= kl; kk += 8) {
        __m256 r[8], t[8];
        for (int i = 0; i < 8; i++) r[i] = i < R ? _mm256_loadu_ps(src + i * ldx + kk) : _mm256_setzero_ps();
        transpose8(r, t);
        for (int q = 0; q < 8; q++) _mm256_storeu_ps(dst + (kk + q) * XS, t[q]);
    }
    for (; kk < kl; kk++)
        for (long i = 0; i < XS; i++) dst[kk * XS + i] = i < R ? src[i * ldx + kk] : 0.0f;
}

/// Many rows (compute-bound sizes), AVX2: K in slices of KC; each slice of x is packed into row blocks of at most MR
/// rows (sizes balanced) laid out [kc][XS]; panels inside (each panel slice stays in L1 while every row block uses it),
/// row blocks innermost. With `xpre` the slices come packed already (`verity_mm_run`'s shared buffer: slice s at
/// xpre + s·nb·XS·KC, usable once ready[s] is set by whichever thread packed it); otherwise this thread packs each slice
/// into its own buffer. Returns 0 when that buffer cannot be allocated (the caller falls back to the unpacked path).
static int many_rows_avx2(const float *xc, const float *xpre, const int *ready, long mm, long ldx, long k, const void *panels,
                          int format, long n, long p0, long p1, const float *bias, float *oc, long ldo) {
    int bf16 = format == VERITY_W_PANELS_BF16, rows_src = format >= VERITY_W_ROWS_F32;
    long nb = (mm + MR - 1) / MR;
    long need = nb * XS * KC;
    if (!xpre && need > xp_cap) {
        free(xp_buf);
        size_t bytes = ((size_t)need * sizeof(float) + 63) & ~(size_t)63;
        xp_buf = (float *)aligned_alloc(64, bytes);
        xp_cap = xp_buf ? need : 0;
        if (!xp_buf) return 0;
    }
    const float *pf = (const float *)panels;
    const uint16_t *ph = (const uint16_t *)panels;
    float buf[KC * P], tmp[MR * P], bt[P];
    for (long kb = 0; kb < k; kb += KC) {
        long kl = k - kb < KC ? k - kb : KC;
        int first = kb == 0, last = kb + kl == k;
        // This slice of x, block by block as [kl][XS] (64 rows x 256 floats: L2-resident while the panels stream past).
        const float *xs;
        if (xpre) {
            long s = kb / KC;
            while (!__atomic_load_n(ready + s, __ATOMIC_ACQUIRE)) _mm_pause();
            xs = xpre + s * nb * XS * KC;
        } else {
            for (long b = 0; b < nb; b++) {
                long r0 = mm * b / nb, R = mm * (b + 1) / nb - r0;
                pack_x_block(xc + r0 * ldx + kb, ldx, R, kl, xp_buf + b * XS * KC);
            }
            xs = xp_buf;
        }
        for (long p = p0; p < p1; p++) {
            const float *slice;
            if (rows_src) {
                pack_rows_avx2(panels, format == VERITY_W_ROWS_BF16, n, k, p, kb, kl, buf);
                slice = buf;
            } else if (!bf16) {
                slice = pf + p * P * k + kb * P;
            } else {
                widen_avx2(ph + p * P * k + kb * P, kl * P, buf);
                slice = buf;
            }
            long cols = n - p * P < P ? n - p * P : P;
            const float *bb = bias ? bias + p * P : NULL;
            if (bb && cols < P) {
                memset(bt, 0, sizeof bt);
                memcpy(bt, bb, (size_t)cols * sizeof(float));
                bb = bt;
            }
            const char *next = NULL;
            long lines = 0;
            long ebytes = bf16 ? 2 : 4;
            if (VERITY_PREFETCH && rows_src) {
                // Row-major source: the packing reads 16 row streams, which the hardware prefetcher follows (software
                // prefetch of the next panel's rows measured slower).
            } else if (VERITY_PREFETCH && p + 1 < p1) {
                next = (const char *)panels + ((p + 1) * P * k + kb * P) * ebytes;
                lines = (kl * P * ebytes + 63) / 64;
                // The next panel's output tile (one 64-byte line per row when aligned): a wide output (the 151,936-column
                // logits) does not stay in cache between K slices, and each tile would otherwise start on cache misses.
                for (long r = 0; r < mm; r++) __builtin_prefetch(oc + r * ldo + (p + 1) * P, 1, 3);
            } else if (VERITY_PREFETCH && !rows_src && kb + kl < k) {
                // The last panel of the range: the next slice starts again at the first panel (short ranges turn often).
                long kn = k - kb - kl < KC ? k - kb - kl : KC;
                next = (const char *)panels + (p0 * P * k + (kb + kl) * P) * ebytes;
                lines = (kn * P * ebytes + 63) / 64;
            }
            for (long b = 0; b < nb; b++) {
                long r0 = mm * b / nb, R = mm * (b + 1) / nb - r0;
                long l0 = lines * b / nb, l1 = lines * (b + 1) / nb;
                float *o = oc + r0 * ldo + p * P;
                if (cols == P) {
                    kernp_avx2((int)R, xs + b * XS * KC, slice, kl, o, ldo, first, last, bb, next ? next + l0 * 64 : NULL,
                               l1 - l0);
                } else {
                    memset(tmp, 0, sizeof tmp);
                    if (!first)
                        for (long r = 0; r < R; r++) memcpy(tmp + r * P, o + r * ldo, (size_t)cols * sizeof(float));
                    kernp_avx2((int)R, xs + b * XS * KC, slice, kl, tmp, P, first, last, bb, NULL, 0);
                    for (long r = 0; r < R; r++) memcpy(o + r * ldo, tmp + r * P, (size_t)cols * sizeof(float));
                }
            }
        }
    }
    return 1;
}
#endif

/// Row chunks of at most MC rows whose product packs x (more than VERITY_PANEL_OUTER_MAX_BLOCKS row blocks, AVX2).
static int packs_x(long mm) { return verity_panel_uses_avx2() && (mm + MR - 1) / MR > VERITY_PANEL_OUTER_MAX_BLOCKS; }

/// The product over panels p0 ..< p1; `xp`/`ready`: x packed by `verity_mm_run` (row chunk by row chunk, slice by
/// slice, in the order `verity_mm_pack_units` counts them), or NULL to pack per thread.
static void panel_matmul(const float *x, const float *xp, const int *ready, long m, long ldx, long k, const void *panels,
                         int format, long n, long p0, long p1, const float *bias, float *out, long ldo) {
    if (m <= 0 || p1 <= p0 || k <= 0) return;
    int avx = verity_panel_uses_avx2();
    int bf16 = format == VERITY_W_PANELS_BF16, rows_src = format >= VERITY_W_ROWS_F32;
    int wbf16 = format == VERITY_W_ROWS_BF16;

    const float *pf = (const float *)panels;
    const uint16_t *ph = (const uint16_t *)panels;
    float buf[KC * P];
    for (long i0 = 0; i0 < m; i0 += MC) {
        long mm = m - i0 < MC ? m - i0 : MC;
        const float *xc = x + i0 * ldx;
        float *oc = out + i0 * ldo;
#ifdef VERITY_X86
        if (avx && mm <= 3 && rows_src) {
            // Few rows from a row-major W: each 8 x 8 block transposed in registers and used at once.
            for (long p = p0; p < p1; p++)
                kd_avx2((int)mm, xc, ldx, panels, wbf16, n, k, p, oc + p * P, ldo, bias ? bias + p * P : NULL);
            continue;
        }
        if (avx && mm <= 3) {
            // Few rows: whole-K passes, two full panels at a time, bfloat16 widened in registers.
            long p = p0;
            for (; p + 1 < p1 && (p + 2) * P <= n; p += 2) {
                const void *pan = bf16 ? (const void *)(ph + p * P * k) : (const void *)(pf + p * P * k);
                kern2_avx2((int)mm, bf16, xc, ldx, pan, k, oc + p * P, ldo, bias ? bias + p * P : NULL);
            }
            for (; p < p1; p++) {
                const void *pan = bf16 ? (const void *)(ph + p * P * k) : (const void *)(pf + p * P * k);
                long cols = n - p * P < P ? n - p * P : P;
                tile(1, bf16, (int)mm, xc, ldx, pan, k, oc + p * P, ldo, 1, 1, bias ? bias + p * P : NULL, (int)cols, NULL, 0);
            }
            continue;
        }
#endif
        long nb = (mm + MR - 1) / MR;
#ifdef VERITY_X86
        if (avx && nb > VERITY_PANEL_OUTER_MAX_BLOCKS) {
            const float *xc_pre = xp;
            const int *rc = ready;
            if (xp) {
                long ns = (k + KC - 1) / KC;
                xp += ns * nb * XS * KC;
                ready += ns;
            }
            if (many_rows_avx2(xc, xc_pre, rc, mm, ldx, k, panels, format, n, p0, p1, bias, oc, ldo)) continue;
        }
#endif
        // One row block: whole-K passes (widening bfloat16 in registers needs AVX2; the portable path widens by slice).
        long kc = (nb == 1 && !rows_src && (!bf16 || avx)) ? k : KC;
        int widen_in_registers = bf16 && avx && nb == 1;
        long nk = (k + kc - 1) / kc;
        // Up to 2 row blocks: panel by panel, slices inside, so the packed matrix streams front to back (memory-bound
        // sizes). More rows: slice by slice, panels inside, so the x slice [mm, kc] stays in L2 (compute-bound sizes).
        int panel_outer = nb <= VERITY_PANEL_OUTER_MAX_BLOCKS;
        long outer = panel_outer ? p1 - p0 : nk, inner = panel_outer ? nk : p1 - p0;
        for (long a = 0; a < outer; a++) {
            for (long c = 0; c < inner; c++) {
                long p = p0 + (panel_outer ? a : c), kb = (panel_outer ? c : a) * kc;
                long kl = k - kb < kc ? k - kb : kc;
                const void *slice;
                int slice_bf16 = 0;
                if (rows_src) {
                    pack_rows(avx, panels, wbf16, n, k, p, kb, kl, buf);
                    slice = buf;
                } else if (!bf16) {
                    slice = pf + p * P * k + kb * P;
                } else if (widen_in_registers) {
                    slice = ph + p * P * k + kb * P;
                    slice_bf16 = 1;
                } else {
#ifdef VERITY_X86
                    if (avx) widen_avx2(ph + p * P * k + kb * P, kl * P, buf);
                    else
#endif
                        widen_portable(ph + p * P * k + kb * P, kl * P, buf);
                    slice = buf;
                }
                long cols = n - p * P < P ? n - p * P : P;
                // Slice by slice, the next slice to use (next panel, same kb) is far away: the row blocks prefetch it, a share each.
                const char *next = NULL;
                long lines = 0;
                if (VERITY_PREFETCH && !rows_src && !panel_outer && p + 1 < p1) {
                    long ebytes = bf16 ? 2 : 4;
                    next = (const char *)panels + ((p + 1) * P * k + kb * P) * ebytes;
                    lines = (kl * P * ebytes + 63) / 64;
                }
                for (long b = 0; b < nb; b++) {
                    long r0 = mm * b / nb, r1 = mm * (b + 1) / nb;
                    long l0 = lines * b / nb, l1 = lines * (b + 1) / nb;
                    tile(avx, slice_bf16, (int)(r1 - r0), xc + r0 * ldx + kb, ldx, slice, kl, oc + r0 * ldo + p * P, ldo, kb == 0,
                         kb + kl == k, bias ? bias + p * P : NULL, (int)cols, next ? next + l0 * 64 : NULL, l1 - l0);
                }
            }
        }
    }
}

void verity_panel_matmul(const float *x, long m, long ldx, long k, const void *panels, int format, long n, long p0, long p1,
                         const float *bias, float *out, long ldo) {
    panel_matmul(x, NULL, NULL, m, ldx, k, panels, format, n, p0, p1, bias, out, ldo);
}

// MARK: - Shared products (dynamic chunks)

long verity_mm_pack_units(long m, long k) {
    long units = 0, ns = (k + KC - 1) / KC;
    for (long i0 = 0; i0 < m; i0 += MC)
        if (packs_x(m - i0 < MC ? m - i0 : MC)) units += ns;
    return units;
}

long verity_mm_xp_floats(long m, long k) {
    long total = 0, ns = (k + KC - 1) / KC;
    for (long i0 = 0; i0 < m; i0 += MC) {
        long mm = m - i0 < MC ? m - i0 : MC;
        if (packs_x(mm)) total += ns * ((mm + MR - 1) / MR) * XS * KC;
    }
    return total;
}

#ifdef VERITY_X86
/// Packs unit u (row chunk by row chunk, K slice by K slice) of x into its place in xp.
static void pack_unit(const float *x, long m, long ldx, long k, long u, float *xp) {
    long ns = (k + KC - 1) / KC;
    for (long i0 = 0; i0 < m; i0 += MC) {
        long mm = m - i0 < MC ? m - i0 : MC;
        if (!packs_x(mm)) continue;
        long nb = (mm + MR - 1) / MR;
        if (u >= ns) {
            u -= ns;
            xp += ns * nb * XS * KC;
            continue;
        }
        long kb = u * KC, kl = k - kb < KC ? k - kb : KC;
        float *dst = xp + u * nb * XS * KC;
        for (long b = 0; b < nb; b++) {
            long r0 = mm * b / nb, R = mm * (b + 1) / nb - r0;
            pack_x_block(x + (i0 + r0) * ldx + kb, ldx, R, kl, dst + b * XS * KC);
        }
        return;
    }
}
#endif

void verity_mm_run(const float *x, long m, long ldx, long k, const verity_mm_item *items, long nitems, const long *bounds,
                   long nchunks, float *xp, int *ready, long *counters) {
    long units = xp ? verity_mm_pack_units(m, k) : 0;
#ifdef VERITY_X86
    // First help pack x: each unit is claimed by one thread, which packs it and then marks it ready.
    for (long u; units > 0 && (u = __atomic_fetch_add(counters, 1, __ATOMIC_RELAXED)) < units;) {
        pack_unit(x, m, ldx, k, u, xp);
        __atomic_store_n(ready + u, 1, __ATOMIC_RELEASE);
    }
#endif
    if (!units) {
        xp = NULL;
        ready = NULL;
    }
    // Then take chunks of the items' panels, numbered across the items in order, until none is left.
    for (long c; (c = __atomic_fetch_add(counters + 1, 1, __ATOMIC_RELAXED)) < nchunks;) {
        long g0 = bounds[c], g1 = bounds[c + 1], base = 0;
        for (long i = 0; i < nitems && base < g1; i++) {
            const verity_mm_item *it = items + i;
            long np = (it->n + P - 1) / P;
            long p0 = g0 - base > 0 ? g0 - base : 0, p1 = g1 - base < np ? g1 - base : np;
            if (p1 > p0) panel_matmul(x, xp, ready, m, ldx, k, it->panels, it->format, it->n, p0, p1, it->bias, it->out, it->ldo);
            base += np;
        }
    }
}

// MARK: - Cached attention (one KV head, its group of query heads)

/// 8-lane dot product with a fixed reduction order (lanes 0..7 accumulate with fma, then a pairwise lane sum, then the
/// scalar tail); the portable and AVX2 versions give the same bits.
static float dot_portable(const float *a, const float *b, long d) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    long c = 0;
    for (; c + 8 <= d; c += 8)
        for (int l = 0; l < 8; l++) acc[l] = fmaf(a[c + l], b[c + l], acc[l]);
    float s = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
    for (; c < d; c++) s = fmaf(a[c], b[c], s);
    return s;
}

#ifdef VERITY_X86
__attribute__((target("avx2,fma"))) static inline float hsum8(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    __m128 s = _mm_add_ps(lo, hi);                  // (a0+a4, a1+a5, a2+a6, a3+a7)
    __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));  // ((a0+a4)+(a2+a6), (a1+a5)+(a3+a7), ...)
    __m128 u = _mm_add_ss(t, _mm_shuffle_ps(t, t, 1));
    return _mm_cvtss_f32(u);
}

/// Scores of up to 8 query heads against one key row (each key chunk loaded once for all heads).
__attribute__((target("avx2,fma"))) static void scores_avx2(const float *q, long g, long d, const float *key, float scale,
                                                            float *dst, long ldst) {
    for (long h0 = 0; h0 < g; h0 += 8) {
        long hn = g - h0 < 8 ? g - h0 : 8;
        __m256 acc[8];
        for (long h = 0; h < hn; h++) acc[h] = _mm256_setzero_ps();
        long c = 0;
        for (; c + 8 <= d; c += 8) {
            __m256 kv = _mm256_loadu_ps(key + c);
            for (long h = 0; h < hn; h++) acc[h] = _mm256_fmadd_ps(_mm256_loadu_ps(q + (h0 + h) * d + c), kv, acc[h]);
        }
        for (long h = 0; h < hn; h++) {
            float s = hsum8(acc[h]);
            for (long cc = c; cc < d; cc++) s = fmaf(q[(h0 + h) * d + cc], key[cc], s);
            dst[(h0 + h) * ldst] = s * scale;
        }
    }
}

/// out[h][c..c+8) = Σ_j p[h][j]·v_j[c..c+8) over all positions j in order, 8 columns at a time.
__attribute__((target("avx2,fma"))) static void values_avx2(const float *p, long g, long d, const verity_span *spans, long nspans,
                                                            long stride, long n, float *out) {
    long c = 0;
    for (; c + 8 <= d; c += 8) {
        for (long h0 = 0; h0 < g; h0 += 8) {
            long hn = g - h0 < 8 ? g - h0 : 8;
            __m256 acc[8];
            for (long h = 0; h < hn; h++) acc[h] = _mm256_setzero_ps();
            long j = 0;
            for (long si = 0; si < nspans; si++)
                for (long t = 0; t < spans[si].count; t++, j++) {
                    __m256 v = _mm256_loadu_ps(spans[si].values + t * stride + c);
                    for (long h = 0; h < hn; h++) acc[h] = _mm256_fmadd_ps(_mm256_set1_ps(p[(h0 + h) * n + j]), v, acc[h]);
                }
            for (long h = 0; h < hn; h++) _mm256_storeu_ps(out + (h0 + h) * d + c, acc[h]);
        }
    }
    for (; c < d; c++)
        for (long h = 0; h < g; h++) {
            float acc = 0;
            long j = 0;
            for (long si = 0; si < nspans; si++)
                for (long t = 0; t < spans[si].count; t++, j++) acc = fmaf(p[h * n + j], spans[si].values[t * stride + c], acc);
            out[h * d + c] = acc;
        }
}
#endif

void verity_attend_group(const float *q, long g, long d, const verity_span *spans, long nspans, long stride, float scale,
                         float *scores, float *out) {
    long n = 0;
    for (long si = 0; si < nspans; si++) n += spans[si].count;
    int avx = verity_panel_uses_avx2();
    // Scores [g][n].
    long j = 0;
    for (long si = 0; si < nspans; si++)
        for (long t = 0; t < spans[si].count; t++, j++) {
            const float *key = spans[si].keys + t * stride;
#ifdef VERITY_X86
            if (avx) { scores_avx2(q, g, d, key, scale, scores + j, n); continue; }
#endif
            for (long h = 0; h < g; h++) scores[h * n + j] = dot_portable(q + h * d, key, d) * scale;
        }
    // Softmax per head, in position order; probabilities normalised before the weighted sum.
    for (long h = 0; h < g; h++) {
        float *s = scores + h * n;
        float mx = -INFINITY;
        for (long i = 0; i < n; i++) mx = s[i] > mx ? s[i] : mx;
        float sum = 0;
        for (long i = 0; i < n; i++) { s[i] = expf(s[i] - mx); sum += s[i]; }
        float inv = 1.0f / sum;
        for (long i = 0; i < n; i++) s[i] = s[i] * inv;
    }
#ifdef VERITY_X86
    if (avx) { values_avx2(scores, g, d, spans, nspans, stride, n, out); return; }
#endif
    for (long c = 0; c < d; c++)
        for (long h = 0; h < g; h++) {
            float acc = 0;
            long jj = 0;
            for (long si = 0; si < nspans; si++)
                for (long t = 0; t < spans[si].count; t++, jj++) acc = fmaf(scores[h * n + jj], spans[si].values[t * stride + c], acc);
            out[h * d + c] = acc;
        }
}

// MARK: - SwiGLU

// y = g·σ(g)·u with σ(g) = 1 / (1 + e^(−g)) and e^x computed exactly as VerityTensor's `Kernels.exp8` does (clamp to
// [−87.3, 88.3], Cody–Waite reduction, degree-6 polynomial, 2^n from the exponent bits), every multiply and add rounded
// separately (no contraction into fma), so the sampler's SwiGLU equals the trainer's bit for bit.
#pragma clang fp contract(off)

static inline float exp_portable(float x) {
    x = -87.3f > x ? -87.3f : x;  // Swift.max(x, −87.3) (NaN stays NaN)
    x = 88.3f < x ? 88.3f : x;    // Swift.min(x, 88.3)
    const float magic = 12582912.0f;
    float t = x * 1.44269504088896341f + magic;
    float fx = t - magic;
    x = x - fx * 0.693359375f;
    x = x + fx * 2.12194440e-4f;
    float y = 1.9875691500e-4f;
    y = y * x + 1.3981999507e-3f;
    y = y * x + 8.3334519073e-3f;
    y = y * x + 4.1665795894e-2f;
    y = y * x + 1.6666665459e-1f;
    y = y * x + 5.0000001201e-1f;
    y = y * (x * x) + x + 1.0f;
    uint32_t bits;
    memcpy(&bits, &t, 4);
    bits = (bits - (0x4B400000u - 127u)) << 23;
    float p2;
    memcpy(&p2, &bits, 4);
    return y * p2;
}

#ifdef VERITY_X86
__attribute__((target("avx2,fma"))) static inline __m256 exp_avx2(__m256 x) {
    x = _mm256_max_ps(_mm256_set1_ps(-87.3f), x);  // max_ps returns its second operand when either is NaN
    x = _mm256_min_ps(_mm256_set1_ps(88.3f), x);
    const __m256 magic = _mm256_set1_ps(12582912.0f);
    __m256 t = _mm256_add_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), magic);
    __m256 fx = _mm256_sub_ps(t, magic);
    x = _mm256_sub_ps(x, _mm256_mul_ps(fx, _mm256_set1_ps(0.693359375f)));
    x = _mm256_add_ps(x, _mm256_mul_ps(fx, _mm256_set1_ps(2.12194440e-4f)));
    __m256 y = _mm256_set1_ps(1.9875691500e-4f);
    y = _mm256_add_ps(_mm256_mul_ps(y, x), _mm256_set1_ps(1.3981999507e-3f));
    y = _mm256_add_ps(_mm256_mul_ps(y, x), _mm256_set1_ps(8.3334519073e-3f));
    y = _mm256_add_ps(_mm256_mul_ps(y, x), _mm256_set1_ps(4.1665795894e-2f));
    y = _mm256_add_ps(_mm256_mul_ps(y, x), _mm256_set1_ps(1.6666665459e-1f));
    y = _mm256_add_ps(_mm256_mul_ps(y, x), _mm256_set1_ps(5.0000001201e-1f));
    y = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(y, _mm256_mul_ps(x, x)), x), _mm256_set1_ps(1.0f));
    __m256i bits = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(0x4B400000 - 127));
    return _mm256_mul_ps(y, _mm256_castsi256_ps(_mm256_slli_epi32(bits, 23)));
}

__attribute__((target("avx2,fma"))) static void swiglu_avx2(const float *g, const float *u, float *y, long count) {
    const __m256 one = _mm256_set1_ps(1.0f), neg = _mm256_set1_ps(-0.0f);
    long i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 gv = _mm256_loadu_ps(g + i);
        __m256 s = _mm256_div_ps(one, _mm256_add_ps(one, exp_avx2(_mm256_xor_ps(gv, neg))));
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(gv, s), _mm256_loadu_ps(u + i)));
    }
    for (; i < count; i++) {
        float s = 1.0f / (1.0f + exp_portable(-g[i]));
        y[i] = g[i] * s * u[i];
    }
}
#endif

void verity_swiglu(const float *g, const float *u, float *y, long count) {
#ifdef VERITY_X86
    if (verity_panel_uses_avx2()) { swiglu_avx2(g, u, y, count); return; }
#endif
    for (long i = 0; i < count; i++) {
        float s = 1.0f / (1.0f + exp_portable(-g[i]));
        y[i] = g[i] * s * u[i];
    }
}

// MARK: - Row reductions over logits

#ifdef VERITY_X86
/// The largest of n logits, NaN entries skipped (−∞ when none is larger).
__attribute__((target("avx2,fma"))) static float max_avx2(const float *z, long n) {
    __m256 m8 = _mm256_set1_ps(-INFINITY);
    long j = 0;
    for (; j + 8 <= n; j += 8) m8 = _mm256_max_ps(_mm256_loadu_ps(z + j), m8);  // a NaN lane keeps the running max
    float lanes[8];
    _mm256_storeu_ps(lanes, m8);
    float mx = -INFINITY;
    for (int l = 0; l < 8; l++) mx = lanes[l] > mx ? lanes[l] : mx;
    for (; j < n; j++) mx = z[j] > mx ? z[j] : mx;
    return mx;
}

__attribute__((target("avx2,fma"))) static float logsumexp_avx2(const float *z, long n) {
    float mx = max_avx2(z, n);
    float lanes[8];
    if (mx == -INFINITY) return -INFINITY;
    const __m256 mv = _mm256_set1_ps(mx);
    __m256 s8 = _mm256_setzero_ps();
    long j = 0;
    for (; j + 8 <= n; j += 8) s8 = _mm256_add_ps(s8, exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(z + j), mv)));
    _mm256_storeu_ps(lanes, s8);
    float s = ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
    for (; j < n; j++) s += exp_portable(z[j] - mx);
    return mx + logf(s);
}

__attribute__((target("avx2,fma"))) static long argmax_avx2(const float *z, long n) {
    float mx = max_avx2(z, n);
    long j;
    const __m256 mv = _mm256_set1_ps(mx);
    for (j = 0; j + 8 <= n; j += 8) {
        int mask = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(z + j), mv, _CMP_EQ_OQ));
        if (mask) return j + __builtin_ctz((unsigned)mask);
    }
    for (; j < n; j++)
        if (z[j] == mx) return j;
    return 0;
}
#endif

float verity_logsumexp(const float *z, long n) {
    if (n <= 0) return -INFINITY;
#ifdef VERITY_X86
    if (verity_panel_uses_avx2()) return logsumexp_avx2(z, n);
#endif
    float mx = -INFINITY;
    for (long j = 0; j < n; j++) mx = z[j] > mx ? z[j] : mx;
    if (mx == -INFINITY) return -INFINITY;
    float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    long j = 0;
    for (; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; l++) lanes[l] += exp_portable(z[j + l] - mx);
    float s = ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
    for (; j < n; j++) s += exp_portable(z[j] - mx);
    return mx + logf(s);
}

long verity_argmax(const float *z, long n) {
#ifdef VERITY_X86
    if (verity_panel_uses_avx2()) return argmax_avx2(z, n);
#endif
    float mx = -INFINITY;
    for (long j = 0; j < n; j++) mx = z[j] > mx ? z[j] : mx;
    for (long j = 0; j < n; j++)
        if (z[j] == mx) return j;
    return 0;
}
