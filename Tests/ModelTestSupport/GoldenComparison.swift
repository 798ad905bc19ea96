import Foundation
import NN
import Tensor
import TestSupport
import XCTest

/// Same weights (exchanged as safetensors), same inputs → same outputs, loss, gradients and
/// parameters after three Adam steps as PyTorch (a golden script built on
/// Tests/NNTests/golden/golden.py). Used by NNTests (layers) and ModelsTests (models).
/// Tolerance: relative error max|swift − torch| / max|torch| ≤ 1e-4 per tensor. Both sides
/// compute in float32 with different summation orders; the errors seen are ≲1e-6, except Adam on
/// the attention key bias: its loss gradient is exactly zero (softmax ignores a shift shared by a
/// row), so its update is weight decay plus float noise, ~1e-5 relative. Weight decay is on so
/// that this update is well defined. Parameters after the three Adam steps get `adamTolerance`:
/// Adam divides each gradient entry by its running RMS, which amplifies the ~5e-7 gradient
/// agreement where gradients are near zero. ConvBlock's conv2 feeds a batch norm, which makes
/// the loss invariant to each output channel's scale, so its weight gradient has such entries:
/// 1.1e-4 measured with OpenBLAS's Haswell kernels (under 1e-4 on the machines before).
public enum GoldenComparison {
    public static let tolerance: Float = 1e-4
    public static let adamTolerance: Float = 3e-4

    /// Moves every parameter off its initial value (biases 0, norm weights 1) so the exchange is
    /// tested on generic numbers and weight decay acts on every entry.
    public static func perturb(_ model: Module, _ rng: inout RandomGenerator) {
        for (_, p) in model.parameters { p.withUnsafeMutableBufferPointer { v in for i in v.indices { v[i] += 0.1 * rng.normal() } } }
    }

    /// Runs `step` (output and loss) here and `script` CASE in PyTorch from the same weights and
    /// inputs; compares output, loss, input and parameter gradients, buffers, then three Adam steps.
    public static func compareWithPyTorch(script: String, _ name: String, _ model: Module, x: Tensor, inputs: [(String, Tensor)],
                                          config: String, file: StaticString = #filePath, line: UInt = #line,
                                          step: () -> (Tensor, Tensor)) throws {
        let dir = ScratchDir("golden")
        try Safetensors.write(model.stateDict + [("input.x", x)] + inputs.map { ("input.\($0.0)", $0.1) },
                              to: dir.path("in.safetensors"))
        try runPython(script, [name, dir.path("in.safetensors"), dir.path("out.safetensors"), config])
        let torch = try Safetensors.read(dir.path("out.safetensors")).tensors

        func expectClose(_ ours: Tensor?, _ key: String) {
            guard let ours, let theirs = torch[key] else { return XCTFail("\(name): \(key) missing", file: file, line: line) }
            let err = relativeError(ours, theirs)
            print("golden \(name) \(key): relative error \(err)")
            XCTAssertLessThanOrEqual(err, key.hasPrefix("adam.") ? adamTolerance : tolerance, "\(name): \(key)", file: file, line: line)
        }
        x.requiresGrad = true
        let (y, loss) = step()
        loss.backward()
        expectClose(y, "output")
        expectClose(loss.reshaped([1]), "loss")
        expectClose(x.grad.map { Tensor(shape: x.shape, storage: $0) }, "grad.input")
        for (key, p) in model.parameters { expectClose(p.grad.map { Tensor(shape: p.shape, storage: $0) }, "grad.\(key)") }
        for (key, b) in model.buffers { expectClose(b, "buffer.\(key)") }

        let options = try JSONSerialization.jsonObject(with: Data(config.utf8)) as! [String: Any]
        let adam = Adam(model.parameters, learningRate: Float(options["lr"] as! Double),
                        weightDecay: Float(options["weightDecay"] as? Double ?? 0))
        adam.update()
        for _ in 0..<2 {
            adam.zeroGrad()
            step().1.backward()
            adam.update()
        }
        for (key, p) in model.parameters { expectClose(p, "adam.\(key)") }
    }
}
