// CDecodeKernels: the decode-time skinny matrix product x·Wᵀ in C, so that it can use AVX2/FMA
// through a per-function target attribute chosen at run time (Swift code can only be compiled for
// the baseline x86-64 ISA without a machine-specific flag for the whole module). Justified by
// `verity bench sample`: the baseline-ISA Swift kernel peaks near 17 GFLOP/s where sgemm reaches
// 56+ on the same machine. Each output element is computed by the same float operations whatever
// the row count or column range, so a row's result never depends on the batch.
#ifndef CDECODEKERNELS_H
#define CDECODEKERNELS_H

/// out[i*n + j] = sum_k x[i*k + kk]*w[j*k + kk] (+ bias[j]) for rows i < m and columns j0 <= j < j1.
void verity_matmul_nt(const float *x, long m, long k, const float *w, long n, long j0, long j1,
                      const float *bias, float *out);

/// 1 when the AVX2+FMA path is in use, 0 for the portable path.
int verity_matmul_nt_uses_avx2(void);

#endif
