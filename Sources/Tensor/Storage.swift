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

/// Free lists of float buffers keyed by exact length, capped in total size.
/// @unchecked Sendable: `free` and `pooledFloats` are read and written only while holding `lock`.
final class BufferPool: @unchecked Sendable {
    private var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
    private var pooledFloats = 0
    private let lock = NSLock()
    /// Beyond this many pooled floats (1 GiB) released buffers go back to the system.
    private let capacity = 1 << 28

    func take(_ count: Int) -> UnsafeMutablePointer<Float> {
        lock.lock()
        if var list = free[count], let p = list.popLast() {
            free[count] = list
            pooledFloats -= count
            lock.unlock()
            return p
        }
        lock.unlock()
        return .allocate(capacity: max(count, 1))
    }

    func give(_ p: UnsafeMutablePointer<Float>, _ count: Int) {
        lock.lock()
        if pooledFloats + count <= capacity {
            free[count, default: []].append(p)
            pooledFloats += count
            lock.unlock()
        } else {
            lock.unlock()
            p.deallocate()
        }
    }
}
