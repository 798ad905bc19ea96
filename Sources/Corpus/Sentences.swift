/// A small deterministic generator (SplitMix64), so that the same seed gives the same corpus on
/// every platform and Swift version (the standard library's generator promises neither).
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// A generator for one sub-stream (speaker, clip, ...), independent of the order of use.
    public init(seed: UInt64, stream: UInt64...) {
        var g = SeededGenerator(seed: seed)
        for s in stream { g = SeededGenerator(seed: g.next() ^ (s &* 0x9E37_79B9_7F4A_7C15)) }
        self = g
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform Double in [lo, hi), from the top 53 bits.
    public mutating func uniform(_ lo: Double, _ hi: Double) -> Double {
        lo + (hi - lo) * Double(next() >> 11) / Double(1 << 53)
    }

    /// A uniform index in 0..<n (n > 0).
    public mutating func index(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

/// How the demo corpus strings words together.
public enum Grammar: String, CaseIterable, Sendable {
    /// Words drawn independently from `SentenceGenerator.words`: no structure beyond the word, so
    /// a masked stretch of audio can be filled from its neighbours only through co-articulation.
    case words
    /// The GRID corpus's grammar (Cooke et al., 2006): command, colour, preposition, letter, digit,
    /// adverb, each from a small set, repeated. Its words are predictable from their position and
    /// their first sounds, so the context around a masked stretch says what was said in it.
    case grid
}

/// Sentences for the demo corpus, by `Grammar`.
public enum SentenceGenerator {
    /// The word list of `.words`: a mix of rounded (`who`, `two`, `show`), spread (`see`, `eat`),
    /// open (`father`, `hot`) and bilabial (`map`, `bob`) words so every mouth shape occurs often.
    public static let words: [String] = """
        the a we you they she he it this that my your our their who what when where why how
        see say seem speak keep need read eat sit give live make take play meet move lose choose
        go show know grow throw own hope home phone road boat coat slow low
        two too do new blue shoe food room moon soon school true group through June
        look book good could would should put push foot full wolf woman
        father heart park car star art calm palm far hard large
        hot top stop shop job rock box long song
        map man bad back happy apple black cat hand stand sand family
        bob baby people paper pepper maybe member number simple purple bubble mobile
        water morning before thought caught brought talk walk small ball call four door floor
        quick queen quiet question wine wind window white wheel world word work warm
        red bed yes yellow very ever every seven eleven better letter weather
        time light night nice right five nine my mind kind white
        open over under after river little city table summer winter
        fish dish measure usual vision chair church judge orange
        """.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)

    /// The six slots of `.grid`, in order. Letters are GRID's without A and I, which espeak-ng
    /// reads as the words "a" and "I" rather than as letter names.
    public static let gridSlots: [[String]] = [
        ["bin", "lay", "place", "set"],
        ["blue", "green", "red", "white"],
        ["at", "by", "in", "with"],
        "BCDEFGHJKLMNOPQRSTUVXYZ".map { String($0) },
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"],
        ["again", "now", "please", "soon"],
    ]

    /// `count` words drawn with `generator`, capitalised and ended with a full stop. `.grid`
    /// fills the slots in order and starts the next sentence after the sixth.
    public static func sentence(words count: Int, grammar: Grammar = .words,
                                using generator: inout SeededGenerator) -> String {
        var chosen: [String] = []
        for i in 0..<max(1, count) {
            switch grammar {
            case .words: chosen.append(words[generator.index(words.count)])
            case .grid:
                let slot = gridSlots[i % gridSlots.count]
                chosen.append(slot[generator.index(slot.count)])
            }
        }
        let text = chosen.joined(separator: " ")
        return text.prefix(1).uppercased() + text.dropFirst() + "."
    }
}
