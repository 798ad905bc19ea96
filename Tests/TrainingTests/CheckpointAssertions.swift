import NN
import Tensor
import Training
import XCTest

/// A safetensors file as `Safetensors.read` gives it.
typealias CheckpointFile = (tensors: [String: Tensor], metadata: [String: String])

/// Asserts that two safetensors checkpoints hold the same tensor names and the same values bit for
/// bit (the exact-resume tests), and returns both files for further checks.
@discardableResult
func assertSameTensors(_ pathA: String, _ pathB: String, file: StaticString = #filePath, line: UInt = #line) throws
    -> (a: CheckpointFile, b: CheckpointFile) {
    let a = try Safetensors.read(pathA), b = try Safetensors.read(pathB)
    XCTAssertEqual(Set(a.tensors.keys), Set(b.tensors.keys), file: file, line: line)
    for (name, t) in a.tensors {
        XCTAssertEqual(t.values, b.tensors[name]?.values, name, file: file, line: line)
    }
    return (a, b)
}

/// The exact-resume check of every trainer: trains `steps` straight into `folders.straight`, and
/// into `folders.stopped` first `stop` steps, then resumes that run to `steps`; asserts the resumed
/// trainer starts at `stop` and ends with the straight run's tensors bit for bit.
/// `make(steps, out, resume)` builds a trainer. Returns both trainers and both checkpoints.
func trainStraightAndResumed<T: Trainer>(
    steps: Int, stoppingAt stop: Int, folders: (straight: String, stopped: String),
    file: StaticString = #filePath, line: UInt = #line, _ make: (_ steps: Int, _ out: String, _ resume: Bool) throws -> T
) throws -> (straight: T, resumed: T, checkpoints: (a: CheckpointFile, b: CheckpointFile)) {
    let straight = try make(steps, folders.straight, false)
    try straight.run(progress: nil)
    try make(stop, folders.stopped, false).run(progress: nil)
    let resumed = try make(steps, folders.stopped, true)
    XCTAssertEqual(resumed.step, stop, file: file, line: line)
    try resumed.run(progress: nil)
    return (straight, resumed, try assertSameTensors(straight.checkpointPath, resumed.checkpointPath, file: file, line: line))
}
