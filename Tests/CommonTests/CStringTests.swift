import Common
import XCTest

final class CStringTests: XCTestCase {
    func testBufferTextEndsAtTheFirstNul() {
        let buffer: [CChar] = Array("no such file".utf8CString) + [65, 66, 0]
        XCTAssertEqual(String(cBuffer: buffer), "no such file")
    }

    func testBufferWithoutNulIsReadWhole() {
        XCTAssertEqual(String(cBuffer: "abc".utf8.map { CChar(bitPattern: $0) }), "abc")
        XCTAssertEqual(String(cBuffer: []), "")
    }

    func testInvalidUTF8IsReplacedNotTrapped() {
        // 0xFF never occurs in UTF-8; a library's garbled message must still become text.
        XCTAssertEqual(String(cBuffer: [0x61, CChar(bitPattern: 0xFF), 0x62, 0]), "a\u{FFFD}b")
    }
}
