import Tensor

/// Per-clip augmentation of the sync trainer's visual windows, so the visual stream cannot key on
/// the few training faces' exact colours and positions: one random horizontal flip, shift and
/// per-channel gain/bias for all windows and frames of a clip (lip motion across the 5 frames is
/// untouched). The audio stream is not augmented.
public struct SyncAugmentation: Codable, Equatable, Sendable {
    /// Largest shift in pixels, in x and y alike (edges repeat).
    public var maxShift = 6
    /// Gains are drawn from 1 ± jitter and biases from ± jitter / 2, per RGB channel.
    public var colourJitter: Float = 0.25
    public var flip = true
    public init() {}

    /// Augments windows [W, 15, 64, 128] (RGB 0…1) in place, all with one draw from `rng`.
    public func apply(to windows: Tensor, rng: inout RandomGenerator) {
        let (h, w) = (windows.shape[2], windows.shape[3]), plane = h * w, planes = windows.count / plane
        let dx = rng.int(below: 2 * maxShift + 1) - maxShift, dy = rng.int(below: 2 * maxShift + 1) - maxShift
        let mirror = flip && rng.int(below: 2) == 1
        var gain: [Float] = [], bias: [Float] = []
        for _ in 0..<3 {
            gain.append(1 + colourJitter * (2 * rng.uniform() - 1))
            bias.append(colourJitter / 2 * (2 * rng.uniform() - 1))
        }
        // source column and row of each output pixel
        let columns = (0..<w).map { x in min(max((mirror ? w - 1 - x : x) + dx, 0), w - 1) }
        let rows = (0..<h).map { y in min(max(y + dy, 0), h - 1) }
        let X = windows.data
        parallelItems(planes) { p in
            let channel = p % 3, (g, b) = (gain[channel], bias[channel])
            let source = [Float](UnsafeBufferPointer(start: X + p * plane, count: plane))
            let out = X + p * plane
            source.withUnsafeBufferPointer { s in
                for y in 0..<h {
                    let row = rows[y] * w
                    for x in 0..<w { out[y * w + x] = min(max(g * s[row + columns[x]] + b, 0), 1) }
                }
            }
        }
    }
}
