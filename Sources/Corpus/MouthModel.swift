import Foundation

/// The mouth pose of one frame.
/// - jaw: 0 closed … 1 wide open
/// - width: −1 narrow … 0 neutral … +1 spread (lip corners pulled apart)
/// - rounding: 0 none … 1 fully rounded and protruded
public struct MouthShape: Codable, Equatable, Sendable {
    public var jaw: Double
    public var width: Double
    public var rounding: Double

    public init(jaw: Double, width: Double, rounding: Double) {
        self.jaw = jaw
        self.width = width
        self.rounding = rounding
    }

    public static let rest = MouthShape(jaw: 0, width: 0, rounding: 0)
}

/// Phones → per-frame mouth shapes with co-articulation (Cohen & Massaro's dominance model).
///
/// Every phone has a target shape and, per parameter, a dominance
/// D(t) = α · exp(−θ · |t − centre|), with separate θ before (anticipation) and after
/// (carry-over) the phone's centre. The shape at time t is Σ D_i(t) · target_i / Σ D_i(t).
/// Consonants barely dominate lip rounding, so the rounding of an upcoming rounded vowel
/// reaches back over the consonants before it (θ_before = 5/s: still a third of full weight
/// 0.2 s ahead) — the shape of a frame depends on phones well outside a 0.2 s window.
/// Bilabials (p b m) dominate the jaw strongly, so the lips close even between open vowels.
public struct MouthModel: Sendable {
    /// Target shape and dominance of one phone class.
    struct Articulation {
        var target: MouthShape
        var jawDominance: Double      // α for jaw and width
        var roundDominance: Double    // α for rounding
        var rate: Double              // θ (1/s) for jaw and width, both sides
    }

    /// Per-speaker articulation strength: scales the jaw (0.8 … 1.2 is natural variation).
    public var jawScale: Double

    public init(jawScale: Double = 1) { self.jawScale = jawScale }

    /// Anticipation of rounding (θ before the centre of a rounded phone, 1/s) and carry-over.
    static let roundingAnticipation = 5.0
    static let roundingCarryOver = 12.0

    /// The shapes at frame times i / fps for i in 0..<frameCount.
    public func shapes(for phones: [Phone], frameCount: Int, fps: Double = 25) -> [MouthShape] {
        // Phones split into sub-segments (diphthongs glide between two targets).
        var segments: [(centre: Double, articulation: Articulation)] = []
        for phone in phones {
            let parts = MouthModel.articulations(of: phone.phoneme)
            let step = (phone.end - phone.start) / Double(parts.count)
            for (k, part) in parts.enumerated() {
                segments.append((phone.start + step * (Double(k) + 0.5), part))
            }
        }
        return (0..<frameCount).map { i in
            let t = Double(i) / fps
            guard !segments.isEmpty else { return .rest }
            var jaw = 0.0, width = 0.0, round = 0.0, wJaw = 1e-6, wRound = 1e-6
            for (centre, a) in segments {
                let d = t - centre // < 0: the phone is still ahead
                let dJaw = a.jawDominance * exp(-a.rate * abs(d))
                let theta = d < 0 && a.target.rounding > 0.5 ? MouthModel.roundingAnticipation
                                                            : MouthModel.roundingCarryOver
                let dRound = a.roundDominance * exp(-theta * abs(d))
                jaw += dJaw * a.target.jaw
                width += dJaw * a.target.width
                wJaw += dJaw
                round += dRound * a.target.rounding
                wRound += dRound
            }
            let rounding = round / wRound
            // Rounding narrows the lips whatever the jaw-and-width phones want.
            return MouthShape(jaw: min(1, jawScale * jaw / wJaw),
                              width: max(-1, min(1, width / wJaw - 0.6 * rounding)),
                              rounding: rounding)
        }
    }

    /// espeak-ng English mnemonics → articulation(s); two for diphthongs.
    static func articulations(of phoneme: String) -> [Articulation] {
        func v(_ jaw: Double, _ width: Double, _ round: Double) -> Articulation {
            Articulation(target: MouthShape(jaw: jaw, width: width, rounding: round),
                         jawDominance: 0.6, roundDominance: round > 0.5 ? 1.0 : 0.5, rate: 14)
        }
        func c(_ jaw: Double, _ width: Double, _ round: Double, jawDominance: Double = 0.5,
               roundDominance: Double = 0.08) -> Articulation {
            Articulation(target: MouthShape(jaw: jaw, width: width, rounding: round),
                         jawDominance: jawDominance, roundDominance: roundDominance, rate: 22)
        }
        let open = v(0.85, 0.1, 0), mid = v(0.5, 0.1, 0), schwa = v(0.35, 0, 0)
        let spread = v(0.25, 0.7, 0), nearSpread = v(0.35, 0.45, 0)
        let rounded = v(0.3, -0.3, 1), openRounded = v(0.6, -0.2, 0.7), midRounded = v(0.45, -0.2, 0.8)
        let p = phoneme.filter { $0 != "'" && $0 != "," && $0 != "#" }
        if p.hasPrefix("_") || p.isEmpty {
            return [Articulation(target: .rest, jawDominance: 0.4, roundDominance: 0.4, rate: 10)]
        }
        switch p {
        case "a", "A:", "A@", "aa", "a#", "V": return [open]
        case "aI", "aI@", "aI3": return [open, spread]
        case "aU": return [open, rounded]
        case "E", "e", "e@", "3:", "3", "@L", "@2", "@5": return [mid]
        case "@", "I2", "I#": return [schwa]
        case "eI": return [mid, spread]
        case "i:", "i", "i@", "I": return [p == "I" ? nearSpread : spread]
        case "I@": return [nearSpread, schwa]
        case "u:", "U", "U@": return [rounded]
        case "O:", "O@", "O", "0": return [openRounded]
        case "oU", "o@": return [midRounded, rounded]
        case "OI": return [openRounded, spread]
        case "p", "b", "m": return [c(0, 0, 0, jawDominance: 2.5, roundDominance: 0.15)]
        case "f", "v": return [c(0.08, 0.1, 0, jawDominance: 1.5)]
        case "T", "D": return [c(0.2, 0.1, 0)]
        case "t", "d", "n", "l", "s", "z", "t#", "d#", "n-", "l/", "L": return [c(0.15, 0.3, 0)]
        case "S", "Z", "tS", "dZ": return [c(0.15, -0.3, 0.6, roundDominance: 0.5)]
        case "k", "g", "N", "x": return [c(0.3, 0.1, 0)]
        case "r", "r-", "3:r": return [c(0.2, -0.2, 0.45, roundDominance: 0.3)]
        case "j": return [c(0.15, 0.5, 0)]
        case "w", "W": return [c(0.15, -0.5, 1, jawDominance: 0.6, roundDominance: 1.2)]
        case "h": return [c(0.4, 0, 0, jawDominance: 0.05, roundDominance: 0.02)]
        default:
            // Anything else: a vowel-looking mnemonic (first character) or a neutral consonant.
            if let first = p.first, "aAeE3@iIoOuUV0".contains(first) { return [mid] }
            return [c(0.2, 0.1, 0)]
        }
    }
}
