import Foundation

// Losses, each a fused op returning a scalar (shape []) with its backward beside it.

/// A scalar op over pairs (pred, target) of equal shape: loss = Σ w_i · f(p_i, t_i), and
/// backward adds g · w_i · ∂f/∂p (and −… into target when it needs a gradient, for the
/// symmetric losses; `dfdt` gives ∂f/∂t).
@inline(__always)
private func pairLoss(_ pred: Tensor, _ target: Tensor, weight: @escaping (Int) -> Float,
                      _ f: @escaping (Float, Float) -> Float,
                      _ dfdp: @escaping (Float, Float) -> Float,
                      _ dfdt: @escaping (Float, Float) -> Float) -> Tensor {
    precondition(pred.shape == target.shape, "loss of shapes \(pred.shape) and \(target.shape)")
    let P = pred.data, T = target.data, n = pred.count
    var total: Double = 0
    for i in 0..<n { total += Double(weight(i) * f(P[i], T[i])) }
    let out = Tensor(shape: [], values: [Float(total)])
    out.record([pred, target]) { out in
        let g = out.grad!.pointer[0]
        if pred.requiresGrad {
            let (D, fresh) = pred.gradForWriting()
            parallelRanges(n) { r in store(D, fresh: fresh, r) { g * weight($0) * dfdp(P[$0], T[$0]) } }
        }
        if target.requiresGrad {
            let (D, fresh) = target.gradForWriting()
            parallelRanges(n) { r in store(D, fresh: fresh, r) { g * weight($0) * dfdt(P[$0], T[$0]) } }
        }
    }
    return out
}

/// mean (p − t)²
public func mseLoss(_ pred: Tensor, _ target: Tensor) -> Tensor {
    let w = 1 / Float(pred.count)
    return pairLoss(pred, target, weight: { _ in w }, { ($0 - $1) * ($0 - $1) }, { 2 * ($0 - $1) }, { -2 * ($0 - $1) })
}

/// mean |p − t| (subgradient 0 at p = t, as PyTorch)
public func l1Loss(_ pred: Tensor, _ target: Tensor) -> Tensor {
    let w = 1 / Float(pred.count)
    let sign: (Float) -> Float = { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) }
    return pairLoss(pred, target, weight: { _ in w }, { abs($0 - $1) }, { sign($0 - $1) }, { -sign($0 - $1) })
}

/// Mean squared error over the masked steps only: pred, target [B, T, D], mask [B, T] (1 =
/// counted, 0 = ignored): Σ m_bt (p − t)² / (D · Σ m_bt). Zero when nothing is masked.
public func maskedMSELoss(_ pred: Tensor, _ target: Tensor, mask: Tensor) -> Tensor {
    let d = pred.shape.last ?? 1
    precondition(mask.count * d == pred.count && Array(pred.shape.dropLast()) == mask.shape,
                 "masked MSE of \(pred.shape) with mask \(mask.shape)")
    let M = mask.data
    var counted: Float = 0
    for i in 0..<mask.count { counted += M[i] }
    let w = counted > 0 ? 1 / (counted * Float(d)) : 0
    // The weight closure holds the mask itself (not just its pointer) so backward can read it.
    return pairLoss(pred, target, weight: { [mask] in mask.data[$0 / d] * w }, { ($0 - $1) * ($0 - $1) }, { 2 * ($0 - $1) }, { -2 * ($0 - $1) })
}

/// mean over elements of BCE(σ(x), t), in the stable form max(x, 0) − x·t + log(1 + e^−|x|);
/// ∂/∂x = σ(x) − t.
public func bceWithLogitsLoss(_ logits: Tensor, _ target: Tensor) -> Tensor {
    let w = 1 / Float(logits.count)
    return pairLoss(logits, target, weight: { _ in w },
                    { x, t in max(x, 0) - x * t + log1pf(expf(-abs(x))) },
                    { x, t in 1 / (1 + expf(-x)) - t },
                    { x, _ in -x })
}

/// Cosine similarity along the last dimension: a, b [..., D] → [...],
/// c = a·b / max(‖a‖‖b‖, ε). Backward: ∂c/∂a = b/(‖a‖‖b‖) − c·a/‖a‖² (and symmetrically).
public func cosineSimilarity(_ a: Tensor, _ b: Tensor, eps: Float = 1e-8) -> Tensor {
    precondition(a.shape == b.shape && a.rank >= 1, "cosine similarity of \(a.shape) and \(b.shape)")
    let d = a.shape.last!, rows = a.count / d
    let out = Tensor(shape: Array(a.shape.dropLast()))
    let A = a.data, B = b.data, C = out.data
    let norms = Storage(count: 2 * rows)   // ‖a‖, ‖b‖ per row, saved for backward
    let N = norms.pointer
    for r in 0..<rows {
        var ab: Float = 0, aa: Float = 0, bb: Float = 0
        for j in 0..<d { let x = A[r * d + j], y = B[r * d + j]; ab += x * y; aa += x * x; bb += y * y }
        N[2 * r] = aa.squareRoot(); N[2 * r + 1] = bb.squareRoot()
        C[r] = ab / max(N[2 * r] * N[2 * r + 1], eps)
    }
    out.record([a, b]) { out in
        let N = norms.pointer   // saved norms, kept alive by this closure
        let G = out.grad!.pointer
        let DA = a.requiresGrad ? a.gradPointer() : nil, DB = b.requiresGrad ? b.gradPointer() : nil
        for r in 0..<rows {
            let na = N[2 * r], nb = N[2 * r + 1], denom = max(na * nb, eps), c = C[r], g = G[r]
            for j in 0..<d {
                let x = A[r * d + j], y = B[r * d + j]
                DA?[r * d + j] += g * (y / denom - (na * nb > eps ? c * x / (na * na) : 0))
                DB?[r * d + j] += g * (x / denom - (na * nb > eps ? c * y / (nb * nb) : 0))
            }
        }
    }
    return out
}

/// Mean cross-entropy of logits [N, C] against class indices (PyTorch F.cross_entropy):
/// −mean_i log softmax(x_i)[label_i]. Backward: (softmax(x_i) − onehot(label_i)) / N.
public func crossEntropyLoss(_ logits: Tensor, labels: [Int]) -> Tensor {
    precondition(logits.rank == 2 && logits.shape[0] == labels.count, "cross-entropy of \(logits.shape) with \(labels.count) labels")
    let n = logits.shape[0], c = logits.shape[1]
    precondition(labels.allSatisfy { $0 >= 0 && $0 < c }, "cross-entropy label outside 0..<\(c)")
    let probs = Storage(count: n * c)
    let X = logits.data, S = probs.pointer
    var total: Double = 0
    for i in 0..<n {
        softmaxRow(X + i * c, S + i * c, c)
        total -= Double(logf(max(S[i * c + labels[i]], .leastNormalMagnitude)))
    }
    let out = Tensor(shape: [], values: [Float(total / Double(n))])
    out.record([logits]) { out in
        let S = probs.pointer   // saved softmax, kept alive by this closure
        let g = out.grad!.pointer[0] / Float(n), D = logits.gradPointer()
        for i in 0..<n { for j in 0..<c { D[i * c + j] += g * (S[i * c + j] - (j == labels[i] ? 1 : 0)) } }
    }
    return out
}
