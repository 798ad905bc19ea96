import Foundation
import COpenBLAS
import Common

/// What a device provides to the engine: memory for tensors and the matrix product that carries
/// most of the work (linear, matmul, convolution by im2col, attention). The ops keep shapes, the
/// graph and backward bookkeeping, and call these.
///
/// Not yet behind it: the ops' own loops (elementwise, im2col/col2im, softmax, norms, pooling,
/// warping, the optimiser) read and write the memory `allocate` returns on the host, so a device
/// whose memory the host cannot address would need those loops as kernels here as well.
public protocol Backend: Sendable {
    /// Memory for `count` floats, contents undefined.
    func allocate(_ count: Int) -> UnsafeMutablePointer<Float>
    /// Returns memory from `allocate(count)`.
    func deallocate(_ buffer: UnsafeMutablePointer<Float>, count: Int)
    /// C = alpha · op(A) · op(B) + beta · C, row-major; op(X) = Xᵀ when `transX`. A is M×K after
    /// op, B is K×N after op, C is M×N; lda/ldb/ldc are the row strides as stored. `splitting:
    /// false` keeps it on the calling thread (for callers that already run one item per thread).
    func gemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
              _ alpha: Float, _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
              _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, splitting: Bool)
}

/// The CPU: pooled host memory and OpenBLAS's sgemm. OpenBLAS runs single-threaded (set when the
/// backend is made) and large GEMMs are split across the engine's threads here (C's rows or
/// columns via Dispatch), the same threads that run elementwise, im2col and attention
/// work: OpenBLAS's own worker threads spin between calls and take the cores away from that
/// work (measured: ~10% of a step).
public final class CPUBackend: Backend {
    private let pool = BufferPool()

    public init() { openblas_set_num_threads(1) }

    public func allocate(_ count: Int) -> UnsafeMutablePointer<Float> { pool.take(count) }

    public func deallocate(_ buffer: UnsafeMutablePointer<Float>, count: Int) { pool.give(buffer, count) }

    public func gemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
                     _ alpha: Float, _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                     _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, splitting: Bool) {
        func call(_ m: Int, _ n: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>) {
            cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                        Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        }
        let settings = Engine.settings
        let parts = splitting && settings.blasThreads == 1 && m * n * k >= 1 << 20 ? settings.threads : 1
        if parts == 1 { call(m, n, a, b, c); return }
        if m >= n {   // split C's rows: A's rows (columns of the stored A when transposed)
            concurrentPerform(parts) { p in
                let i0 = m * p / parts, i1 = m * (p + 1) / parts
                call(i1 - i0, n, a + (transA ? i0 : i0 * lda), b, c + i0 * ldc)
            }
        } else {      // split C's columns: B's columns (rows of the stored B when transposed)
            concurrentPerform(parts) { p in
                let j0 = n * p / parts, j1 = n * (p + 1) / parts
                call(m, j1 - j0, a, b + (transB ? j0 * ldb : j0), c + j0)
            }
        }
    }
}
