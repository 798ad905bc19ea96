import Foundation
import COpenBLAS

/// Thread settings shared by the engine: OpenBLAS threads for GEMM and the number of chunks
/// elementwise loops are split into (`DispatchQueue.concurrentPerform`).
public enum Engine {
    public private(set) static var threads = 2

    /// Sets both the OpenBLAS thread count and the engine's own loop parallelism.
    public static func setThreads(_ n: Int) {
        threads = max(1, n)
        openblas_set_num_threads(Int32(threads))
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

/// C = alpha · op(A) · op(B) + beta · C, row-major; op(X) = Xᵀ when `transX`.
/// A is M×K after op, B is K×N after op, C is M×N; lda/ldb/ldc are the row strides as stored.
@inline(__always)
func gemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
          _ alpha: Float, _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
          _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// gemm on packed matrices (leading dimensions = stored row lengths).
@inline(__always)
func gemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
          _ alpha: Float, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
          _ beta: Float, _ c: UnsafeMutablePointer<Float>) {
    gemm(transA, transB, m, n, k, alpha, a, transA ? m : k, b, transB ? k : n, beta, c, n)
}
