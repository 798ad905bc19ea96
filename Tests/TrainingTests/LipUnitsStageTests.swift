import Common
import Foundation
import Models
import NN
import Pipelines
import Shards
import Tensor
import TestSupport
import Training
import XCTest

final class LipUnitsStageTests: XCTestCase {
    /// A checkpoint of a tiny encoder with 1024-d output, as `cals train sync` writes it.
    func writeCheckpoint(_ path: String, seed: UInt64) throws {
        var config = tinyTrainingConfig()
        config.model.outputDim = 1024
        var rng = RandomGenerator(seed: seed)
        let model = SyncEncoder(config.model, rng: &rng)
        try Safetensors.write(model.stateDict, metadata: try SyncCheckpoint.metadata(config), to: path)
    }

    func testUnitShardsAlignWithFrameShardsAndAreKeyedByCheckpoint() throws {
        let scratch = ScratchDir("lip-units")
        let out = scratch.path("data")
        try writeSyntheticDataset(out, speakers: 1, clips: 2, frames: 9)
        let frameShard = (out as NSString).appendingPathComponent("shards/shard-synthetic.h5")
        let frameChecksum = try fileChecksum(frameShard)
        try writeCheckpoint(scratch.path("a.safetensors"), seed: 1)
        var parameters = LipUnitsStage.Parameters()
        parameters.checkpoint = scratch.path("a.safetensors")
        let stage = LipUnitsStage(parameters: parameters)
        // The stage works on the frame shards the ledger records (writeSyntheticDataset recorded it).
        let ledger = try Ledger(existing: out)
        let written = try stage.run(outFolder: out, ledger: ledger) { _ in }.written
        XCTAssertEqual(written.count, 1)

        let units = try LipUnitReader(path: written[0])
        let frames = try ShardReader(path: frameShard)
        XCTAssertEqual(units.rowCount, frames.rowCount)
        XCTAssertEqual(units.frameShard, "shard-synthetic.h5")
        XCTAssertEqual(units.checkpoint, try fileChecksum(scratch.path("a.safetensors")))
        // Row r of item 1 is the visual embedding of the window centred on r within that item.
        let model = try SyncEncoder.load(checkpoint: scratch.path("a.safetensors"))
        let item = frames.items[1]
        let expected = try frames.frames(rows: item.rows).withUnsafeBufferPointer {
            // The stage's chunk: conv2d runs a batch as one GEMM, whose rounding depends on the batch size.
            embedVisualInChunks(model, frames: $0, centres: Array(0..<item.rowCount), chunk: LipUnitsStage.chunk)
        }
        XCTAssertEqual(try units.units(rows: item.rows), expected)

        // h5py reads it without our code.
        let script = "import h5py, sys; f = h5py.File(sys.argv[1], 'r'); u = f['units']; "
            + "print(u.shape, u.dtype, f.attrs['frame_shard'], round(float(abs(u[9]).sum()), 3))"
        let result = try TestSupport.run(TestEnv.python, ["-c", script, written[0]])
        let row9 = try units.units(rows: 9..<10).reduce(0) { $0 + abs($1) }
        XCTAssertEqual(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines),
                       "(18, 1024) float32 shard-synthetic.h5 \(Double(String(format: "%.3f", row9))!)", result.stderr)

        // Re-running writes nothing; a new checkpoint writes a new set beside the old; the frame
        // shard is never rewritten.
        XCTAssertEqual(try stage.run(outFolder: out, ledger: ledger) { _ in }.written, [])
        try writeCheckpoint(scratch.path("b.safetensors"), seed: 2)
        parameters.checkpoint = scratch.path("b.safetensors")
        let second = try LipUnitsStage(parameters: parameters).run(outFolder: out, ledger: ledger) { _ in }.written
        XCTAssertEqual(second.count, 1)
        XCTAssertNotEqual((second[0] as NSString).deletingLastPathComponent, (written[0] as NSString).deletingLastPathComponent)
        XCTAssertTrue(FileManager.default.fileExists(atPath: written[0]))
        XCTAssertEqual(try fileChecksum(frameShard), frameChecksum)
    }

    func testManifestTakesLipUnitsAfterShard() throws {
        let yaml = """
            dataset: demo
            adapter: {kind: demo}
            stages:
              - decode: {}
              - face: {}
              - mel: {}
              - align: {}
              - shard: {}
              - lip_units: {checkpoint: runs/sync-demo/checkpoint.safetensors}
            """
        let manifest = try Manifest.parse(yaml, file: "m.yaml")
        XCTAssertEqual(manifest.stages.lipUnits?.parameters.checkpoint, "runs/sync-demo/checkpoint.safetensors")
        // The frame stages' keys do not depend on it.
        let without = try Manifest.parse(yaml.replacingOccurrences(of: "\n  - lip_units: {checkpoint: runs/sync-demo/checkpoint.safetensors}", with: ""), file: "m.yaml")
        XCTAssertNil(without.stages.lipUnits)
        XCTAssertEqual(manifest.stages.keys(fingerprint: "x").map(\.key), without.stages.keys(fingerprint: "x").map(\.key))
        XCTAssertThrowsError(try Manifest.parse(yaml.replacingOccurrences(of: "{checkpoint: runs/sync-demo/checkpoint.safetensors}", with: "{}"), file: "m.yaml")) {
            XCTAssertTrue("\($0)".contains("'checkpoint' is required"), "\($0)")
        }
    }
}
