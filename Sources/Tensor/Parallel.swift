import Foundation
import COpenBLAS

/// What the engine's ops read while they run: how many threads split their loops and GEMMs, how
/// many threads OpenBLAS may use itself, and whether ops record gradients.
public struct EngineSettings: Sendable, Equatable {
    /// Threads for the engine's loops and GEMM splits.
    public var threads: Int
    /// OpenBLAS's own threads (1 = the engine splits GEMMs instead).
    public var blasThreads: Int
    /// Ops record their backward step only while this is true (see `withoutGrad`).
    public var isGradEnabled: Bool

    public init(threads: Int = 2, blasThreads: Int = 1, isGradEnabled: Bool = true) {
        self.threads = max(1, threads)
        self.blasThreads = max(1, blasThreads)
        self.isGradEnabled = isGradEnabled
    }
}

/// The engine's settings travel with the work, not in mutable globals: `Engine.settings` is a
/// task-local value, bound for the duration of `withSettings`/`withoutGrad` on the calling
/// thread (or task) only, and handed to the worker threads of `parallelRanges`. A task-local
/// rather than a context parameter on every op: ops are called as `a + b`, `matmul(a, b)`, and
/// threading a value through every op and layer would touch every call site without changing
/// what each one computes. Two threads (a trainer and an evaluator, the preprocess runner's
/// workers) each see their own binding; a thread that binds nothing sees the defaults.
///
/// By default OpenBLAS runs single-threaded and the engine splits large GEMMs itself (C's rows
/// or columns across `threads` via concurrentPerform), the same threads that run elementwise,
/// im2col and attention work: OpenBLAS's own worker threads spin between calls and take the
/// cores away from that work (measured: ~10% of a step).
public enum Engine {
    @TaskLocal public static var settings = EngineSettings()

    public static var threads: Int { settings.threads }
    public static var blasThreads: Int { settings.blasThreads }

    /// Runs `body` with `settings` bound. OpenBLAS keeps one thread count for the whole process:
    /// settings that ask for other than the enclosing `blasThreads` set it for the duration of
    /// `body` (only `cals bench --blas-threads` does).
    public static func withSettings<T>(_ settings: EngineSettings, _ body: () throws -> T) rethrows -> T {
        _ = singleThreadedBLAS
        let outer = self.settings.blasThreads
        if settings.blasThreads != outer { openblas_set_num_threads(Int32(settings.blasThreads)) }
        defer { if settings.blasThreads != outer { openblas_set_num_threads(Int32(outer)) } }
        return try $settings.withValue(settings, operation: body)
    }

    /// Sets OpenBLAS to one thread, once, before the first GEMM (see `EngineSettings.blasThreads`).
    static let singleThreadedBLAS: Void = openblas_set_num_threads(1)
}

/// Runs `body` over `0..<count` split into contiguous ranges, one per thread; loops shorter
/// than `grain` stay on the calling thread. The worker threads see the caller's settings.
@inline(__always)
public func parallelRanges(_ count: Int, grain: Int = 1 << 15, _ body: (Range<Int>) -> Void) {
    let settings = Engine.settings
    let chunks = min(settings.threads, max(1, count / grain))
    if chunks <= 1 { body(0..<count); return }
    DispatchQueue.concurrentPerform(iterations: chunks) { c in
        Engine.$settings.withValue(settings) { body((count * c / chunks)..<(count * (c + 1) / chunks)) }
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
    _ = Engine.singleThreadedBLAS
    let settings = Engine.settings
    let parts = splitting && settings.blasThreads == 1 && m * n * k >= 1 << 20 ? settings.threads : 1
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
