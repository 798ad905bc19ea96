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

/// Long-range co-articulation (corpus versions 2 and 3): how far lip rounding and jaw opening reach
/// beyond their own phones, and how much a consonant takes its shape from the vowels around it.
///
/// Defaults and the measurements behind them:
/// - Anticipatory rounding. Lip protrusion for a rounded vowel starts during the consonants
///   before it, as early as the first consonant after the last unrounded vowel (French clusters
///   of up to six consonants, Benguerel & Cowan 1974, Phonetica 30), and its onset lies at a
///   fairly stable interval before the vowel (orbicularis oris EMG, Bell-Berti & Harris 1979,
///   JASA 65; 1982, JASA 71); for English /u/ the protrusion onset moves earlier with a longer
///   consonant interval but less than in proportion to it, between those two accounts
///   (Perkell & Matthies 1992, JASA 91). Reported anticipation spans 200–500 ms. Here: a rounded
///   phone dominates rounding fully from `roundingLead` before its start (0.5 s: the long end of
///   that span, chosen so that the mouth needs context), but no earlier than the end of the
///   preceding unrounded vowel (the look-ahead bound), and fades in at `roundingFade` beyond that.
/// - Carry-over: rounding and jaw opening outlast their vowel into the following consonants
///   (carry-over rounding is shorter than anticipation in the same studies): full rounding
///   for `roundingCarryOver` after a rounded phone ends (again stopped by the next unrounded
///   vowel), and vowels' jaw dominance decays at `jawCarryOverRate` after their centre instead
///   of the vowel's own rate.
/// - Consonants on a vowel-to-vowel movement: the transitions into and out of a consonant depend
///   on the vowel across it (Öhman 1966, JASA 39, VCV spectrograms), and the jaw height of lingual
///   consonants follows the neighbouring vowels' (Keating, Lindblom, Lubker & Kreiman 1994,
///   J. Phonetics 22). Here: a lingual consonant's jaw and width targets move `consonantBlend`
///   of the way towards the vowel track (the previous and next vowel targets, interpolated at the
///   consonant's centre); lip consonants (p b m f v w) keep their own.
///
/// Corpus version 3 adds two fields (nil in version 2, whose sidecars stay as they were):
/// - Jaw look-ahead: the jaw and lip opening for a vowel starts during the consonants before it;
///   in VCV sequences the movement towards the second vowel begins during or before the
///   consonant closure (Gay 1977, JASA 62; Öhman 1966). Here: a vowel dominates jaw and width
///   fully from `jawLead` before its start up to its centre (0.25 s: about two consonants at
///   this corpus's speaking rate), fading at its own rate beyond that.
/// - Pauses hold the rest posture: between phrases the lips return to rest, so a pause
///   dominates all three parameters with `pauseDominance` over its whole span, fading at its
///   own rate outside. In version 2 a pause dominated only near its centre, so in a long pause
///   the slowly fading rounding and jaw of phones up to a second away took over: lips rounded
///   in silence, implausible and not predictable from any audio.
public struct Coarticulation: Codable, Equatable, Sendable {
    /// Seconds before a rounded phone's start from which it dominates rounding fully.
    public var roundingLead = 0.5
    /// Rate (1/s) at which that dominance fades beyond the lead.
    public var roundingFade = 3.0
    /// Seconds after a rounded phone's end during which it still dominates rounding fully.
    public var roundingCarryOver = 0.25
    /// Rate (1/s) of a vowel's jaw and width dominance after its centre (before it: the vowel's own).
    public var jawCarryOverRate = 3.0
    /// Fraction of a lingual consonant's jaw and width target taken from the vowel track.
    public var consonantBlend = 0.7
    /// Seconds before a vowel's start from which it dominates jaw and width fully (version 3).
    public var jawLead: Double?
    /// Dominance (α) of a pause's rest posture over its whole span (version 3).
    public var pauseDominance: Double?

    /// Version 2's parameters.
    public init() {}

    /// Corpus version 2's parameters (the defaults).
    public static let version2 = Coarticulation()

    /// Corpus version 3's: version 2's with jaw look-ahead and pauses that hold the rest posture.
    public static let version3: Coarticulation = {
        var c = Coarticulation()
        c.jawLead = 0.25
        c.pauseDominance = 3
        return c
    }()
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
/// With `coarticulation` (corpus versions 2 and 3) rounding, jaw carry-over and consonant targets
/// (and in version 3 jaw look-ahead and pauses) follow `Coarticulation` instead; without it the
/// shapes are those of version 1, unchanged.
public struct MouthModel: Sendable {
    /// Target shape and dominance of one phone class.
    struct Articulation {
        var target: MouthShape
        var jawDominance: Double      // α for jaw and width
        var roundDominance: Double    // α for rounding
        var rate: Double              // θ (1/s) for jaw and width, both sides
        /// Vowel, lingual consonant, pause, or other (consonants whose lips are specified).
        var kind = Kind.other

