import Common
import Foundation
import Shards
import TestSupport
import XCTest

/// What h5py sees in a file (from golden/describe_h5.py).
struct H5Description: Decodable {
    struct Dataset: Decodable {
        let shape: [Int]
        let dtype: String
        let chunks: [Int]?
        let compression: String?
        let sum: Double?
        let head: [Double]?
        let values: [String]?
    }
    let datasets: [String: Dataset]
    let attrs: [String: AttributeValue]
    let xxh64: String

    enum AttributeValue: Decodable, Equatable {
        case string(String), number(Double), numbers([Double])
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let s = try? c.decode(String.self) { self = .string(s) }
            else if let d = try? c.decode(Double.self) { self = .number(d) }
            else { self = .numbers(try c.decode([Double].self)) }
        }
    }

    static func of(_ path: String) throws -> H5Description {
        let json = try runPython("Tests/ShardsTests/golden/describe_h5.py", [path])
        return try JSONDecoder().decode(H5Description.self, from: Data(json.utf8))
    }
}

/// Deterministic test content: frame `row` of an item, and its audio unit.
func testFrame(_ row: Int) -> RGBImage {
    RGBImage(width: 128, height: 128, pixels: (0..<(128 * 128 * 3)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ row &* 13) })
}

func testMel(_ row: Int) -> [Float] { (0..<320).map { Float(row) + Float($0) / 320 } }

func frameSum(_ rows: Range<Int>) -> Double {
    rows.reduce(0.0) { $0 + testFrame($1).pixels.reduce(0.0) { $0 + Double($1) } }
}

func melSum(_ rows: Range<Int>) -> Double {
    rows.reduce(0.0) { $0 + testMel($1).reduce(0.0) { $0 + Double($1) } }
}

final class ShardsTests: XCTestCase {
    /// Writes a shard of three items (10, 7 and 5 rows), with one item discarded half-way.
    func writeShard(_ path: String) throws -> ShardSummary {
        let writer = try ShardWriter(path: path, parameters: #"{"crop":{"margin":0.2}}"#, creator: "cals test")
        var row = 0
        for (index, rows) in [10, 7, 5].enumerated() {
            if index == 1 {
                writer.beginItem(ShardItem(id: "broken", source: "b.mp4", fingerprint: "f0", speaker: "s", split: "train"))
                for r in 0..<3 { try writer.append(frame: testFrame(100 + r), frameIndex: 100 + r) }
                try writer.discardItem()
            }
            writer.beginItem(ShardItem(id: "item\(index)", source: "/data/clip \(index).mp4", fingerprint: "fp\(index)",
                                       speaker: "spk\(index % 2)", split: index == 2 ? "val" : "train",
                                       videoDamage: StreamDamage(packets: 30 + index, undecodable: index),
                                       audioDamage: StreamDamage(packets: 50, undecodable: 2 * index, firstSecondLost: index == 2)))
            for r in row..<(row + rows) { try writer.append(frame: testFrame(r), frameIndex: 2 * r) }
            try writer.append(melUnits: (row..<(row + rows)).flatMap(testMel))
            try writer.endItem()
            row += rows
        }
        XCTAssertGreaterThan(writer.bytesWritten, 0)
        return try writer.finish()
    }

    func testShardIsReadByH5pyAndByTheReader() throws {
        let dir = ScratchDir("shard")
        let path = dir.path("s-0001.h5")
        let summary = try writeShard(path)
        XCTAssertEqual(summary.rows, 22)
        XCTAssertEqual(summary.items.map(\.rows), [0..<10, 10..<17, 17..<22])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.url.path), ["s-0001.h5"],
                       "no temporary file may remain")

