import Foundation

/// How a manifest assigns items to splits (`split:`; every key optional):
///
/// ```yaml
/// split:
///   by: speaker        # dataset (default): the adapter's split, from the dataset's own lists
///                      # or its options; speaker: a stable hash of the speaker id
///   test: 0.1          # by speaker: the share of speakers in test,
///   val: 0.05          # and in val (the rest: train)
///   seed: 1
///   test_speakers: []  # these speakers are test (val_speakers: val), whatever `by` says
///   val_speakers: []
/// ```
///
/// By speaker, a speaker's split depends only on its id and the seed (hash → a number in
/// [0, 1): below `test` is test, below `test + val` is val), so adding data never moves a
/// speaker, and all of a speaker's items share one split. An item without a speaker is its own.
public struct SplitRule: Codable, Equatable, Sendable, DefaultConstructible {
    public var by = "dataset"
    public var test = 0.1
    public var val = 0.05
    public var seed = 1
    public var testSpeakers: [String] = []
    public var valSpeakers: [String] = []
    public init() {}

    static let ways = ["dataset", "speaker"]

    /// The problem with the values, if any (for the manifest's error).
    var problem: String? {
        if !SplitRule.ways.contains(by) { return "'by' is '\(by)', not one of \(SplitRule.ways.joined(separator: ", "))" }
        if !(0...1).contains(test) || !(0...1).contains(val) || test + val > 1 {
            return "'test' and 'val' must be shares between 0 and 1 whose sum is at most 1"
        }
        if let both = testSpeakers.first(where: valSpeakers.contains) { return "speaker '\(both)' is in test_speakers and val_speakers" }
        return nil
    }

    /// Where a speaker id falls in [0, 1) for `seed`.
    public static func position(of speaker: String, seed: Int) -> Double {
        Double(stringHash64("\(seed)/\(speaker)") >> 11) / Double(1 << 53)
    }

    /// `items` with their splits set by this rule.
    public func assign(_ items: [SourceItem]) -> [SourceItem] {
        let testSet = Set(testSpeakers), valSet = Set(valSpeakers)
        return items.map { item in
            var item = item
            let speaker = item.speaker.isEmpty ? item.id : item.speaker
            if testSet.contains(speaker) {
                item.split = "test"
            } else if valSet.contains(speaker) {
                item.split = "val"
            } else if by == "speaker" {
                let p = SplitRule.position(of: speaker, seed: seed)
                item.split = p < test ? "test" : p < test + val ? "val" : "train"
            }
            return item
        }
    }
}