        enum Kind { case vowel, lingual, pause, other }
    }

    /// One phone or diphthong half on the timeline.
    struct Segment {
        var start: Double
        var end: Double
        var centre: Double
        var articulation: Articulation
        var isRounded: Bool { articulation.target.rounding > 0.5 }
    }

    /// Per-speaker articulation strength: scales the jaw (0.8 … 1.2 is natural variation).
    public var jawScale: Double
    /// Long-range co-articulation (corpus versions 2 and 3); nil: version 1.
    public var coarticulation: Coarticulation?

    public init(jawScale: Double = 1, coarticulation: Coarticulation? = nil) {
        self.jawScale = jawScale
        self.coarticulation = coarticulation
    }

    /// Anticipation of rounding (θ before the centre of a rounded phone, 1/s) and carry-over.
    static let roundingAnticipation = 5.0
    static let roundingCarryOver = 12.0

    /// The shapes at frame times i / fps for i in 0..<frameCount.
    public func shapes(for phones: [Phone], frameCount: Int, fps: Double = 25) -> [MouthShape] {
        // Phones split into sub-segments (diphthongs glide between two targets).
        var segments: [Segment] = []
        for phone in phones {
            let parts = MouthModel.articulations(of: phone.phoneme)
            let step = (phone.end - phone.start) / Double(parts.count)
            for (k, part) in parts.enumerated() {
                segments.append(Segment(start: phone.start + step * Double(k), end: phone.start + step * Double(k + 1),
                                        centre: phone.start + step * (Double(k) + 0.5), articulation: part))
            }
        }
        if let coarticulation { segments = MouthModel.blendConsonants(segments, coarticulation) }
        return (0..<frameCount).map { i in
            let t = Double(i) / fps
            guard !segments.isEmpty else { return .rest }
            var jaw = 0.0, width = 0.0, round = 0.0, wJaw = 1e-6, wRound = 1e-6
            for (k, segment) in segments.enumerated() {
                let a = segment.articulation
                let dJaw: Double, dRound: Double
                if let c = coarticulation {
                    dJaw = MouthModel.jawDominance(segment, at: t, c)
                    dRound = MouthModel.roundDominance(segments, k, at: t, c)
                } else {
                    let d = t - segment.centre // < 0: the phone is still ahead
                    dJaw = a.jawDominance * exp(-a.rate * abs(d))
                    let theta = d < 0 && segment.isRounded ? MouthModel.roundingAnticipation
                                                           : MouthModel.roundingCarryOver
                    dRound = a.roundDominance * exp(-theta * abs(d))
                }
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

    /// Version 2 and 3 jaw and width dominance: vowels decay at `jawCarryOverRate` after their
    /// centre; in version 3 they dominate fully from `jawLead` before their start, and pauses
    /// hold theirs over their span.
    static func jawDominance(_ segment: Segment, at t: Double, _ c: Coarticulation) -> Double {
        let a = segment.articulation
        let d = t - segment.centre
        if let hold = c.pauseDominance, a.kind == .pause {
            return hold * exp(-a.rate * outside(t, segment.start, segment.end))
        }
        if let lead = c.jawLead, a.kind == .vowel, d <= 0 {
            return a.jawDominance * exp(-a.rate * outside(t, segment.start - lead, segment.centre))
        }
        let rate = d > 0 && a.kind == .vowel ? c.jawCarryOverRate : a.rate
        return a.jawDominance * exp(-rate * abs(d))
    }

    /// How far t lies outside [from, to] (0 inside).
    static func outside(_ t: Double, _ from: Double, _ to: Double) -> Double {
        t < from ? from - t : t > to ? t - to : 0
    }

    /// Version 2 rounding dominance of `segments[k]` at t. A rounded phone dominates fully on
    /// [start − lead, end + carry-over], both ends clipped at the neighbouring unrounded vowels
    /// (but never inside the phone itself), and fades at `roundingFade` outside; other phones
    /// keep version 1's dominance around their centre, except version 3's pauses, which hold it
    /// over their span.
    static func roundDominance(_ segments: [Segment], _ k: Int, at t: Double, _ c: Coarticulation) -> Double {
        let segment = segments[k], a = segment.articulation
        if let hold = c.pauseDominance, a.kind == .pause {
            return hold * exp(-MouthModel.roundingCarryOver * outside(t, segment.start, segment.end))
        }
        guard segment.isRounded else {
            return a.roundDominance * exp(-MouthModel.roundingCarryOver * abs(t - segment.centre))
        }
        func blocks(_ s: Segment) -> Bool { s.articulation.kind == .vowel && !s.isRounded }
        let previousVowelEnd = segments[..<k].last(where: blocks)?.end ?? -Double.infinity
        let nextVowelStart = segments[(k + 1)...].first(where: blocks)?.start ?? Double.infinity
        let from = max(segment.start - c.roundingLead, min(previousVowelEnd, segment.start))
        let to = min(segment.end + c.roundingCarryOver, max(nextVowelStart, segment.end))
        return a.roundDominance * exp(-c.roundingFade * outside(t, from, to))
    }

    /// Version 2 consonant targets: each lingual consonant's jaw and width move `consonantBlend`
    /// of the way to the vowel track, the previous and next vowel targets interpolated at its
    /// centre (a missing neighbour: the other one; none: unchanged).
    static func blendConsonants(_ segments: [Segment], _ c: Coarticulation) -> [Segment] {
        let vowels = segments.filter { $0.articulation.kind == .vowel }
        return segments.map { segment in
            guard segment.articulation.kind == .lingual else { return segment }
            let before = vowels.last { $0.centre < segment.centre }
            let after = vowels.first { $0.centre > segment.centre }
            let track: MouthShape
            switch (before, after) {
            case let (b?, a?):
                let f = (segment.centre - b.centre) / (a.centre - b.centre)
                let (p, q) = (b.articulation.target, a.articulation.target)
                track = MouthShape(jaw: p.jaw + f * (q.jaw - p.jaw), width: p.width + f * (q.width - p.width),
                                   rounding: 0)
            case let (b?, nil): track = b.articulation.target
            case let (nil, a?): track = a.articulation.target
            case (nil, nil): return segment
            }
            var blended = segment
            let own = segment.articulation.target
            blended.articulation.target.jaw = own.jaw + c.consonantBlend * (track.jaw - own.jaw)
            blended.articulation.target.width = own.width + c.consonantBlend * (track.width - own.width)
            return blended
        }
    }

    /// espeak-ng English mnemonics → articulation(s); two for diphthongs.
    static func articulations(of phoneme: String) -> [Articulation] {
        func v(_ jaw: Double, _ width: Double, _ round: Double) -> Articulation {
            Articulation(target: MouthShape(jaw: jaw, width: width, rounding: round),
                         jawDominance: 0.6, roundDominance: round > 0.5 ? 1.0 : 0.5, rate: 14, kind: .vowel)
        }
        func c(_ jaw: Double, _ width: Double, _ round: Double, jawDominance: Double = 0.5,
               roundDominance: Double = 0.08, kind: Articulation.Kind = .lingual) -> Articulation {
            Articulation(target: MouthShape(jaw: jaw, width: width, rounding: round),
                         jawDominance: jawDominance, roundDominance: roundDominance, rate: 22, kind: kind)
        }
        let open = v(0.85, 0.1, 0), mid = v(0.5, 0.1, 0), schwa = v(0.35, 0, 0)
        let spread = v(0.25, 0.7, 0), nearSpread = v(0.35, 0.45, 0)
        let rounded = v(0.3, -0.3, 1), openRounded = v(0.6, -0.2, 0.7), midRounded = v(0.45, -0.2, 0.8)
        let p = phoneme.filter { $0 != "'" && $0 != "," && $0 != "#" }
        if p.hasPrefix("_") || p.isEmpty {
            return [Articulation(target: .rest, jawDominance: 0.4, roundDominance: 0.4, rate: 10, kind: .pause)]
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
        case "p", "b", "m": return [c(0, 0, 0, jawDominance: 2.5, roundDominance: 0.15, kind: .other)]
        case "f", "v": return [c(0.08, 0.1, 0, jawDominance: 1.5, kind: .other)]
        case "T", "D": return [c(0.2, 0.1, 0)]
        case "t", "d", "n", "l", "s", "z", "t#", "d#", "n-", "l/", "L": return [c(0.15, 0.3, 0)]
        case "S", "Z", "tS", "dZ": return [c(0.15, -0.3, 0.6, roundDominance: 0.5, kind: .other)]
        case "k", "g", "N", "x": return [c(0.3, 0.1, 0)]
        case "r", "r-", "3:r": return [c(0.2, -0.2, 0.45, roundDominance: 0.3, kind: .other)]
        case "j": return [c(0.15, 0.5, 0)]
        case "w", "W": return [c(0.15, -0.5, 1, jawDominance: 0.6, roundDominance: 1.2, kind: .other)]
        case "h": return [c(0.4, 0, 0, jawDominance: 0.05, roundDominance: 0.02)]
        default:
            // Anything else: a vowel-looking mnemonic (first character) or a neutral consonant.
            if let first = p.first, "aAeE3@iIoOuUV0".contains(first) { return [mid] }
            return [c(0.2, 0.1, 0)]
        }
    }
}