        let h5 = try H5Description.of(path)
        XCTAssertEqual(summary.checksum, h5.xxh64)
        XCTAssertEqual(h5.attrs["format"], .string("cals-shard"))
        XCTAssertEqual(h5.attrs["format_version"], .number(Double(ShardFormat.version)))
        XCTAssertEqual(h5.attrs["creator"], .string("cals test"))
        XCTAssertEqual(h5.attrs["parameters"], .string(#"{"crop":{"margin":0.2}}"#))
        let frames = try XCTUnwrap(h5.datasets["frames"])
        XCTAssertEqual(frames.shape, [22, 128, 128, 3])
        XCTAssertEqual(frames.dtype, "uint8")
        XCTAssertEqual(frames.chunks, [1, 128, 128, 3])
        XCTAssertEqual(frames.compression, "gzip")
        XCTAssertEqual(frames.sum, frameSum(0..<22))
        let mel = try XCTUnwrap(h5.datasets["mel"])
        XCTAssertEqual(mel.shape, [22, 80, 4])
        XCTAssertEqual(mel.dtype, "float32")
        XCTAssertEqual(mel.sum!, melSum(0..<22), accuracy: 1e-3)
        XCTAssertEqual(mel.head, testMel(0).prefix(8).map(Double.init))
        XCTAssertEqual(h5.datasets["items/id"]?.values, ["item0", "item1", "item2"])
        XCTAssertEqual(h5.datasets["items/source"]?.values, ["/data/clip 0.mp4", "/data/clip 1.mp4", "/data/clip 2.mp4"])
        XCTAssertEqual(h5.datasets["items/split"]?.values, ["train", "train", "val"])
        XCTAssertEqual(h5.datasets["items/first_row"]?.head, [0, 10, 17])
        XCTAssertEqual(h5.datasets["items/row_count"]?.head, [10, 7, 5])
        XCTAssertEqual(h5.datasets["items/row_count"]?.dtype, "int64")
        // Version 2: each row's source frame, each item's decode damage.
        XCTAssertEqual(h5.datasets["frame_index"]?.shape, [22])
        XCTAssertEqual(h5.datasets["frame_index"]?.dtype, "int64")
        XCTAssertEqual(h5.datasets["frame_index"]?.head, (0..<8).map { Double(2 * $0) })
        XCTAssertEqual(h5.datasets["frame_index"]?.sum, Double((0..<22).reduce(0) { $0 + 2 * $1 }))
        XCTAssertEqual(h5.datasets["items/video_packets"]?.head, [30, 31, 32])
        XCTAssertEqual(h5.datasets["items/video_undecodable"]?.head, [0, 1, 2])
        XCTAssertEqual(h5.datasets["items/audio_undecodable"]?.head, [0, 2, 4])
        XCTAssertEqual(h5.datasets["items/audio_first_second_lost"]?.head, [0, 0, 1])
        XCTAssertEqual(h5.datasets["items/audio_packets"]?.dtype, "int64")

        let reader = try ShardReader(path: path)
        XCTAssertEqual(reader.formatVersion, ShardFormat.version)
        XCTAssertEqual(reader.items, summary.items)
        XCTAssertEqual(reader.items[2].audioDamage, StreamDamage(packets: 50, undecodable: 4, firstSecondLost: true))
        XCTAssertEqual(try reader.frameIndices(rows: 10..<13), [20, 22, 24])
        XCTAssertEqual(reader.rowCount, 22)
        XCTAssertEqual(reader.parameters, #"{"crop":{"margin":0.2}}"#)
        let item = try XCTUnwrap(reader.item(id: "item1"))
        XCTAssertEqual(item.speaker, "spk1")
        let window = try reader.window(item, offset: 2, length: 5)
        XCTAssertEqual(window.frames, (12..<17).flatMap { testFrame($0).pixels })
        XCTAssertEqual(window.mel, (12..<17).flatMap(testMel))
        XCTAssertThrowsError(try reader.window(item, offset: 3, length: 5)) { error in
            XCTAssertTrue("\(error)".contains("outside item item1"), "\(error)")
        }
    }

    func testParallelReadersAndWritersDoNotInterfere() throws {
        let dir = ScratchDir("parallel")
        let path = dir.path("s.h5")
        _ = try writeShard(path)
        let readers = [try ShardReader(path: path), try ShardReader(path: path)]
        let failures = NSLock()
        var errors: [String] = []
        DispatchQueue.concurrentPerform(iterations: 6) { task in
            do {
                if task % 3 == 2 {  // a writer beside the readers
                    _ = try writeShard(dir.path("w\(task).h5"))
                    return
                }
                let reader = readers[task % 2]
                for i in 0..<40 {
                    let item = reader.items[(task + i) % 3]
                    let offset = i % (item.rowCount - 4)
                    let window = try reader.window(item, offset: offset, length: 4)
                    let rows = (item.firstRow + offset)..<(item.firstRow + offset + 4)
                    if window.mel != rows.flatMap(testMel) || window.frames != rows.flatMap({ testFrame($0).pixels }) {
                        throw InputErrorForTests("task \(task): window \(rows) differs")
                    }
                }
            } catch {
                failures.lock(); errors.append("\(error)"); failures.unlock()
            }
        }
        XCTAssertEqual(errors, [])
        XCTAssertEqual(try ShardReader(path: dir.path("w2.h5")).items, readers[0].items)
    }

    func testExtractFileIsReadByH5py() throws {
        let dir = ScratchDir("extract")
        let path = dir.path("clip.h5")
        let writer = try ExtractFileWriter(path: path, source: "/videos/clip.mp4", parameters: #"{"margin":0.2}"#,
                                           attributes: ["detector": .string("haar"), "scales": .doubles([1, 1.5])])
        for r in 0..<12 { try writer.append(frame: testFrame(r), box: [Int32(r), 20, 64, 64], segment: r / 6, frameIndex: 3 + r) }
        try writer.append(melUnits: (0..<12).flatMap(testMel))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path), "visible before finish")
        XCTAssertEqual(try writer.finish().rows, 12)

        let h5 = try H5Description.of(path)
        XCTAssertEqual(h5.attrs["format"], .string("cals-extract"))
        XCTAssertEqual(h5.attrs["source"], .string("/videos/clip.mp4"))
        XCTAssertEqual(h5.attrs["fps"], .number(25))
        XCTAssertEqual(h5.attrs["sample_rate"], .number(16000))
        XCTAssertEqual(h5.attrs["detector"], .string("haar"))
        XCTAssertEqual(h5.attrs["scales"], .numbers([1, 1.5]))
        XCTAssertEqual(h5.datasets["frames"]?.shape, [12, 128, 128, 3])
        XCTAssertEqual(h5.datasets["frames"]?.sum, frameSum(0..<12))
        XCTAssertEqual(h5.datasets["mel"]?.shape, [12, 80, 4])
        XCTAssertEqual(h5.datasets["mel"]?.dtype, "float32")
        XCTAssertEqual(h5.datasets["boxes"]?.shape, [12, 4])
        XCTAssertEqual(h5.datasets["boxes"]?.dtype, "int32")
        XCTAssertEqual(h5.datasets["boxes"]?.head, [0, 20, 64, 64, 1, 20, 64, 64])
        XCTAssertEqual(h5.datasets["segment"]?.shape, [12])
        XCTAssertEqual(h5.datasets["segment"]?.dtype, "int32")
        XCTAssertEqual(h5.datasets["segment"]?.sum, 6)
        XCTAssertEqual(h5.datasets["frame_index"]?.dtype, "int64")
        XCTAssertEqual(h5.datasets["frame_index"]?.head, (3..<11).map(Double.init))
        XCTAssertEqual(h5.attrs["video_undecodable"], .number(0))
        XCTAssertEqual(h5.attrs["audio_packets"], .number(0))
    }

