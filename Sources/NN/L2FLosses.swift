import Tensor

// The loss terms of L2F training (SPEC §3), on embeddings and discriminator logits. The full
// objective that feeds frames through the frozen sync encoder is Training/L2FObjective.swift.

/// d_av = −mean_i log(cos(a_i, v_i) + ε): audio and visual embeddings [N, D] of the same windows.
/// ε = 1e-6 keeps the loss finite when the two (ReLU'd, so possibly orthogonal) embeddings have
/// cosine 0.
public func audioVisualSyncLoss(audio: Tensor, visual: Tensor, eps: Float = 1e-6) -> Tensor {
    -log(cosineSimilarity(audio, visual) + eps).mean()
}

/// d_vv = −mean_{b,i} log softmax_j cos(ĝ_{b,i}, r_{b,j}) at j = i: generated and real visual
/// embeddings [B, T, D] of the T windows of B clips. Each generated window is contrasted with the
/// real windows of its own clip, the true one being the target.
///   S_b = normalize(G_b) · normalize(R_b)ᵀ [T, T];  loss = cross-entropy(S [B·T, T], labels i)
public func visualVisualSyncLoss(generated: Tensor, real: Tensor) -> Tensor {
    precondition(generated.rank == 3 && generated.shape == real.shape,
                 "d_vv of generated \(generated.shape) and real \(real.shape), expected [B, T, D]")
    let b = generated.shape[0], t = generated.shape[1]
    let cosines = matmul(l2Normalized(generated), l2Normalized(real).transposed(1, 2))   // [B, T, T]
    return crossEntropyLoss(cosines.reshaped([b * t, t]), labels: (0..<(b * t)).map { $0 % t })
}

/// The discriminator's loss: BCE(D(real), 1) + BCE(D(fake), 0), logits of any shape.
public func discriminatorLoss(real: Tensor, fake: Tensor) -> Tensor {
    bceWithLogitsLoss(real, Tensor(shape: real.shape, filledWith: 1))
        + bceWithLogitsLoss(fake, Tensor(shape: fake.shape, zeroed: true))
}

/// The generator's non-saturating adversarial loss: BCE(D(fake), 1) = −mean log σ(D(fake)).
public func generatorAdversarialLoss(fake: Tensor) -> Tensor {
    bceWithLogitsLoss(fake, Tensor(shape: fake.shape, filledWith: 1))
}
