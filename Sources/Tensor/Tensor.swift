/// A float32 tensor: row-major, always contiguous, shape checked at every op.
///
/// Reverse-mode autodiff: an op whose inputs require gradients records its inputs (`parents`)
/// and a backward closure on its output. `backward()` on a scalar visits the graph in reverse
/// topological order; each closure reads `out.grad` and adds into its parents' `grad`.
/// Gradients accumulate (like PyTorch) until `zeroGrad()`.
public final class Tensor {
    public let shape: [Int]
    public let count: Int
    public let storage: Storage
    /// Gradient of the loss with respect to this tensor (same count), once backward reached it.
    public var grad: Storage?
    /// Leaves (parameters) set this; op outputs inherit it from their inputs.
    public var requiresGrad: Bool
    var parents: [Tensor] = []
    var backwardFn: ((Tensor) -> Void)?

    /// Gradients are recorded only while this is true (see `withoutGrad`, `EngineSettings`).
    public static var isGradEnabled: Bool { Engine.settings.isGradEnabled }

    public init(shape: [Int], storage: Storage, requiresGrad: Bool = false) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        let n = shape.reduce(1, *)
        precondition(storage.count == n, "storage of \(storage.count) floats for shape \(shape)")
        self.shape = shape
        self.count = n
        self.storage = storage
        self.requiresGrad = requiresGrad
    }

    /// Uninitialised (or zero-filled) tensor of the given shape.
    public convenience init(shape: [Int], zeroed: Bool = false) {
        self.init(shape: shape, storage: Storage(count: shape.reduce(1, *), zeroed: zeroed))
    }

    public convenience init(shape: [Int], values: [Float], requiresGrad: Bool = false) {
        precondition(values.count == shape.reduce(1, *), "\(values.count) values for shape \(shape)")
        self.init(shape: shape)
        for (i, v) in values.enumerated() { data[i] = v }
        self.requiresGrad = requiresGrad
    }

    public convenience init(shape: [Int], filledWith value: Float) {
        self.init(shape: shape)
        data.update(repeating: value, count: count)
    }

    /// Normal(0, std²) entries from `rng`.
    public convenience init(randomNormal shape: [Int], std: Float = 1, rng: inout RandomGenerator) {
        self.init(shape: shape)
        for i in 0..<count { data[i] = rng.normal() * std }
    }

    /// Uniform(−bound, bound) entries from `rng` (PyTorch's default Linear/Conv initialisation).
    public convenience init(randomUniform shape: [Int], bound: Float, rng: inout RandomGenerator) {
        self.init(shape: shape)
        for i in 0..<count { data[i] = (2 * rng.uniform() - 1) * bound }
    }

    /// The floats, for the engine's ops; code outside the engine uses the two accessors below.
    @usableFromInline var data: UnsafeMutablePointer<Float> { storage.pointer }
    public var rank: Int { shape.count }
    public var values: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }
    public var gradValues: [Float]? { grad.map { Array($0.buffer) } }
    /// The value of a one-element tensor.
    public var item: Float {
        precondition(count == 1, "item of a tensor of shape \(shape)")
        return data[0]
    }

    /// Calls `body` with the values for reading; the pointer is valid only inside `body`.
    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try storage.withUnsafeBufferPointer(body)
    }

    /// Calls `body` with the values for reading and writing; the pointer is valid only inside `body`.
    @inlinable
    public func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try storage.withUnsafeMutableBufferPointer(body)
    }

    /// The gradient buffer, allocated zero-filled on first use.
    func gradPointer() -> UnsafeMutablePointer<Float> {
        if grad == nil { grad = Storage(count: count, zeroed: true) }
        return grad!.pointer
    }

    /// The gradient buffer for a backward step that writes each of its elements once: a tensor
    /// without a gradient yet gets an uninitialised one and `fresh` is true, so the step stores
    /// (or runs its GEMM with β = 0) instead of adding into a zero-filled buffer.
    func gradForWriting() -> (pointer: UnsafeMutablePointer<Float>, fresh: Bool) {
        if let grad { return (grad.pointer, false) }
        let g = Storage(count: count)
        grad = g
        return (g.pointer, true)
    }

    public func zeroGrad() { grad = nil }

    /// A copy that shares nothing with the graph (no parents, no gradient).
    public func detached() -> Tensor {
        let t = Tensor(shape: shape)
        t.data.update(from: data, count: count)
        return t
    }

    /// Copies values (same count) into this tensor in place, outside the graph.
    public func assign(_ other: Tensor) {
        precondition(other.count == count, "assign \(other.shape) to \(shape)")
        data.update(from: other.data, count: count)
    }

    /// Whether an op on `parents` records a backward step (so it may save what backward needs).
    static func recordsGradient(from parents: [Tensor]) -> Bool {
        isGradEnabled && parents.contains(where: { $0.requiresGrad })
    }

    /// Records `parents` and `backward` on this op output when gradients are enabled and some
    /// parent needs one.
    func record(_ parents: [Tensor], _ backward: @escaping (Tensor) -> Void) {
        guard Tensor.recordsGradient(from: parents) else { return }
        requiresGrad = true
        self.parents = parents
        backwardFn = backward
    }

    /// Backpropagates from this scalar: sets its gradient to 1, runs every recorded backward
    /// closure once in reverse topological order, then frees the graph (intermediate gradients
    /// and saved activations); leaves keep their accumulated `grad`. `hook` hears of each leaf as
    /// soon as the last op that read it has run its backward step.
    public func backward(reportingTo hook: GradientReadyHook? = nil) {
        precondition(count == 1, "backward() needs a scalar, got shape \(shape)")
        // Iterative depth-first topological sort over nodes that require gradients. Parents are
        // expanded first to last (an op's input before its weights), so a weight and the ops on
        // it alone (a transpose) land just before the op that reads them, and the reverse loop
        // reaches them right after it, not at the end of backward.
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor, Bool)] = [(self, false)]
        while let (node, expanded) = stack.popLast() {
            if expanded { order.append(node); continue }
            guard visited.insert(ObjectIdentifier(node)).inserted else { continue }
            stack.append((node, true))
            for p in node.parents.reversed() where p.requiresGrad && !visited.contains(ObjectIdentifier(p)) {
                stack.append((p, false))
            }
        }
        // The reads of each leaf (a leaf read twice by one op counts twice): its gradient is final
        // when the last reader has run (a tied weight has readers in several layers).
        var readsLeft: [ObjectIdentifier: Int] = [:]
        if hook != nil {
            for node in order { for p in node.parents where p.requiresGrad && p.backwardFn == nil { readsLeft[ObjectIdentifier(p), default: 0] += 1 } }
        }
        gradPointer()[0] += 1
        for node in order.reversed() {
            guard let fn = node.backwardFn else { continue }
            if node.grad != nil { fn(node) }
            if let hook {
                for p in node.parents where p.requiresGrad && p.backwardFn == nil {
                    let left = readsLeft[ObjectIdentifier(p), default: 1] - 1
                    readsLeft[ObjectIdentifier(p)] = left
                    if left == 0 { hook.gradientIsReady(p) }
                }
            }
            node.backwardFn = nil
            node.parents = []
            node.grad = nil
        }
    }
}

/// Runs `body` without recording gradients (inference, optimiser updates).
public func withoutGrad<T>(_ body: () throws -> T) rethrows -> T {
    var settings = Engine.settings
    settings.isGradEnabled = false
    return try Engine.$settings.withValue(settings, operation: body)
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = values.prefix(8).map { String(format: "%.4g", $0) }.joined(separator: ", ")
        return "Tensor\(shape)[\(shown)\(count > 8 ? ", …" : "")]"
    }
}

import Foundation