    /// A version 1 shard (written by h5py the way version 1 writers did) still reads: no frame
    /// indices, no damage.
    func testVersionOneShardStillReads() throws {
        let dir = ScratchDir("v1")
        let path = dir.path("v1.h5")
        try runPython("Tests/ShardsTests/golden/describe_h5.py", ["make-v1", path])
        let reader = try ShardReader(path: path)
        XCTAssertEqual(reader.formatVersion, 1)
        XCTAssertEqual(reader.items.map(\.id), ["a", "b"])
        XCTAssertEqual(reader.items.map(\.rows), [0..<3, 3..<5])
        XCTAssertEqual(reader.items[1].videoDamage, StreamDamage())
        XCTAssertNil(try reader.frameIndices(rows: 0..<5))
        let window = try reader.window(reader.items[1], offset: 0, length: 2)
        XCTAssertEqual(window.frames, [UInt8](repeating: 3, count: 49152) + [UInt8](repeating: 4, count: 49152))
        XCTAssertEqual(window.mel, [Float](repeating: 3, count: 320) + [Float](repeating: 4, count: 320))
    }

    func testExtractFileNeedsAlignedRows() throws {
        let dir = ScratchDir("extract")
        let writer = try ExtractFileWriter(path: dir.path("x.h5"), source: "x.mp4", parameters: "{}")
        try writer.append(frame: testFrame(0), box: [0, 0, 1, 1], segment: 0, frameIndex: 0)
        XCTAssertThrowsError(try writer.finish()) { XCTAssertTrue("\($0)".contains("1 frames but 0 mel units"), "\($0)") }
    }

