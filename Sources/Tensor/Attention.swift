import Foundation

/// Multi-head scaled dot-product self-attention on packed projections, PyTorch
/// nn.MultiheadAttention's core (between in_proj and out_proj).
///
/// qkv [B, T, 3d] holds q | k | v along the last dimension, head h using columns h·Dh..<(h+1)·Dh
/// of each part (Dh = d / heads). keyMask [B, T] (optional): 0 marks a key no query may attend to
/// (PyTorch key_padding_mask = mask == 0). band K (optional): query i attends only to keys with
/// |i − j| ≤ K. Dropout p on the attention probabilities with hash key `dropoutKey`, masks indexed
/// by the batch's place in the global batch (`dropoutPositions`).
/// Returns [B, T, d]. A query row with no allowed key gets output 0.
///
/// Per (b, h), with strided GEMMs straight on qkv (no head reshuffling copies):
///   S = Q Kᵀ / √Dh (+ −∞ where masked);  P = softmax(S);  P' = dropout(P);  O = P' V
/// Backward:
///   dP' = dO Vᵀ;  dV = P'ᵀ dO;  dP = dropout-mask(dP');  dS = P ⊙ (dP − rowsum(dP ⊙ P))
///   dQ = dS K / √Dh;  dK = dSᵀ Q / √Dh
public func multiHeadAttention(_ qkv: Tensor, heads: Int, keyMask: Tensor? = nil, band: Int? = nil,
                               dropout p: Float = 0, dropoutKey: UInt64 = 0, dropoutPositions: BatchPositions = .whole) -> Tensor {
    precondition(qkv.rank == 3 && qkv.shape[2] % (3 * heads) == 0,
                 "attention input \(qkv.shape) is not [B, T, 3·d] with d divisible by \(heads) heads")
    let b = qkv.shape[0], t = qkv.shape[1], d = qkv.shape[2] / 3, dh = d / heads, ld = 3 * d
    precondition(keyMask == nil || keyMask!.shape == [b, t], "key mask \(keyMask!.shape) for \(qkv.shape)")
    let scale = 1 / Float(dh).squareRoot()
    let probs = Storage(count: b * heads * t * t)                           // P   [B, H, T, T]
    let dropped = p > 0 ? Storage(count: b * heads * t * t) : probs         // P'  [B, H, T, T]
    let out = Tensor(shape: [b, t, d])
    let X = qkv.data, Y = out.data, P = probs.pointer, PD = dropped.pointer, mask = keyMask?.data
    let keep = 1 / (1 - p), dropMask = DropoutMask(p: p, key: dropoutKey)

    parallelItems(b * heads) { bh in
        let bi = bh / heads, h = bh % heads
        let q = X + bi * t * ld + h * dh, k = q + d, v = q + 2 * d
        let s = P + bh * t * t, sd = PD + bh * t * t
        let shift = dropoutPositions.shift(sample: bi, perSample: heads * t * t)
        gemm(false, true, t, t, dh, scale, q, ld, k, ld, 0, s, t)
        for i in 0..<t {
            let row = s + i * t
            for j in 0..<t {
                let masked = (mask.map { $0[bi * t + j] == 0 } ?? false) || (band.map { abs(i - j) > $0 } ?? false)
                if masked { row[j] = -.infinity }
            }
            if (0..<t).allSatisfy({ row[$0] == -.infinity }) {
                row.update(repeating: 0, count: t)
            } else {
                softmaxRow(row, row, t)
            }
            if p > 0 {
                for j in 0..<t { sd[i * t + j] = row[j] * dropMask.factor((bh * t + i) * t + j + shift, keep) }
            }
        }
        gemm(false, false, t, dh, t, 1, sd, t, v, ld, 0, Y + bi * t * d + h * dh, d)
    }

    out.record([qkv]) { out in
        let P = probs.pointer, PD = dropped.pointer   // saved probabilities, kept alive by this closure
        // Each (b, h) writes its own columns of dQ, dK, dV once: β = 0 into a fresh gradient.
        let G = out.grad!.pointer, (DX, fresh) = qkv.gradForWriting(), beta: Float = fresh ? 0 : 1
        let scratch = Storage(count: b * heads * t * t)
        parallelItems(b * heads) { bh in
            let bi = bh / heads, h = bh % heads
            let q = X + bi * t * ld + h * dh, k = q + d, v = q + 2 * d
            let dq = DX + bi * t * ld + h * dh, dk = dq + d, dv = dq + 2 * d
            let go = G + bi * t * d + h * dh
            let s = P + bh * t * t, sd = PD + bh * t * t, ds = scratch.pointer + bh * t * t
            let shift = dropoutPositions.shift(sample: bi, perSample: heads * t * t)
            gemm(false, true, t, t, dh, 1, go, d, v, ld, 0, ds, t)       // dP' = dO Vᵀ
            gemm(true, false, t, dh, t, 1, sd, t, go, d, beta, dv, ld)   // dV += P'ᵀ dO
            for i in 0..<t {
                let pr = s + i * t, dr = ds + i * t
                if p > 0 {
                    for j in 0..<t { dr[j] *= dropMask.factor((bh * t + i) * t + j + shift, keep) }
                }
                var dot: Float = 0
                for j in 0..<t { dot += dr[j] * pr[j] }
                for j in 0..<t { dr[j] = pr[j] * (dr[j] - dot) }
            }
            gemm(false, false, t, dh, t, scale, ds, t, k, ld, beta, dq, ld)  // dQ += dS K / √Dh
            gemm(true, false, t, dh, t, scale, ds, t, q, ld, beta, dk, ld)   // dK += dSᵀ Q / √Dh
        }
    }
    return out
}

/// Sinusoidal positions [T, d] (Vaswani et al.; the PyTorch tutorial layout):
/// pe[t, 2i] = sin(t / 10000^(2i/d)), pe[t, 2i+1] = cos(t / 10000^(2i/d)). A constant.
public func sinusoidalPositions(_ t: Int, _ d: Int) -> Tensor {
    let pe = Tensor(shape: [t, d])
    for pos in 0..<t {
        for i in stride(from: 0, to: d, by: 2) {
            let angle = Double(pos) * Foundation.exp(-Double(i) * Foundation.log(10000.0) / Double(d))
            pe.data[pos * d + i] = Float(sin(angle))
            if i + 1 < d { pe.data[pos * d + i + 1] = Float(cos(angle)) }
        }
    }
    return pe
}
