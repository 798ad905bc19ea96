import ArgumentParser
import Foundation
import Models
import Tensor
import Training

/// The evaluation windows shared by `eval a2l` and `experiment context`.
struct A2LEvaluationOptions: ParsableArguments {
    @Option(help: "A2L checkpoint (`cals train a2l`).") var checkpoint: String
    @Option(help: "Processed dataset folder with lip units.") var data: String
    @Option(help: "Split of the clips scored.") var split = SplitChoice.all
    @Option(help: "Comma-separated speakers scored (default: the run's held-out speakers).") var speakers: CommaList<String>?
    @Option(help: "Windows scored (consecutive windows of the run's T frames, round-robin over clips).") var windows = 256
    @Option(help: "Sync checkpoint of the units (must be the one the model was trained on).") var syncCheckpoint: String?
    @Option(help: "Threads.") var threads = 2

    /// The model, its config and its evaluation windows.
    func load(checkpoint path: String? = nil) throws -> (model: A2L, config: A2LTrainingConfig, set: A2LEvaluationSet) {
        let path = path ?? checkpoint
        let (model, config) = try A2LCheckpoint.load(path)
        let dataset = try openA2LData(data, syncCheckpoint: syncCheckpoint, recorded: config.unitsCheckpoint, model: path)
        let who = speakers?.values ?? config.heldOutSpeakers
        let clips = try dataset.clips(of: who, split: split == .all ? nil : split.rawValue, minRows: config.frames, role: "evaluation")
        let set = try A2LEvaluationSet(clips: clips, frames: config.frames, count: windows, masking: config.masking)
        return (model, config, set)
    }
}

/// `cals eval a2l --checkpoint C --data DIR [--split test] [--json FILE]`
struct EvalA2L: EngineCommand {
    static let configuration = CommandConfiguration(
        commandName: "a2l", abstract: "Masked-unit MSE and cosine similarity of an A2L model on held-out windows.")

    @OptionGroup var options: A2LEvaluationOptions
    @Option(help: "JSON output (default: eval-<split>.json beside the checkpoint).") var json: String?

    struct Report: Encodable {
        let checkpoint: String, data: String, split: String, speakers: [String], windows: Int, frames: Int
        let model: String, masked_mse: Double, cosine: Double, masked_steps: Int
    }

    var engineSettings: EngineSettings { EngineSettings(threads: options.threads) }

    func run() throws {
        let (model, config, set) = try options.load()
        let score = set.score(model)
        let path = json ?? ((options.checkpoint as NSString).deletingLastPathComponent as NSString)
            .appendingPathComponent("eval-\(options.split.rawValue).json")
        let speakers = options.speakers?.values ?? config.heldOutSpeakers
        try writeJSON(Report(checkpoint: options.checkpoint, data: options.data, split: options.split.rawValue, speakers: speakers,
                             windows: set.windows.count, frames: config.frames, model: config.sizeDescription,
                             masked_mse: score.mse, cosine: score.cosine, masked_steps: score.steps), to: path)
        print(String(format: "A2L (%@) on %d windows of %d frames, speakers %@, split %@:\n  masked-unit MSE %.6f\n  cosine similarity %.4f",
                     config.sizeDescription, set.windows.count, config.frames, speakers.joined(separator: ","), options.split.rawValue,
                     score.mse, score.cosine))
        print("json: \(path)")
    }
}
