import Tensor

/// Moves a reference face crop onto a target crop of the same face, by the translation that best
/// matches their upper halves (the part of the target the L2F generator is shown).
///
/// A face track's crops still move by a few pixels from frame to frame (head motion, detector
/// jitter), so a reference frame taken elsewhere in the clip is off by as much at the mouth. The
/// translation (dx, dy) minimises the mean squared grey difference target(x, y) − ref(x + dx, y + dy)
/// over the upper half less a margin of `maxShift`, searched over whole pixels within ±maxShift
/// and refined to a fraction of a pixel by a parabola through the neighbouring costs; the
/// reference is then resampled bilinearly at (x + dx, y + dy), edges repeated.
public enum ReferenceAlignment {
    public static let maxShift = 8

    /// references and targets [N, S, S, 3] uint8 → the references, each moved onto its target.
    public static func aligned(_ references: [UInt8], to targets: [UInt8], side: Int) -> [UInt8] {
        let frameBytes = side * side * 3
        precondition(side > 4 * maxShift && references.count == targets.count && targets.count % frameBytes == 0,
                     "aligning \(references.count) reference bytes to \(targets.count) target bytes of \(side)×\(side) frames")
        var out = [UInt8](repeating: 0, count: references.count)
        references.withUnsafeBufferPointer { R in targets.withUnsafeBufferPointer { T in out.withUnsafeMutableBufferPointer { O in
            parallelItems(targets.count / frameBytes) { i in   // each frame writes its own part of out
                let start = i * frameBytes, ref = R.baseAddress! + start
                let shift = translation(of: grey(ref, side), onto: grey(T.baseAddress! + start, side), side: side)
                resample(ref, side: side, by: shift, into: O.baseAddress! + start)
            }
        } } }
        return out
    }

    /// The (dx, dy) for grey planes [S, S] (see the type's comment).
    static func translation(of reference: [Float], onto target: [Float], side: Int) -> (dx: Double, dy: Double) {
        let m = maxShift, span = 2 * m + 1
        var cost = [Double](repeating: 0, count: span * span)
        reference.withUnsafeBufferPointer { R in target.withUnsafeBufferPointer { T in
            for sy in -m...m { for sx in -m...m {
                var sum: Float = 0
                for y in m..<(side / 2 - m) {
                    let t = T.baseAddress! + y * side, r = R.baseAddress! + (y + sy) * side + sx
                    for x in m..<(side - m) { let d = t[x] - r[x]; sum += d * d }
                }
                cost[(sy + m) * span + sx + m] = Double(sum)
            } }
        } }
        let best = cost.indices.min { cost[$0] < cost[$1] }!
        let (bx, by) = (best % span, best / span)
        /// Vertex of the parabola through (−1, a), (0, b), (1, c); 0 at the search edge.
        func refine(_ a: Double?, _ b: Double, _ c: Double?) -> Double {
            guard let a, let c, a + c - 2 * b > 0 else { return 0 }
            return 0.5 * (a - c) / (a + c - 2 * b)
        }
        let dx = refine(bx > 0 ? cost[best - 1] : nil, cost[best], bx < span - 1 ? cost[best + 1] : nil)
        let dy = refine(by > 0 ? cost[best - span] : nil, cost[best], by < span - 1 ? cost[best + span] : nil)
        return (Double(bx - m) + dx, Double(by - m) + dy)
    }

    static func grey(_ frame: UnsafePointer<UInt8>, _ side: Int) -> [Float] {
        (0..<(side * side)).map { p in (Float(frame[3 * p]) + Float(frame[3 * p + 1]) + Float(frame[3 * p + 2])) / 3 }
    }

    /// out(x, y) = frame(x + dx, y + dy), bilinear, coordinates clamped to the frame.
    static func resample(_ frame: UnsafePointer<UInt8>, side: Int, by shift: (dx: Double, dy: Double),
                         into out: UnsafeMutablePointer<UInt8>) {
        let last = Double(side - 1)
        for y in 0..<side {
            let sy = min(max(Double(y) + shift.dy, 0), last), y0 = Int(sy), y1 = min(y0 + 1, side - 1), fy = sy - Double(y0)
            for x in 0..<side {
                let sx = min(max(Double(x) + shift.dx, 0), last), x0 = Int(sx), x1 = min(x0 + 1, side - 1), fx = sx - Double(x0)
                for c in 0..<3 {
                    func at(_ xx: Int, _ yy: Int) -> Double { Double(frame[(yy * side + xx) * 3 + c]) }
                    let top = at(x0, y0) + fx * (at(x1, y0) - at(x0, y0)), bottom = at(x0, y1) + fx * (at(x1, y1) - at(x0, y1))
                    out[(y * side + x) * 3 + c] = UInt8((top + fy * (bottom - top)).rounded())
                }
            }
        }
    }
}