    /// A column a stage adds to the rows lands as its own dataset, aligned with the frames; an
    /// item that does not give it leaves the shard misaligned, which `endItem` refuses.
    func testAddedColumnIsStoredPerRowAndMustCoverEveryItem() throws {
        let dir = ScratchDir("columns")
        let writer = try ShardWriter(path: dir.path("c.h5"), parameters: "{}", creator: "cals test")
        var row = 0
        for rows in [3, 2] {
            writer.beginItem(ShardItem(id: "i\(row)", source: "s.mp4", fingerprint: "f", speaker: "s", split: "train"))
            for r in row..<(row + rows) {
                try writer.append(frame: testFrame(r), frameIndex: r)
                try writer.append(melUnits: testMel(r))
            }
            try writer.append(column: "landmarks", rowShape: [2, 3], values: (row * 6 ..< (row + rows) * 6).map(Float.init))
            try writer.endItem()
            row += rows
        }
        writer.beginItem(ShardItem(id: "without", source: "s.mp4", fingerprint: "f", speaker: "s", split: "train"))
        try writer.append(frame: testFrame(9), frameIndex: 9)
        try writer.append(melUnits: testMel(9))
        XCTAssertThrowsError(try writer.endItem()) { XCTAssertTrue("\($0)".contains("6 frames but 5 rows of landmarks"), "\($0)") }
        try writer.discardItem()
        try writer.finish()
        let file = try HDF5File(readingAt: dir.path("c.h5"))
        let landmarks = try file.dataset("landmarks")
        XCTAssertEqual(landmarks.shape, [5, 2, 3])
        XCTAssertEqual(try landmarks.read(rows: 0..<5) as [Float], (0..<30).map(Float.init))
        XCTAssertEqual(try ShardReader(path: dir.path("c.h5")).rowCount, 5)
    }

    /// Boxes given per item land in `boxes` int32 [N, 4]; an item that gives none once the shard
    /// has them is refused, and a discarded item's boxes go with it.
    func testShardBoxesCoverEveryItem() throws {
        let dir = ScratchDir("shard-boxes")
        let writer = try ShardWriter(path: dir.path("b.h5"), parameters: "{}", creator: "cals test")
        for (item, rows) in [(0, 0..<3), (1, 3..<5)] {
            writer.beginItem(ShardItem(id: "i\(item)", source: "s.mp4", fingerprint: "f", speaker: "s", split: "train"))
            for r in rows {
                try writer.append(frame: testFrame(r), frameIndex: r)
                try writer.append(melUnits: testMel(r))
            }
            try writer.append(boxes: rows.flatMap { [Int32($0), 20, 64, 60] })
            try writer.endItem()
        }
        writer.beginItem(ShardItem(id: "without", source: "s.mp4", fingerprint: "f", speaker: "s", split: "train"))
        try writer.append(frame: testFrame(9), frameIndex: 9)
        try writer.append(melUnits: testMel(9))
        XCTAssertThrowsError(try writer.endItem()) { XCTAssertTrue("\($0)".contains("6 frames but 5 boxes"), "\($0)") }
        try writer.discardItem()
        writer.beginItem(ShardItem(id: "dropped", source: "s.mp4", fingerprint: "f", speaker: "s", split: "train"))
        try writer.append(frame: testFrame(7), frameIndex: 7)
        try writer.append(boxes: [7, 7, 7, 7])
        try writer.discardItem()
        try writer.finish()
        let h5 = try H5Description.of(dir.path("b.h5"))
        XCTAssertEqual(h5.datasets["boxes"]?.shape, [5, 4])
        XCTAssertEqual(h5.datasets["boxes"]?.dtype, "int32")
        XCTAssertEqual(h5.datasets["boxes"]?.head, [0, 20, 64, 60, 1, 20, 64, 60])
        let sum: Double = 10 + 5 * 144   // x 0...4, then 20 + 64 + 60 per row
        XCTAssertEqual(h5.datasets["boxes"]?.sum, sum)
    }

