import ArgumentParser
import Common
import Dataset
import Face
import Foundation
import Models
import Tensor
import Training

/// `cals eval l2f --checkpoint RUN --sync RUN --data DIR [--split test] [--json FILE]`
struct EvalL2F: EngineCommand {
    static let configuration = CommandConfiguration(
        commandName: "l2f",
        abstract: "PSNR, SSIM, mouth PSNR and sync distance/confidence of L2F against the copy-the-reference baseline.")

    @Option(help: "L2F run folder or checkpoint.") var checkpoint: String
    @Option(help: "Sync encoder run folder or checkpoint (scores are from this encoder).") var sync: String
    @Option(help: "Processed dataset folder.") var data: String
    @Option(help: "Split to evaluate.") var split = SplitChoice.test
    @Option(help: "Comma-separated speakers to evaluate, e.g. the run's held-out ones (default, or \"all\": every speaker).")
    var speakers: CommaList<String>?
    @Option(help: "Write the JSON here (default: print it).") var json: String?
    @Option(help: "Threads.") var threads = 2
    @Flag(help: "Score the moving average of the generator's weights (kept in checkpoints) instead of its last weights.")
    var averaged = false
    @Flag(inversion: .prefixedNo,
          help: "Also score the copy-the-reference baselines and the real video (the same for every checkpoint of a run: --no-baselines when scoring many).")
    var baselines = true
    @Option(help: "dlib 68-point landmark model for LMD (`make landmarks`); LMD is omitted when it is absent.")
    var landmarkModel = ShapePredictor.defaultModelPath

    var engineSettings: EngineSettings { EngineSettings(threads: threads) }

    func run() throws {
        let (config, generator, lip) = try L2FCheckpoint.load(checkpointFile(checkpoint), averaged: averaged)
        let result = try evaluateL2F(generator: generator, lip: lip, sync: try SyncEncoder.load(checkpoint: checkpointFile(sync)),
                                     config: config, data: try ProcessedDataset(outFolder: data), split: split.rawValue,
                                     speakers: speakers?.namesOrAll,
                                     landmarks: try landmarkPredictor(), baselines: baselines)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let body = String(decoding: try encoder.encode(result), as: UTF8.self)
        if let json {
            do { try body.write(toFile: json, atomically: true, encoding: .utf8) } catch {
                throw InputError(json, "cannot write: \(error.localizedDescription)")
            }
        } else { print(body) }
        print(result.table)
    }

    /// The landmark model, or nil (said in one line) when its file is absent.
    func landmarkPredictor() throws -> ShapePredictor? {
        let predictor = try ShapePredictor.loadIfPresent(landmarkModel)
        if predictor == nil {
            FileHandle.standardError.write(Data("note: \(landmarkModel): no landmark model (run `make landmarks`); LMD omitted\n".utf8))
        }
        return predictor
    }
}
