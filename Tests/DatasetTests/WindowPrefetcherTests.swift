import Common
import Dataset
import Foundation
import Shards
import TestSupport
import XCTest

final class WindowPrefetcherTests: XCTestCase {
    /// Audio unit `row` of the test shard: 320 floats of `row`.
    func melRow(_ row: Int) -> [Float] { [Float](repeating: Float(row), count: ShardFormat.melUnitSize) }

    /// A shard of items `item0`, `item1`, … with `itemRows` rows each (black frames, `melRow` mel).
    func writeShard(_ path: String, itemRows: [Int]) throws {
        let writer = try ShardWriter(path: path, parameters: "{}", creator: "cals test")
        let black = RGBImage(width: ShardFormat.frameSize, height: ShardFormat.frameSize,
                             pixels: [UInt8](repeating: 0, count: ShardFormat.frameBytes))
        var row = 0
        for (index, rows) in itemRows.enumerated() {
            writer.beginItem(ShardItem(id: "item\(index)", source: "c\(index).mp4", fingerprint: "f", speaker: "s", split: "train"))
            for r in row..<(row + rows) { try writer.append(frame: black, frameIndex: r) }
            try writer.append(melUnits: (row..<(row + rows)).flatMap(melRow))
            try writer.endItem()
            row += rows
        }
        try writer.finish()
    }

    func testPrefetcherReturnsWindowsInOrderAndStops() throws {
        let dir = ScratchDir("prefetch")
        let path = dir.path("s.h5")
        try writeShard(path, itemRows: [10, 7, 5])
        let reader = try ShardReader(path: path)
        // 30 windows of 4 rows, then one outside its item (a read error), then the end.
        let plan = (0..<30).map { i in (reader.items[i % 3], i % 2) } + [(reader.items[2], 2)]
        let lock = NSLock()
        var issued = 0
        let prefetcher = WindowPrefetcher(depth: 3) {
            lock.lock(); defer { lock.unlock() }
            guard issued < plan.count else { return nil }
            defer { issued += 1 }
            return WindowRequest(reader: reader, item: plan[issued].0, offset: plan[issued].1, length: 4)
        }
        for (consumed, (item, offset)) in plan.dropLast().enumerated() {
            let window = try XCTUnwrap(try prefetcher.next())
            XCTAssertEqual(window.item, item)
            XCTAssertEqual(window.offset, offset)
            XCTAssertEqual(window.mel, (item.firstRow + offset..<item.firstRow + offset + 4).flatMap(melRow))
            // Held: at most 3 ready + 1 being read beyond the ones handed out.
            lock.lock(); XCTAssertLessThanOrEqual(issued, consumed + 1 + 3 + 1, "reads too far ahead"); lock.unlock()
        }
        XCTAssertThrowsError(try prefetcher.next()) { XCTAssertTrue("\($0)".contains("outside item item2"), "\($0)") }
        XCTAssertNil(try prefetcher.next())
        XCTAssertNil(try prefetcher.next())

        // Dropped while its thread waits for room: must not hang or leak a blocked reader.
        weak var weakReader: ShardReader?
        do {
            let second = try ShardReader(path: path)
            weakReader = second
            let endless = WindowPrefetcher(depth: 2) { WindowRequest(reader: second, item: second.items[0], offset: 0, length: 2) }
            _ = try endless.next()
        }
        let deadline = Date().addingTimeInterval(5)
        while weakReader != nil && Date() < deadline { usleep(10_000) }
        XCTAssertNil(weakReader, "the reading thread should end and release its reader")
    }
}
