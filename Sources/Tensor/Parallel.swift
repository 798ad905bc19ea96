import Foundation
import COpenBLAS

/// Thread settings shared by the engine. By default OpenBLAS runs single-threaded and the engine
/// splits large GEMMs itself (C's rows or columns across `threads` via concurrentPerform), the
/// same threads that run elementwise, im2col and attention work: OpenBLAS's own worker threads
/// spin between calls and take the cores away from that work (measured: ~10% of a step).
public enum Engine {
    /// Threads for the engine's loops and GEMM splits (first use sets OpenBLAS to 1 thread).
    public private(set) static var threads: Int = {
        openblas_set_num_threads(1)
        return 2
    }()
    /// OpenBLAS's own threads (1 = the engine splits GEMMs instead).
    public private(set) static var blasThreads = 1

    /// Sets the engine's thread count and how many threads OpenBLAS itself may use.
    public static func setThreads(_ n: Int, blasThreads: Int = 1) {
        threads = max(1, n)
        self.blasThreads = max(1, blasThreads)
        openblas_set_num_threads(Int32(self.blasThreads))
    }
}

/// Runs `body` over `0..<count` split into contiguous ranges, one per thread; loops shorter
/// than `grain` stay on the calling thread.
@inline(__always)
public func parallelRanges(_ count: Int, grain: Int = 1 << 15, _ body: (Range<Int>) -> Void) {
    let chunks = min(Engine.threads, max(1, count / grain))
    if chunks <= 1 { body(0..<count); return }
    DispatchQueue.concurrentPerform(iterations: chunks) { c in
        body((count * c / chunks)..<(count * (c + 1) / chunks))
    }
}

/// Runs `body(i)` for every i in 0..<count across threads (for coarse items: rows, images).
@inline(__always)
public func parallelItems(_ count: Int, _ body: (Int) -> Void) {
    parallelRanges(count, grain: 1) { range in for i in range { body(i) } }
}

/// Runs `body(r)` for every row r in 0..<rows across threads, for rows of `width` floats
/// (rows are batched so each thread gets at least ~4096 floats).
@inline(__always)
public func parallelRows(_ rows: Int, width: Int, _ body: (Int) -> Void) {
    parallelRanges(rows, grain: max(1, 4096 / max(width, 1))) { range in for r in range { body(r) } }
}

/// d[i] = value(i) for i in `range` when `fresh` (d uninitialised, see `gradForWriting`), else
/// d[i] += value(i).
@inline(__always)
func store(_ d: UnsafeMutablePointer<Float>, fresh: Bool, _ range: Range<Int>, _ value: (Int) -> Float) {
    if fresh { for i in range { d[i] = value(i) } } else { for i in range { d[i] += value(i) } }
}

/// C = alpha · op(A) · op(B) + beta · C, row-major; op(X) = Xᵀ when `transX`.
/// A is M×K after op, B is K×N after op, C is M×N; lda/ldb/ldc are the row strides as stored.
/// `splitting: false` keeps it on the calling thread (for callers that already run one item per thread).
@inline(__always)
func gemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
          _ alpha: Float, _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
          _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, splitting: Bool = true) {
    func call(_ m: Int, _ n: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    let parts = splitting && Engine.blasThreads == 1 && m * n * k >= 1 << 20 ? Engine.threads : 1
    if parts == 1 { call(m, n, a, b, c); return }
    if m >= n {   // split C's rows: A's rows (columns of the stored A when transposed)
        DispatchQueue.concurrentPerform(iterations: parts) { p in
            let i0 = m * p / parts, i1 = m * (p + 1) / parts
            call(i1 - i0, n, a + (transA ? i0 : i0 * lda), b, c + i0 * ldc)
        }
    } else {      // split C's columns: B's columns (rows of the stored B when transposed)
        DispatchQueue.concurrentPerform(iterations: parts) { p in
            let j0 = n * p / parts, j1 = n * (p + 1) / parts
            call(m, j1 - j0, a, b + (transB ? j0 * ldb : j0), c + j0)
        }
    }
}

/// gemm on packed matrices (leading dimensions = stored row lengths).
@inline(__always)
func gemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
          _ alpha: Float, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
          _ beta: Float, _ c: UnsafeMutablePointer<Float>) {
    gemm(transA, transB, m, n, k, alpha, a, transA ? m : k, b, transB ? k : n, beta, c, n)
}
