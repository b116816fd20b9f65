// CBLAS: the system OpenBLAS (Debian libopenblas-dev). Only BLAS.swift in VerityTensor imports it.
#include <cblas.h>
