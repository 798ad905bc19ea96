import Foundation
import COpenBLAS
import Common

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
public enum Engine {
    @TaskLocal public static var settings = EngineSettings()
    /// The device the engine's memory and GEMMs come from (one per process).
    public static let backend: any Backend = CPUBackend()

    public static var threads: Int { settings.threads }
    public static var blasThreads: Int { settings.blasThreads }

    /// Runs `body` with `settings` bound. OpenBLAS keeps one thread count for the whole process:
    /// settings that ask for other than the enclosing `blasThreads` set it for the duration of
    /// `body` (only `cals bench --blas-threads` does).
    public static func withSettings<T>(_ settings: EngineSettings, _ body: () throws -> T) rethrows -> T {
        _ = backend   // made first: it sets OpenBLAS to one thread
        let outer = self.settings.blasThreads
        if settings.blasThreads != outer { openblas_set_num_threads(Int32(settings.blasThreads)) }
        defer { if settings.blasThreads != outer { openblas_set_num_threads(Int32(outer)) } }
        return try $settings.withValue(settings, operation: body)
    }
}

/// Runs `body` over `0..<count` split into contiguous ranges, one per thread; loops shorter
/// than `grain` stay on the calling thread. The worker threads see the caller's settings.
@inline(__always)
public func parallelRanges(_ count: Int, grain: Int = 1 << 15, _ body: (Range<Int>) -> Void) {
    let settings = Engine.settings
    let chunks = min(settings.threads, max(1, count / grain))
    if chunks <= 1 { body(0..<count); return }
    concurrentPerform(chunks) { c in
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

/// The backend's GEMM (see `Backend.gemm`).
@inline(__always)
func gemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
          _ alpha: Float, _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
          _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, splitting: Bool = true) {
    Engine.backend.gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, splitting: splitting)
}

/// gemm on packed matrices (leading dimensions = stored row lengths).
@inline(__always)
func gemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
          _ alpha: Float, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
          _ beta: Float, _ c: UnsafeMutablePointer<Float>) {
    gemm(transA, transB, m, n, k, alpha, a, transA ? m : k, b, transB ? k : n, beta, c, n)
}
