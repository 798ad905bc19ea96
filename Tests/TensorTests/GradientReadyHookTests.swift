import Tensor
import XCTest

/// Records each leaf `backward` reports, the gradient it had then, and which leaves had no
/// gradient yet at that moment.
private final class Recorder: GradientReadyHook {
    let names: [ObjectIdentifier: String]
    var reported: [(name: String, grad: [Float]?, notYet: Set<String>)] = []
    let leaves: [(String, Tensor)]

    init(_ leaves: [(String, Tensor)]) {
        self.leaves = leaves
        names = Dictionary(uniqueKeysWithValues: leaves.map { (ObjectIdentifier($0.1), $0.0) })
    }

    func gradientIsReady(_ leaf: Tensor) {
        guard let name = names[ObjectIdentifier(leaf)] else { return }
        reported.append((name, leaf.gradValues, Set(leaves.filter { $0.1.grad == nil }.map(\.0))))
    }
}

/// The gradient-ready seam of `backward(reportingTo:)`: a leaf is reported once, as soon as its
/// gradient is final, which for a layer's weights is before backward reaches the earlier layers.
final class GradientReadyHookTests: XCTestCase {
    func testLeavesAreReportedOnceWhenTheirLastReaderHasRun() {
        var rng = RandomGenerator(seed: 5)
        let x = Tensor(randomNormal: [3, 4], rng: &rng)
        let w1 = Tensor(randomNormal: [5, 4], rng: &rng), b1 = Tensor(randomNormal: [5], rng: &rng)
        let w2 = Tensor(randomNormal: [6, 5], rng: &rng), b2 = Tensor(randomNormal: [6], rng: &rng)
        let w3 = Tensor(randomNormal: [2, 6], rng: &rng), unused = Tensor(randomNormal: [2], rng: &rng)
        let leaves = [("w1", w1), ("b1", b1), ("w2", w2), ("b2", b2), ("w3", w3), ("unused", unused)]
        for (_, t) in leaves { t.requiresGrad = true }

        // Three layers; w1 is read again next to the loss (a tied weight): its gradient is final
        // only after the first layer's backward step, the last one to run.
        let h1 = relu(linear(x, weight: w1, bias: b1))
        let h2 = relu(linear(h1, weight: w2, bias: b2))
        let loss = matmul(h2, w3.transposed(0, 1)).sum() + (w1 * w1).sum()
        let recorder = Recorder(leaves)
        loss.backward(reportingTo: recorder)

        XCTAssertEqual(recorder.reported.map(\.name).sorted(), ["b1", "b2", "w1", "w2", "w3"], "each read leaf once")
        for r in recorder.reported {
            let final = leaves.first { $0.0 == r.name }!.1.gradValues
            XCTAssertEqual(r.grad, final, "\(r.name): the gradient reported is the final one")
        }
        // The last layer's weight is reported while the first layer's gradients are not made yet.
        let w3Report = recorder.reported.first { $0.name == "w3" }!
        XCTAssertTrue(w3Report.notYet.isSuperset(of: ["w2", "b2", "b1"]), "w3 reported after \(leaves.count - w3Report.notYet.count) gradients")
        let order = recorder.reported.map(\.name)
        XCTAssertGreaterThan(order.firstIndex(of: "w1")!, order.firstIndex(of: "w2")!, "the tied w1 waits for its first-layer read")
        XCTAssertNil(unused.grad)
    }
}
