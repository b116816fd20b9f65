// CDecodeKernels: the sampler's matrix product out = x·Wᵀ (+ bias) over weights repacked once into
// column panels, in C so that it can use AVX2/FMA through per-function target attributes chosen at
// run time (Swift code is compiled for the baseline x86-64 ISA). Justified by `verity bench sample`:
// the baseline-ISA Swift kernel peaked near 17 GFLOP/s where sgemm reaches 56+ on the same machine,
// and a dot-product C kernel stopped at ~63% of the batch-64 roofline.
//
// Panel layout: W [N, K] (row-major, one row per output) becomes ceil(N/16) panels; panel p holds
// output columns 16p ..< 16p+16 as [K][16] (column c of row kk at p·16K + kk·16 + c), zero-padded
// past N. Weights are float32 or bfloat16 (round-to-nearest-even of the float32 weight).
//
// Batch invariance: every output element is acc = 0; for kk in 0..<K: acc = fma(x[i][kk], w[kk][j], acc);
// out = acc + bias[j] — one sequential fused multiply-add chain, whatever the row count, the row's
// place in the batch, the panel range a thread takes or the code path (the AVX2 path and the portable
// path use the same correctly rounded fma, so they agree bit for bit). Splitting work over panels is
// the only parallelism. It is not a general GEMM: no transposes, no alpha/beta.
#ifndef CDECODEKERNELS_H
#define CDECODEKERNELS_H

#include <stdint.h>

/// Columns per panel.
#define VERITY_PANEL 16

/// How a product's weight is laid out: packed panels (float32 or bfloat16), or the row-major matrix W [N, K] itself
/// (float32 or bfloat16), whose panels are packed on the fly slice by slice (the values, and so every element's fma
/// chain and bits, are those of the packed float32 copy; nothing persistent is made).
#define VERITY_W_PANELS_F32 0
#define VERITY_W_PANELS_BF16 1
#define VERITY_W_ROWS_F32 2
#define VERITY_W_ROWS_BF16 3

/// Packs panels p0 ..< p1 of the float32 matrix w [n, k] into `panels` (the whole packed array, ceil(n/16)·16·k floats).
void verity_pack_f32(const float *w, long n, long k, long p0, long p1, float *panels);

/// Packs panels p0 ..< p1 of w [n, k] as bfloat16 (round to nearest even; NaN stays NaN) into `panels` (ceil(n/16)·16·k values).
void verity_pack_bf16(const float *w, long n, long k, long p0, long p1, uint16_t *panels);

/// out[i·ldo + j] = Σ_kk x[i·ldx + kk]·W[j][kk] (+ bias[j]) for rows i < m and columns j of panels p0 ..< p1 (j < n),
/// one fma chain per element as described above. `panels` is laid out as `format` (VERITY_W_*) says.
void verity_panel_matmul(const float *x, long m, long ldx, long k, const void *panels, int format, long n, long p0, long p1,
                         const float *bias, float *out, long ldo);

/// One product of a shared-x group for `verity_mm_run`: out[i·ldo + j] = Σ_kk x[i][kk]·W[j][kk] (+ bias[j]), W [n, k].
typedef struct {
    const void *panels;
    int format;
    long n;
    const float *bias;
    float *out;
    long ldo;
} verity_mm_item;

/// Units of x packing (row chunk x K slice) `verity_mm_run` shares for m rows of k floats (0: that size packs nothing).
long verity_mm_pack_units(long m, long k);

/// Floats of the shared packed-x buffer `verity_mm_run` needs for m rows of k floats (0 when it packs nothing).
long verity_mm_xp_floats(long m, long k);

/// The products of `items` (all over the same x [m, k]) run by every thread of a parallel region, each calling this
/// with the same arguments: the threads first share the packing of x (when `verity_mm_xp_floats` > 0: `xp` of that
/// size, `ready` of `verity_mm_pack_units` ints set to 0), then take chunks of panels from a shared counter until none
/// is left (so a slower or later thread takes fewer). Chunk c covers panels bounds[c] ..< bounds[c+1], numbered across
/// the items in order. `counters` holds two longs set to 0. Every element is the same fma chain as in
/// `verity_panel_matmul`, whichever thread computes it; xp may be NULL (each thread then packs for itself).
void verity_mm_run(const float *x, long m, long ldx, long k, const verity_mm_item *items, long nitems, const long *bounds,
                   long nchunks, float *xp, int *ready, long *counters);

/// 1 when the AVX2+FMA path is in use, 0 for the portable path.
int verity_panel_uses_avx2(void);

/// Forces the portable path (1) or restores run-time selection (0); for tests that compare the two paths.
void verity_panel_force_portable(int on);

/// A run of `count` cached positions: key and value rows `stride` floats apart, already offset to one KV head.
typedef struct {
    const float *keys;
    const float *values;
    long count;
} verity_span;

/// Attention of `g` query heads (q: g rows of d floats, contiguous) that share one KV head, over the chain of spans
/// (oldest first): out[h] = Σ_s softmax_s(q[h]·k_s·scale)·v_s. `scores` holds g × (total positions) floats. Each
/// score is an 8-lane fma dot product with a fixed lane sum; the softmax and the weighted sum run over positions in
/// order, so a row's result depends only on its own cache, never on how positions are split into spans.
void verity_attend_group(const float *q, long g, long d, const verity_span *spans, long nspans, long stride, float scale,
                         float *scores, float *out);

/// y[i] = g[i]·σ(g[i])·u[i] (y may alias g or u), with VerityTensor's exp8 operation order: bit for bit
/// `Kernels.swigluForward`, AVX2 or portable.
void verity_swiglu(const float *g, const float *u, float *y, long count);

/// log Σ_j e^(z_j) over n logits: max, then the exp polynomial of `verity_swiglu` summed in 8 lanes with a fixed lane
/// order (AVX2 and portable give the same bits); NaN in, NaN out; all −∞ gives −∞.
float verity_logsumexp(const float *z, long n);

/// The first index of the largest of n logits (NaN entries are skipped; 0 when there is no finite maximum).
long verity_argmax(const float *z, long n);

#endif
