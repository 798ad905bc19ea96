import Foundation
import Pipelines
import TestSupport
import XCTest

final class SplitRuleTests: XCTestCase {
    /// Three items per speaker `spk0` … `spk<n-1>`.
    private func items(speakers n: Int) -> [SourceItem] {
        (0..<n).flatMap { s in
            (0..<3).map { c in SourceItem(id: "spk\(s)/c\(c)", source: "spk\(s)/c\(c).mp4", speaker: "spk\(s)", split: "train") }
        }
    }

    private func splits(_ items: [SourceItem]) -> [String: Set<String>] {
        var out: [String: Set<String>] = [:]
        for item in items { out[item.speaker, default: []].insert(item.split) }
        return out
    }

    func testBySpeakerIsStableWhenDataIsAddedAndNeverSplitsASpeaker() {
        var rule = SplitRule()
        rule.by = "speaker"
        let before = splits(rule.assign(items(speakers: 300)))
        let after = splits(rule.assign(items(speakers: 900)))
        XCTAssertTrue(after.values.allSatisfy { $0.count == 1 }, "a speaker in two splits")
        for (speaker, split) in before { XCTAssertEqual(after[speaker], split, speaker) }
        // The shares are the rule's (900 speakers: binomial, 4 standard deviations).
        let test = Double(after.values.filter { $0 == ["test"] }.count) / 900
        let val = Double(after.values.filter { $0 == ["val"] }.count) / 900
        XCTAssertEqual(test, 0.1, accuracy: 0.04)
        XCTAssertEqual(val, 0.05, accuracy: 0.03)
        // Another seed is another split.
        rule.seed = 2
        XCTAssertNotEqual(splits(rule.assign(items(speakers: 300))), before)
    }

    func testNamedSpeakersAndTheDatasetsOwnSplit() {
        var rule = SplitRule()
        rule.testSpeakers = ["spk1"]
        rule.valSpeakers = ["spk2"]
        var listed = items(speakers: 4)
        listed[0].split = "pretrain"
        let assigned = rule.assign(listed)
        XCTAssertEqual(assigned.map(\.split), ["pretrain", "train", "train", "test", "test", "test", "val", "val", "val",
                                               "train", "train", "train"])
    }

    func testManifestKeys() throws {
        let text = """
            dataset: d
            adapter: {kind: folder}
            split: {by: speaker, test: 0.2, val: 0.1, seed: 7, test_speakers: [a]}
            stages: [decode: {}, face: {}, mel: {}, align: {}, shard: {}]
            """
        let m = try Manifest.parse(text, file: "m.yaml")
        XCTAssertEqual([m.split.by, "\(m.split.test)", "\(m.split.val)", "\(m.split.seed)"], ["speaker", "0.2", "0.1", "7"])
        XCTAssertEqual(m.split.testSpeakers, ["a"])
        XCTAssertEqual(try Manifest.parse(text.replacingOccurrences(of: "split: {by: speaker, test: 0.2, val: 0.1, seed: 7, test_speakers: [a]}\n", with: ""),
                                          file: "m.yaml").split, SplitRule())
        for (bad, message) in [("{by: clip}", "'by' is 'clip'"), ("{test: 0.8, val: 0.3}", "sum is at most 1"),
                               ("{tests: 0.1}", "unknown key 'tests'")] {
            XCTAssertThrowsError(try Manifest.parse(text.replacingOccurrences(of: "{by: speaker, test: 0.2, val: 0.1, seed: 7, test_speakers: [a]}", with: bad),
                                                    file: "m.yaml")) {
                XCTAssertTrue("\($0)".hasPrefix("m.yaml:3: ") && "\($0)".contains(message), "\($0)")
            }
        }
    }
}
