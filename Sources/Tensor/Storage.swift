import Foundation

/// A contiguous float32 buffer from the engine's backend (for `CPUBackend`, pooled host memory:
/// a training loop that makes the same shapes every step stops calling malloc after the first
/// step). Code outside the engine reaches its floats only through `withUnsafeBufferPointer` and
/// `withUnsafeMutableBufferPointer`, so a backend decides where they live and when they are
/// readable.
public final class Storage {
    @usableFromInline let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    /// A buffer of `count` floats; zero-filled when `zeroed`, else its contents are undefined.
    public init(count: Int, zeroed: Bool = false) {
        self.count = count
        pointer = Engine.backend.allocate(count)
        if zeroed { pointer.update(repeating: 0, count: count) }
    }

    var buffer: UnsafeMutableBufferPointer<Float> { .init(start: pointer, count: count) }

    /// Calls `body` with the floats for reading; the pointer is valid only inside `body`.
    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: pointer, count: count))
    }

    /// Calls `body` with the floats for reading and writing; the pointer is valid only inside `body`.
    @inlinable
    public func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeMutableBufferPointer(start: pointer, count: count))
    }

    deinit { Engine.backend.deallocate(pointer, count: count) }
}

/// Free lists of float buffers keyed by size class, capped in total size.
/// @unchecked Sendable: `free` and `pooledFloats` are read and written only while holding `lock`.
final class BufferPool: @unchecked Sendable {
    private var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
    private var pooledFloats = 0
    private let lock = NSLock()
    /// Beyond this many pooled floats (1 GiB) released buffers go back to the system.
    private let capacity = 1 << 28

    /// The buffer length handed out for `count` floats: `count` rounded up to one of 8 classes per
    /// power of two (at most 1/8 more). Tensors of nearly the same size then share buffers: MTCNN's
    /// P-Net runs on a window that moves with the face, a slightly different size on every frame,
    /// and with exact sizes each one took fresh pages from the system (and the pool filled up
    /// with sizes never asked for again).
    static func sizeClass(_ count: Int) -> Int {
        guard count > 8 else { return max(count, 1) }
        let step = 1 << (Int.bitWidth - count.leadingZeroBitCount - 4)   // 2^(⌊log2 count⌋ − 3)
        return (count + step - 1) / step * step
    }

    func take(_ count: Int) -> UnsafeMutablePointer<Float> {
        let size = BufferPool.sizeClass(count)
        lock.lock()
        if var list = free[size], let p = list.popLast() {
            free[size] = list
            pooledFloats -= size
            lock.unlock()
            return p
        }
        lock.unlock()
        return .allocate(capacity: size)
    }

    /// Takes back `p` from `take(count)`.
    func give(_ p: UnsafeMutablePointer<Float>, _ count: Int) {
        let size = BufferPool.sizeClass(count)
        lock.lock()
        if pooledFloats + size <= capacity {
            free[size, default: []].append(p)
            pooledFloats += size
            lock.unlock()
        } else {
            lock.unlock()
            p.deallocate()
        }
    }
}
