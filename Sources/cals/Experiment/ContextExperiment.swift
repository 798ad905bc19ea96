import ArgumentParser
import Common
import Foundation
import Models
import Tensor
import Training

/// `cals experiment …`
struct ExperimentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "experiment", abstract: "Experiments on trained models.",
                                                    subcommands: [ContextExperiment.self, AblationSummary.self])
}

/// `cals experiment context --checkpoint C --data DIR [--baseline C2] [--out DIR]`
struct ContextExperiment: EngineCommand {
    static let configuration = CommandConfiguration(
        commandName: "context",
        abstract: "Window curve (audio kept within ±w of the middle frame) and gap test (7 zeroed frames) of an A2L model.")

    @OptionGroup var options: A2LEvaluationOptions
    @Option(help: "A2L checkpoint of the baseline for the gap test (e.g. trained with --context 2).") var baseline: String?
    @Option(help: "Frames of zeroed audio in the gap test.") var gap = 7
    @Option(help: "Output folder (default: context/ beside the checkpoint).") var out: String?

    func validate() throws {
        guard gap > 0 else { throw ValidationError("--gap must be positive") }
    }

    struct Report: Encodable {
        struct Point: Encodable { let w: Int, mse: Double, cosine: Double, mse_middle_audio: Double, cosine_middle_audio: Double }
        struct Gap: Encodable { let checkpoint: String, model: String, mse: Double, cosine: Double }
        let windows: Int, frames: Int, curve: [Point], level_off_w: Int, gap_frames: Int, gap: [Gap]
    }

    var engineSettings: EngineSettings { EngineSettings(threads: options.threads) }

    func run() throws {
        let folder = out ?? ((options.checkpoint as NSString).deletingLastPathComponent as NSString).appendingPathComponent("context")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let (model, config, set) = try options.load()
        guard gap <= config.frames else { throw InputError(options.checkpoint, "--gap \(gap) is longer than the model's windows of \(config.frames) frames") }
        let curve = set.windowCurve(model)
        let flat = levelOff(curve.map(\.masked.mse))
        let csv = "w,mse,cosine,mse_middle_audio,cosine_middle_audio\n" + curve.map {
            "\($0.w),\($0.masked.mse),\($0.masked.cosine),\($0.withAudio.mse),\($0.withAudio.cosine)"
        }.joined(separator: "\n") + "\n"
        let csvPath = (folder as NSString).appendingPathComponent("window-curve.csv")
        do { try csv.write(toFile: csvPath, atomically: true, encoding: .utf8) } catch {
            throw InputError(csvPath, "cannot write: \(error.localizedDescription)")
        }
        let pngPath = (folder as NSString).appendingPathComponent("window-curve.png")
        try plotCurve(curve.map { (Double($0.w), $0.masked.mse) },
                      title: "unit MSE at the middle frame (its audio zeroed), audio kept within +-w frames",
                      xName: "w", marker: Double(flat), to: pngPath)
        print("window curve (\(set.windows.count) windows of \(config.frames) frames; unit error at the middle frame, whose "
              + "audio is zeroed as in pretraining; last columns: its audio kept):")
        print("   w    MSE        cosine    MSE (audio kept)  cosine")
        for p in curve {
            print(String(format: "%4d    %.6f   %.4f    %.6f          %.4f", p.w, p.masked.mse, p.masked.cosine,
                         p.withAudio.mse, p.withAudio.cosine))
        }
        print("levels off at w = \(flat) (±\(String(format: "%.2f", Double(flat) / 25)) s; first w within 5% of the lowest error)")

        let own = set.gapScore(model, gap: gap)
        var gaps = [Report.Gap(checkpoint: options.checkpoint, model: config.sizeDescription, mse: own.mse, cosine: own.cosine)]
        if let baseline {
            let (base, baseConfig, baseSet) = try options.load(checkpoint: baseline)
            guard baseConfig.frames == config.frames, baseConfig.unitsCheckpoint == config.unitsCheckpoint else {
                throw InputError(baseline, "baseline windows (T = \(baseConfig.frames), units \(baseConfig.unitsCheckpoint)) differ from "
                                 + "the model's (T = \(config.frames), units \(config.unitsCheckpoint))")
            }
            let s = baseSet.gapScore(base, gap: gap)
            gaps.append(Report.Gap(checkpoint: baseline, model: baseConfig.sizeDescription, mse: s.mse, cosine: s.cosine))
        }
        print("gap test (\(gap) frames of audio zeroed mid-window; unit error inside the gap):")
        for g in gaps { print(String(format: "  %@  MSE %.6f  cosine %.4f  (%@)", g.model, g.mse, g.cosine, g.checkpoint)) }
        let jsonPath = (folder as NSString).appendingPathComponent("context.json")
        try writeJSON(Report(windows: set.windows.count, frames: config.frames,
                             curve: curve.map { .init(w: $0.w, mse: $0.masked.mse, cosine: $0.masked.cosine,
                                                      mse_middle_audio: $0.withAudio.mse, cosine_middle_audio: $0.withAudio.cosine) },
                             level_off_w: flat, gap_frames: gap, gap: gaps), to: jsonPath)
        print("csv: \(csvPath)\nplot: \(pngPath)\njson: \(jsonPath)")
    }
}
