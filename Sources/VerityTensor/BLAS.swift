// BLAS: the one file that imports CBLAS (OpenBLAS). It wraps row-major `cblas_sgemm` and the
// thread-count controls; every matrix product in Verity goes through `BLAS.gemm`. A large product uses
// OpenBLAS's own thread pool (it shares packed panels between threads, a few percent faster than
// splitting the product ourselves); code that already runs one task per core (attention heads) wraps
// itself in `serialProducts` so each task's products stay on its own core. It holds no other numerics.
import CBLAS

// MARK: - BLAS

/// Row-major single-precision matrix products through OpenBLAS.
public enum BLAS {
    /// C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C, all row-major; `transA`/`transB` read A/B transposed in place.
    @inlinable
    public static func gemm(
        transA: Bool = false, transB: Bool = false,
        m: Int, n: Int, k: Int,
        alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            if beta == 0 { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
            return
        }
        rawGemm(transA, transB, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    @usableFromInline
    static func rawGemm(
        _ ta: Bool, _ tb: Bool, _ m: Int32, _ n: Int32, _ k: Int32, _ alpha: Float,
        _ a: UnsafePointer<Float>, _ lda: Int32, _ b: UnsafePointer<Float>, _ ldb: Int32,
        _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int32
    ) {
        cblas_sgemm(
            CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
            m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    }

    /// The number of threads one product uses (also Parallel.threads, the workers of the element-wise kernels).
    public static var threads: Int { Parallel.threads }

    /// Sets the number of threads for products and for the element-wise kernels.
    public static func setThreads(_ n: Int) {
        Parallel.threads = max(1, n)
        openblas_set_num_threads(Int32(Parallel.threads))
    }

    /// Runs `body` with every product single-threaded, for code that splits its own work over Parallel's tasks
    /// (each task then calls `gemm` on its own core). Not re-entrant across threads: call it from one thread.
    public static func serialProducts<T>(_ body: () throws -> T) rethrows -> T {
        let n = Parallel.threads
        if n <= 1 { return try body() }
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(Int32(n)) }
        return try body()
    }

    /// OpenBLAS's build description (core type, threading model).
    public static var configDescription: String {
        guard let p = openblas_get_config() else { return "unknown" }
        return String(cString: p)
    }
}
