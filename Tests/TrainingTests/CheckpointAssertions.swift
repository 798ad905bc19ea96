import NN
import Tensor
import XCTest

/// Asserts that two safetensors checkpoints hold the same tensor names and the same values bit for
/// bit (the exact-resume tests), and returns both files for further checks.
@discardableResult
func assertSameTensors(_ pathA: String, _ pathB: String, file: StaticString = #filePath, line: UInt = #line) throws
    -> (a: (tensors: [String: Tensor], metadata: [String: String]), b: (tensors: [String: Tensor], metadata: [String: String])) {
    let a = try Safetensors.read(pathA), b = try Safetensors.read(pathB)
    XCTAssertEqual(Set(a.tensors.keys), Set(b.tensors.keys), file: file, line: line)
    for (name, t) in a.tensors {
        XCTAssertEqual(t.values, b.tensors[name]?.values, name, file: file, line: line)
    }
    return (a, b)
}
