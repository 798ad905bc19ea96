import Foundation

/// DispatchQueue.concurrentPerform for loops whose bodies are not Sendable: they capture buffer
/// pointers and write disjoint parts of them (each iteration its own rows, images, ranges or
/// frames) while reading shared inputs, or change shared variables only while holding a lock,
/// which the compiler cannot check. Every such parallel loop (the tensor engine's, the mel
/// spectrogram's, the corpus generator's) goes through here, so that promise is made in this
/// one place.
public func concurrentPerform(_ iterations: Int, _ body: (Int) -> Void) {
    withoutActuallyEscaping(body) { body in
        let work = UncheckedSendable(body)
        DispatchQueue.concurrentPerform(iterations: iterations) { work.value($0) }
    }
}

/// @unchecked Sendable: only for `concurrentPerform`'s body (see there).
private struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
