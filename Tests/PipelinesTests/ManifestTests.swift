import Common
import Foundation
import Face
import Media
import Pipelines
import TestSupport
import XCTest

final class ManifestTests: XCTestCase {
    private let valid = """
        dataset: hdtf
        adapter:
          kind: hdtf
        stages:
          - decode: {}
          - face: {chin_margin: 0.25, min_iou: 0.5}
          - mel: {}
          - align: {}
          - shard: {}
        shards:
          target_bytes: 1000
        workers: 1
        """

    func testEveryShippedManifestParses() throws {
        let folder = TestEnv.repoRoot.appendingPathComponent("manifests")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".yaml") }
        XCTAssertEqual(Set(names), ["hdtf.yaml", "lrs2.yaml", "lrs3.yaml", "voxceleb2.yaml", "grid.yaml", "lrw.yaml",
                                    "folder.yaml", "demo.yaml"])
        for name in names {
            let manifest = try Manifest.load(folder.appendingPathComponent(name).path)
            XCTAssertEqual(manifest.dataset + ".yaml", name)
            XCTAssertEqual(manifest.adapter.kind.rawValue + ".yaml", name)
            XCTAssertEqual(manifest.shardTargetBytes, 1 << 30)
        }
    }

    func testTypedValuesAndDefaults() throws {
        let m = try Manifest.parse(valid, file: "m.yaml")
        XCTAssertEqual(m.stages[FaceStage.self].parameters.chinMargin, 0.25)
        XCTAssertEqual(m.stages[FaceStage.self].parameters.minIoU, 0.5)
        XCTAssertEqual(m.stages[FaceStage.self].parameters.cropSize, 128)  // default kept
        XCTAssertEqual(m.shardTargetBytes, 1000)
        XCTAssertEqual(m.workers, 1)
        XCTAssertEqual(m.itemTimeLimit, 900)
    }

    private func assertError(_ text: String, line: Int, contains needle: String,
                             file: StaticString = #filePath, sourceLine: UInt = #line) {
        XCTAssertThrowsError(try Manifest.parse(text, file: "bad.yaml"), file: file, line: sourceLine) { error in
            guard let e = error as? ManifestError else { return XCTFail("not a ManifestError: \(error)", file: file, line: sourceLine) }
            XCTAssertEqual(e.file, "bad.yaml", file: file, line: sourceLine)
            XCTAssertEqual(e.line, line, "\(e)", file: file, line: sourceLine)
            XCTAssertTrue(e.description.contains(needle), "\(e) lacks \(needle)", file: file, line: sourceLine)
            XCTAssertTrue(e.description.hasPrefix("bad.yaml:\(line): "), "\(e)", file: file, line: sourceLine)
        }
    }

    func testErrorsNameFileLineAndKey() {
        assertError(valid + "\ncolour: blue", line: 13, contains: "unknown key 'colour'")
        assertError(valid.replacingOccurrences(of: "workers: 1", with: "workers: two"), line: 12, contains: "key 'workers' must be an integer")
        assertError(valid.replacingOccurrences(of: "chin_margin: 0.25", with: "chin_margin: wide"), line: 6, contains: "key 'chin_margin' must be a number")
        assertError(valid.replacingOccurrences(of: "min_iou", with: "min_iou_typo"), line: 6, contains: "unknown key 'min_iou_typo'")
        assertError(valid.replacingOccurrences(of: "kind: hdtf", with: "kind: youtube"), line: 3, contains: "key 'kind' is 'youtube'")
        assertError(valid.replacingOccurrences(of: "kind: hdtf", with: "kind: hdtf\n  options: {sets: [main]}"), line: 4, contains: "unknown key 'sets'")
        assertError(valid.replacingOccurrences(of: "  - mel: {}\n", with: ""), line: 7, contains: "unexpected stage 'align'")
        assertError(valid.replacingOccurrences(of: "  - shard: {}\n", with: ""), line: 5, contains: "missing stage 'shard'")
        assertError(valid.replacingOccurrences(of: "target_bytes: 1000", with: "target_bytes: [1]"), line: 11, contains: "key 'target_bytes' must be an integer")
        assertError(valid.replacingOccurrences(of: "dataset: hdtf\n", with: ""), line: 1, contains: "missing key 'dataset'")
        assertError("dataset: [unclosed", line: 2, contains: "not valid YAML")
        assertError(valid.replacingOccurrences(of: "chin_margin: 0.25", with: "chin_margin: -1"), line: 6, contains: "chinMargin")
    }

    /// The face stage's key for the input key "decode-key": the Haar parameters encode as they
    /// did before detectors were named (FaceParameters with scaleFactor, minNeighbors and
    /// minFaceSize of its own), so a manifest saying `detector: haar` keys like the code then.
    /// Pinned for face stage version 5 (cnn's turned search; the version is the whole stage's);
    /// version 4 gave 78ae13e58b238f0b and a6c4be511ecab77a, version 3 288d8187518e7a05 and b9a864452752c93e,
    /// version 2 3e93a4f88eecdfd3 and ccb5fca456412b88, version 1 064b61ac88b1f0d2 and
    /// 4c658bf7cda919db. A manifest that names no detector
    /// gets `cnn`, the code default, and new outputs.
    func testHaarFaceStageKeepsTheKeysFromBeforeDetectorsWereNamed() throws {
        let haarKey = "81799c070f2506a0"
        // min_neighbors: 4, detection_long_side: 320, the rest default.
        let changedKey = "7a88a5049895c372"
        func faceKey(_ face: String) throws -> String {
            let text = valid.replacingOccurrences(of: "{chin_margin: 0.25, min_iou: 0.5}", with: face)
            return try Manifest.parse(text, file: "m.yaml").stages[FaceStage.self].key(input: "decode-key")
        }
        XCTAssertEqual(try faceKey("{detector: haar}"), haarKey)
        XCTAssertEqual(try faceKey("{detector: haar, min_neighbors: 5, detection_long_side: 480}"), haarKey)
        XCTAssertEqual(try faceKey("{detector: haar, detection_long_side: 320, min_neighbors: 4}"), changedKey)
        XCTAssertEqual(try demoManifest(detector: "haar").stages[FaceStage.self].key(input: "decode-key"), haarKey)
        XCTAssertNotEqual(try faceKey("{detector: haar, min_neighbors: 4}"), haarKey)
        // No detector named: cnn, the demo manifest's detector too, with keys of its own.
        let demo = try Manifest.load(TestEnv.repoRoot.appendingPathComponent("manifests/demo.yaml").path)
        XCTAssertEqual(demo.stages[FaceStage.self].parameters.detector.name, "cnn")
        let defaultKey = PipelineStages()[FaceStage.self].key(input: "decode-key")
        XCTAssertEqual(PipelineStages()[FaceStage.self].parameters.detector.name, "cnn")
        XCTAssertEqual(try faceKey("{}"), defaultKey)
        XCTAssertEqual(try faceKey("{detector: cnn}"), defaultKey)
        XCTAssertNotEqual(defaultKey, haarKey)
    }

    func testFaceStageDetectorIsNamedAndItsParametersRead() throws {
        let text = valid.replacingOccurrences(of: "{chin_margin: 0.25, min_iou: 0.5}",
                                              with: "{detector: haar, min_neighbors: 3, scale_factor: 1.2, chin_margin: 0.25}")
        let face = try Manifest.parse(text, file: "m.yaml").stages[FaceStage.self]
        XCTAssertEqual(face.parameters.detector.name, "haar")
        let haar = try XCTUnwrap(face.parameters.detector.parameters as? HaarFaceDetector.Parameters)
        XCTAssertEqual(haar.minNeighbors, 3)
        XCTAssertEqual(haar.scaleFactor, 1.2)
        XCTAssertEqual(haar.minFaceSize, 32)  // default kept
        XCTAssertEqual(face.parameters.chinMargin, 0.25)
        let detector = try XCTUnwrap(try face.makeDetector() as? HaarFaceDetector)
        XCTAssertEqual(detector.parameters, haar)
        // crop_rotation (off by default) is read and keys the stage.
        let turning = try Manifest.parse(valid.replacingOccurrences(of: "{chin_margin: 0.25, min_iou: 0.5}", with: "{crop_rotation: true}"),
                                         file: "m.yaml").stages[FaceStage.self]
        XCTAssertTrue(turning.parameters.cropRotation)
        XCTAssertFalse(face.parameters.cropRotation)
        XCTAssertNotEqual(turning.key(input: "decode-key"), PipelineStages()[FaceStage.self].key(input: "decode-key"))
    }

    func testUnknownDetectorOrBadDetectorParameterIsAManifestError() {
        func face(_ text: String) -> String {
            valid.replacingOccurrences(of: "{chin_margin: 0.25, min_iou: 0.5}", with: text)
        }
        assertError(face("{detector: mtcnn}"), line: 6, contains: "key 'detector' is 'mtcnn', not one of haar, cnn")
        assertError(face("{detector: cnn, min_neighbors: 3}"), line: 6, contains: "unknown key 'min_neighbors'")
        assertError(face("{detector: cnn, pyramid_factor: 1.5}"), line: 6, contains: "pyramidFactor must be in (0, 1)")
        assertError(face("{detector: ''}"), line: 6, contains: "key 'detector' must be a non-empty string")
        assertError(face("{detector: haar, min_neighbors: many}"), line: 6, contains: "key 'min_neighbors' must be an integer")
        assertError(face("{detector: haar, min_neighbors: -1}"), line: 6, contains: "minNeighbors must be >= 0")
        assertError(face("{min_neighbors: 3}"), line: 6, contains: "unknown key 'min_neighbors'")   // the default detector is cnn
        assertError(face("{detector: haar, score_threshold: 0.5}"), line: 6, contains: "unknown key 'score_threshold'")
    }

    func testParameterChangeChangesKeysFromThatStageOn() throws {
        let a = try Manifest.parse(valid, file: "a").stages
        let b = try Manifest.parse(valid.replacingOccurrences(of: "0.25", with: "0.3"), file: "b").stages
        let ka = a.keys(fingerprint: "f"), kb = b.keys(fingerprint: "f")
        XCTAssertEqual(ka.map(\.stage), ["decode", "face", "mel", "align", "shard"])
        XCTAssertEqual(ka[0].key, kb[0].key)
        for i in 1..<5 { XCTAssertNotEqual(ka[i].key, kb[i].key) }
        XCTAssertNotEqual(a.keys(fingerprint: "g").last!.key, ka.last!.key)
        XCTAssertEqual(a.keys(fingerprint: "f").last!.key, ka.last!.key)
    }

    /// The damage limit decides which items pass, not their rows: parsed, checked, and not keyed.
    func testDamageLimitIsReadButDoesNotChangeKeys() throws {
        let strict = valid.replacingOccurrences(of: "- decode: {}", with: "- decode: {max_damaged_fraction: 0.1, strict: true}")
        let stages = try Manifest.parse(strict, file: "m.yaml").stages
        XCTAssertEqual(stages[DecodeStage.self].damageLimit.maxDamagedFraction, 0.1)
        XCTAssertTrue(stages[DecodeStage.self].damageLimit.strict)
        XCTAssertEqual(try Manifest.parse(valid, file: "m.yaml").stages[DecodeStage.self].damageLimit, DamageBound())
        XCTAssertEqual(stages.keys(fingerprint: "f").map(\.key),
                       try Manifest.parse(valid, file: "m.yaml").stages.keys(fingerprint: "f").map(\.key))
        assertError(valid.replacingOccurrences(of: "- decode: {}", with: "- decode: {max_damaged_fraction: 2}"), line: 5,
                    contains: "'max_damaged_fraction' must be between 0 and 1")
    }

    /// The example in Manifest.swift's documentation is a manifest the parser takes.
    func testDocumentationExampleParses() throws {
        let source = try String(contentsOf: TestEnv.repoRoot.appendingPathComponent("Pipelines/Manifest.swift"), encoding: .utf8)
        let lines = source.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let open = lines.firstIndex(of: "/// ```yaml"),
              let close = lines[(open + 1)...].firstIndex(of: "/// ```") else { return XCTFail("no yaml example in Manifest.swift") }
        let example = lines[(open + 1)..<close].map { String($0.dropFirst(4)) }.joined(separator: "\n")
        let manifest = try Manifest.parse(example, file: "Manifest.swift example")
        XCTAssertEqual(manifest.stages.all.map { type(of: $0).name }, PipelineStages.order)
        XCTAssertEqual(manifest.stages[FaceStage.self].parameters.chinMargin, 0.1)
        XCTAssertEqual(manifest.stages[DecodeStage.self].damageLimit.maxDamagedFraction, 0.02)
    }

    /// manifests/demo.yaml with its face stage's detector replaced by `detector`.
    func demoManifest(detector: String) throws -> Manifest {
        let path = TestEnv.repoRoot.appendingPathComponent("manifests/demo.yaml").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertTrue(text.contains("detector: cnn"))
        return try Manifest.parse(text.replacingOccurrences(of: "detector: cnn", with: "detector: \(detector)"), file: path)
    }

    /// Keys of manifests/demo.yaml's stages (with the Haar detector it named then) for item
    /// `spk/c1`, content fingerprint bfbeed62f28ad8c0. Pinned for face stage version 5: the
    /// decode key is the one of the runs made before the stage registry recorded keys; the face
    /// stage and every stage after it were re-keyed by version 5 (version 4: d0836952a4a79fba,
    /// a343ad34d869c15e, 933ba945c6a88d60, 346befffad0855dc; version 3: 860e46507e3a1a0d,
    /// b7ff4ffe36f249f3, 7b292c7e4453e44f, b2bbcb88e734f807; version 2: e32d712e48d9ed7b,
    /// fed16ef751e5500d, f610143c6cd5b1e9, 8fbc754511804f02; version 1: 76249a43b51c4f38,
    /// ec4ee40f85150454, 0a9a70b7dc71cb42, 8bf8576bcd69c114).
    func testDemoManifestKeepsTheKeysOfEarlierRuns() throws {
        let demo = try demoManifest(detector: "haar")
        let keys = demo.stages.keys(fingerprint: "bfbeed62f28ad8c0")
        XCTAssertEqual(keys.map(\.stage), ["decode", "face", "mel", "align", "shard"])
        XCTAssertEqual(keys.map(\.key), ["57e730ef5d8e66c2", "973a3d8fa1580252", "7feb0a7cfeb6de7b", "59384a5f5036014a",
                                         "c3d11ff23180984f"])
    }

    /// Reading and replacing a stage by its type; `description` names every registered stage.
    func testStagesAreReachedByTypeAndDescribedInRegistryOrder() throws {
        var stages = PipelineStages()
        var face = FaceParameters()
        face.chinMargin = 0.3
        stages[FaceStage.self] = FaceStage(parameters: face)
        XCTAssertEqual(stages[FaceStage.self].parameters.chinMargin, 0.3)
        XCTAssertNotEqual(stages.keys(fingerprint: "f")[1].key, PipelineStages().keys(fingerprint: "f")[1].key)
        let described = try JSONSerialization.jsonObject(with: Data(stages.description.utf8)) as? [String: [String: Any]]
        XCTAssertEqual(described.map { Set($0.keys) }, Set(PipelineStages.order))
        XCTAssertEqual(described?["face"]?["version"] as? Int, FaceStage.version)
    }
}
