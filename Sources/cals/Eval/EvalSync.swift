import ArgumentParser
import Common
import Dataset
import Foundation
import Models
import Tensor
import Training

/// `cals eval sync --checkpoint C --data DIR [--speakers a,b] [--clips N]`: offset accuracy of a
/// sync encoder per speaker, among ±M candidates.
struct EvalSync: EngineCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Offset accuracy of a sync encoder per speaker: exact and ±1 frame per window, over a 15-frame context, and per clip.",
        discussion: """
            Default speakers: the checkpoint's held-out speakers (the last one when it named none).
            'exact' and '±1' judge each 5-frame window alone; 'ctx 15' sums the similarities of 11 \
            consecutive windows (15 frames, 0.6 s) before picking the offset, as SyncNet's paper \
            evaluates with a context; 'clip offset' is the sync-score offset of the whole clip.
            """)

    @Option(help: "Sync encoder run folder or checkpoint.") var checkpoint: String
    @Option(help: "Processed dataset folder.") var data: String
    @Option(help: "Comma-separated speakers to score (\"all\" for every speaker).") var speakers: CommaList<String>?
    @Option(help: "Clips scored per speaker (all when 0).") var clips = 0
    @Option(help: "Largest offset tried, in frames.") var maxOffset = 15
    @Option(help: "Threads.") var threads = 2
    @Flag(help: "Print one JSON object per speaker.") var json = false

    var engineSettings: EngineSettings { EngineSettings(threads: threads) }

    func run() throws {
        let file = checkpointFile(checkpoint)
        let (model, config) = (try SyncEncoder.load(checkpoint: file), try SyncCheckpoint.trainingConfig(file))
        let set = try ProcessedDataset(outFolder: data)
        let heldOut = config.heldOut(among: set.speakers)
        let chosen = speakers.map { $0.namesOrAll ?? set.speakers } ?? heldOut
        let minimum = OffsetSimilarities.minimumFrames(maxOffset: maxOffset)
        if !json { print("speaker       clips  windows  exact   ±1      speech windows: exact  ctx 15  clip offset  LSE-D   LSE-C   (among \(2 * maxOffset + 1) offsets)") }
        for speaker in chosen {
            var clipsOfSpeaker = set.clips.filter { $0.speaker == speaker && $0.rowCount >= minimum }
            guard !clipsOfSpeaker.isEmpty else { throw InputError(data, "speaker '\(speaker)' has no clip of \(minimum) frames or more") }
            if clips > 0 { clipsOfSpeaker = Array(clipsOfSpeaker.prefix(clips)) }
            let a = try SyncAccuracy(model: model, clips: clipsOfSpeaker, maxOffset: maxOffset)
            let role = heldOut.contains(speaker) ? "held-out" : "trained"
            if json {
                print(String(format: "{\"speaker\": \"%@\", \"role\": \"%@\", \"clips\": %d, \"windows\": %d, \"exact\": %.4f, \"within_one\": %.4f, \"speech_windows\": %d, \"speech_exact\": %.4f, \"context15_exact\": %.4f, \"clip_offset\": %.4f, \"lse_d\": %.4f, \"lse_c\": %.4f}",
                             speaker, role, a.clips, a.windows, a.exact, a.withinOne, a.speechWindows, a.speechExact, a.contextExact, a.clipOffsetCorrect, a.distance, a.confidence))
            } else {
                print(String(format: "%-13@ %5d  %7d  %.3f   %.3f   %7d         %.3f  %.3f   %.3f        %.4f  %.4f  %@", speaker, a.clips, a.windows, a.exact,
                             a.withinOne, a.speechWindows, a.speechExact, a.contextExact, a.clipOffsetCorrect, a.distance, a.confidence, role))
            }
        }
        if !json { print("note: LSE-D / LSE-C from the cals sync encoder, not SyncNet; not comparable with published values") }
    }
}
