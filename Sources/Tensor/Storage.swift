import Foundation

/// A contiguous float32 buffer. Memory comes from (and returns to) `BufferPool`, so a training
/// loop that makes the same shapes every step stops calling malloc (and page-faulting fresh
/// mmap'd pages) after the first step.
public final class Storage {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    /// A buffer of `count` floats; zero-filled when `zeroed`, else its contents are undefined.
    public init(count: Int, zeroed: Bool = false) {
        self.count = count
        pointer = BufferPool.shared.take(count)
        if zeroed { pointer.update(repeating: 0, count: count) }
    }

    public var buffer: UnsafeMutableBufferPointer<Float> { .init(start: pointer, count: count) }

    deinit { BufferPool.shared.give(pointer, count) }
}

/// Free lists of float buffers keyed by exact length, capped in total size.
final class BufferPool {
    static let shared = BufferPool()
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