    func testDroppedWritersLeaveNothing() throws {
        let dir = ScratchDir("dropped")
        do {
            let shard = try ShardWriter(path: dir.path("a.h5"), parameters: "{}", creator: "test")
            shard.beginItem(ShardItem(id: "x", source: "x", fingerprint: "x", speaker: "x", split: "train"))
            try shard.append(frame: testFrame(0), frameIndex: 0)
            let extract = try ExtractFileWriter(path: dir.path("b.h5"), source: "b.mp4", parameters: "{}")
            try extract.append(frame: testFrame(0), box: [0, 0, 1, 1], segment: 0, frameIndex: 0)
            let units = try LipUnitWriter(path: dir.path("c.h5"), frameShard: "a.h5", checkpoint: "abc", creator: "test")
            try units.append(units: [Float](repeating: 1, count: 1024))
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.url.path).count, 3,
                           "three temporary files while writing")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.url.path), [])
    }

    func testSameRowsGiveTheSameBytes() throws {
        let dir = ScratchDir("repeat")
        let first = try writeShard(dir.path("a.h5"))
        sleep(1)  // a timestamp in the file would now differ
        let second = try writeShard(dir.path("b.h5"))
        XCTAssertEqual(first.checksum, second.checksum)
        XCTAssertEqual(first.bytes, second.bytes)
    }

    func testWritersRefuseToReplaceAFile() throws {
        let dir = ScratchDir("exists")
        let path = dir.path("s.h5")
        _ = try writeShard(path)
        XCTAssertThrowsError(try ShardWriter(path: path, parameters: "{}", creator: "test")) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(path): output file exists"), "\(error)")
        }
    }

    func testLipUnitShardsInBothPrecisions() throws {
        let dir = ScratchDir("units")
        let values: [Float] = (0..<(6 * 1024)).map { (i: Int) -> Float in Float(i % 1024) / 1024 - Float(i / 1024) }
        for half in [false, true] {
            let path = dir.path(half ? "u16.h5" : "u32.h5")
            let writer = try LipUnitWriter(path: path, frameShard: "s-0001.h5", checkpoint: "sha256:beef",
                                           creator: "test", half: half)
            try writer.append(units: Array(values[0..<2048]))
            try writer.append(units: Array(values[2048...]))
            let summary = try writer.finish()
            XCTAssertEqual(summary.rows, 6)

            let h5 = try H5Description.of(path)
            XCTAssertEqual(h5.datasets["units"]?.shape, [6, 1024])
            XCTAssertEqual(h5.datasets["units"]?.dtype, half ? "float16" : "float32")
            XCTAssertEqual(h5.attrs["frame_shard"], .string("s-0001.h5"))
            XCTAssertEqual(h5.attrs["checkpoint"], .string("sha256:beef"))
            XCTAssertEqual(h5.datasets["units"]!.sum!, values.reduce(0.0) { $0 + Double($1) }, accuracy: half ? 0.5 : 1e-3)

            let reader = try LipUnitReader(path: path)
            XCTAssertEqual(reader.rowCount, 6)
            XCTAssertEqual(reader.frameShard, "s-0001.h5")
            let back = try reader.units(rows: 1..<4)
            for (a, b) in zip(back, values[1024..<(4 * 1024)]) { XCTAssertEqual(a, b, accuracy: half ? 4e-3 : 0) }
        }
    }

    func testDamagedAndForeignFilesGiveInputErrors() throws {
        let dir = ScratchDir("bad")
        let good = dir.path("good.h5")
        _ = try writeShard(good)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: good))

        func expectInputError(_ path: String, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try ShardReader(path: path), file: file, line: line) { error in
                guard let error = error as? InputError else { return XCTFail("not an InputError: \(error)", file: file, line: line) }
                XCTAssertEqual(error.path, path, file: file, line: line)
                XCTAssertTrue(error.reason.contains(fragment), "\(error)", file: file, line: line)
                XCTAssertFalse(error.description.contains("\n"), "one line: \(error)", file: file, line: line)
            }
        }

        expectInputError(dir.path("missing.h5"), "no such file")
        _ = FileManager.default.createFile(atPath: dir.path("empty.h5"), contents: Data())
        expectInputError(dir.path("empty.h5"), "empty file")
        var random = SystemRandomNumberGenerator()
        _ = FileManager.default.createFile(atPath: dir.path("random.h5"),
                                       contents: Data((0..<100_000).map { _ in UInt8.random(in: 0...255, using: &random) }))
        expectInputError(dir.path("random.h5"), "file signature not found")
        for fraction in [0.5, 0.9, 0.999] {
            let torn = dir.path("torn-\(fraction).h5")
            _ = FileManager.default.createFile(atPath: torn, contents: bytes.prefix(Int(Double(bytes.count) * fraction)))
            expectInputError(torn, "truncated")
        }
        let newer = dir.path("newer.h5")
        try runPython("Tests/ShardsTests/golden/describe_h5.py", ["make-foreign", newer, "99"])
        expectInputError(newer, "cals-shard format version 99; this cals reads versions 1 to \(ShardFormat.version)")
        let incomplete = dir.path("incomplete.h5")
        try runPython("Tests/ShardsTests/golden/describe_h5.py", ["make-foreign", incomplete, "1"])
        expectInputError(incomplete, "no dataset 'mel'")
        let extract = dir.path("extract.h5")
        let writer = try ExtractFileWriter(path: extract, source: "x.mp4", parameters: "{}")
        try writer.append(frame: testFrame(0), box: [0, 0, 1, 1], segment: 0, frameIndex: 0)
        try writer.append(melUnits: testMel(0))
        try writer.finish()
        expectInputError(extract, "not a cals-shard file")
    }

    func testAttributesRoundTripAndErrorsCarryHDF5Messages() throws {
        let dir = ScratchDir("hdf5")
        let path = dir.path("a.h5")
        let values: [String: HDF5Attribute] = ["s": .string("héllo"), "i": .int(-7), "d": .double(2.5),
                                               "is": .ints([1, 2, 3]), "ds": .doubles([0.5, -1])]
        do {
            let file = try HDF5File(creating: path)
            for (name, value) in values { try file.setAttribute(name, value) }
            try file.setAttribute("i", .int(8))  // replaces
            let data = try file.createDataset("x", type: .int32, shape: [4, 2])
            try data.write([Int32](0..<8), atRow: 0)
            try data.setAttribute("unit", .string("px"))
            XCTAssertThrowsError(try data.write([Int32](0..<4), atRow: 3)) { error in
                XCTAssertTrue("\(error)".contains("H5Dset_extent"), "\(error)")  // fixed-size dataset
            }
            XCTAssertThrowsError(try file.createDataset("x", type: .int32, shape: [1])) { error in
                XCTAssertTrue("\(error)".contains("already exists"), "\(error)")
            }
        }
        let file = try HDF5File(readingAt: path)
        for (name, value) in values where name != "i" { XCTAssertEqual(try file.attribute(name), value) }
        XCTAssertEqual(try file.attribute("i"), .int(8))
        XCTAssertNil(try file.attribute("nope"))
        let data = try file.dataset("x")
        XCTAssertEqual(data.shape, [4, 2])
        XCTAssertEqual(try data.read(rows: 1..<3) as [Int32], [2, 3, 4, 5])
        XCTAssertEqual(try data.attribute("unit"), .string("px"))
        XCTAssertThrowsError(try file.dataset("missing")) { XCTAssertTrue("\($0)".contains("H5Dopen2"), "\($0)") }
        XCTAssertThrowsError(try HDF5File(creating: path)) { XCTAssertTrue("\($0)".contains("unable to create file"), "\($0)") }
    }

    func testChecksumMatchesXXH64OnAllTailLengths() throws {
        let dir = ScratchDir("hash")
        for size in [0, 1, 3, 4, 7, 8, 31, 32, 33, 63, 100, 5_000_017] {
            let path = dir.path("f\(size)")
            _ = FileManager.default.createFile(atPath: path, contents: Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }))
            let python = try TestSupport.run(TestEnv.python, ["-c", "import sys, xxhash; print(xxhash.xxh64(open(sys.argv[1], 'rb').read()).hexdigest())", path])
            XCTAssertEqual(try fileChecksum(path), python.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "size \(size)")
        }
    }
}
