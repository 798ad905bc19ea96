import Common
import Dataset
import Foundation
import Models
import NN
import Tensor

/// Everything that defines an L2F training run; stored in its checkpoint so `--resume` continues
/// the same run.
public struct L2FTrainingConfig: Codable, Equatable {
    /// Where lip units come from (`--audio-encoder`).
    public typealias AudioEncoder = LipEncoder.Source

    public var steps = 1000
    /// Windows per batch (each of `frames` consecutive frames of one clip; N = windows·frames).
    public var windows = 2
    public var frames = 5
    public var learningRate: Float = 1e-4
    public var checkpointEvery = 100
    /// Steps between real-vs-generated grids of the fixed held-out window.
    public var gridEvery = 100
    public var heldOutSpeakers: [String] = []
    public var seed: UInt64 = 1
    public var weights = L2FLossWeights()
    public var audioEncoder = AudioEncoder.a2l
    /// A2L stays as loaded (no gradient, not in the optimiser).
    public var freezeA2L = false
    public var generator = Generator.Config()
    public var discriminator = Discriminator.Config()
    /// The A2L architecture (from its checkpoint) when audioEncoder == .a2l.
    public var a2l: A2L.Config?
    /// The window audio encoder (the sync encoder's audio stream architecture) otherwise.
    public var windowEncoder: SyncEncoder.Config?
    /// Per-window augmentation of the training reference and target frames; nil = none (and in
    /// checkpoints written before it existed).
    public var augmentation: ClipAugmentation? = ClipAugmentation()
    /// Move each reference frame onto its target frame (ReferenceAlignment) before the generator
    /// sees it; nil = no (checkpoints written before it existed).
    public var alignReferences: Bool? = true
    public var alignsReferences: Bool { alignReferences == true }
    /// Audio units on each side of a window that the lip encoder sees (fewer at the ends of a
    /// clip): A2L reads all T + 2·context, the window encoder ±2 around each frame. 13 gives A2L
    /// 31 units with T = 5, the length it is pretrained on. nil (checkpoints from before the
    /// option) is 0: each window's own units, edges repeated.
    public var audioContext: Int? = 13
    public var audioContextUnits: Int { audioContext ?? 0 }
    /// Global L2 norm the generator-side gradient is clipped to (L2FModels.clipNorm); nil: no
    /// clipping (and in checkpoints from before the option).
    public var clipNorm: Float? = 1
    public init() {}

    /// The lip encoder this run trains.
    public var lipEncoder: LipEncoder.Config {
        LipEncoder.Config(source: audioEncoder, a2l: a2l, windowEncoder: windowEncoder, lipDim: generator.lipDim, frozen: freezeA2L)
    }
}

extension L2FTrainingConfig: TrainingRunConfig {
    public static let stored = StoredConfig<Self>(.l2f)
}

/// One logged step of L2F training.
public struct L2FRecord: Equatable {
    public var step: Int
    public var terms: L2FLossTerms
}

/// Trains L2F (SPEC §3) on a ProcessedDataset: batches of windows from training speakers, one
/// discriminator + generator step each, an atomic checkpoint (`checkpoint.safetensors`: generator,
/// discriminator, lip encoder, both Adam states, the generator side's moving average under
/// `average.<name>`, random state, config) every `checkpointEvery` steps and at the end, `log.csv`
/// with every loss term, `loss.png`, and `grid-<step>.png` (real frames above generated ones, last
/// weights) of a fixed held-out window.
public final class L2FTrainer: Trainer {
    public let config: L2FTrainingConfig
    public let models: L2FModels
    public let lip: LipEncoder
    public let folder: RunFolder
    public var keepEvery = 0
    public let trainClips: [[ProcessedDataset.Clip]]
    public let gridClip: ProcessedDataset.Clip
    public private(set) var records: [L2FRecord] = []
    /// Checkpoint.fingerprint of the frozen sync encoder and of the A2L the run started from (nil
    /// for the window encoder, and in runs from before fingerprints): a resume given other
    /// checkpoints is refused.
    let syncFingerprint: String
    let a2lFingerprint: String?

    public var logPath: String { folder.file("log.csv") }
    public var plotPath: String { folder.file("loss.png") }
    public var step: Int { models.generatorOptimizer.step }
    var context: Context { models.context }

    /// A new run from the sync encoder at `syncPath` and (for `.a2l`) the A2L checkpoint at
    /// `a2lPath`, or with `resume` the run in `out` (its config wins, except `steps` and
    /// `checkpointEvery`; `syncPath` must be the run's sync encoder, and `a2lPath`, if given, the A2L
    /// it started from). A new run into a folder holding a checkpoint is an error unless `fresh`
    /// (which discards that checkpoint).
    public init(config: L2FTrainingConfig, data: ProcessedDataset, out: String, syncPath: String, a2lPath: String?,
                resume: Bool = false, fresh: Bool = false) throws {
        folder = RunFolder(out)
        var config = config
        let checkpoint = folder.checkpointPath
        var saved: (tensors: [String: Tensor], metadata: [String: String])?
        if resume {
            saved = try Safetensors.read(checkpoint)
            config = try L2FTrainingConfig.stored.resumed(config, path: checkpoint, metadata: saved!.metadata)
        } else if config.audioEncoder == .a2l {
            guard let a2lPath else { throw InputError(out, "--a2l is required unless --audio-encoder window") }
            config.a2l = try A2LCheckpoint.trainingConfig(a2lPath).model
            config.generator.lipDim = config.a2l!.outputDim
        }
        precondition(config.frames >= 1 && config.windows >= 1 && config.checkpointEvery >= 1 && config.gridEvery >= 1,
                     "L2F config with non-positive sizes or intervals")
        let sync = try SyncEncoder.load(checkpoint: syncPath)
        syncFingerprint = Checkpoint.fingerprint(sync.stateDict)
        let context = Context(training: true, seed: config.seed)
        let generator = Generator(config.generator, rng: &context.rng)
        let discriminator = Discriminator(config.discriminator, rng: &context.rng)
        lip = LipEncoder(config.lipEncoder, rng: &context.rng)
        var givenA2L: String?       // the fingerprint of the A2L at a2lPath
        if let a2lPath, config.audioEncoder == .a2l {
            // A resumed run only compares these weights: load() below puts the run's own in their place.
            try Checkpoint.copy(try Safetensors.read(a2lPath).tensors, into: lip.stateDict, path: a2lPath)
            givenA2L = Checkpoint.fingerprint(lip.stateDict)
        } else if let a2lPath, saved != nil {
            throw InputError(a2lPath, "given to resume \(out), which trains the window audio encoder, not A2L")
        }
        if let saved {
            try Self.requireSame(syncFingerprint, saved.metadata, key: "sync_fingerprint", path: syncPath, model: "sync encoder", run: out)
            if let givenA2L {
                try Self.requireSame(givenA2L, saved.metadata, key: "a2l_fingerprint", path: a2lPath!, model: "A2L", run: out)
            }
            a2lFingerprint = saved.metadata["a2l_fingerprint"]
        } else {
            a2lFingerprint = givenA2L
        }
        try folder.prepare(resume: resume, fresh: fresh, stepKey: "generator_step")
        self.config = config
        models = L2FModels(generator: generator, discriminator: discriminator, sync: sync, weights: config.weights,
                           lipParameters: lip.trainedParameters, learningRate: config.learningRate,
                           context: context)
        models.clipNorm = config.clipNorm

        let (trainSpeakers, heldOut) = try config.splitSpeakers(data.speakers, folder: data.outFolder, use: "the grids")
        trainClips = trainSpeakers.map { s in data.clips.filter { $0.speaker == s && $0.rowCount >= config.frames } }
            .filter { !$0.isEmpty }
        guard !trainClips.isEmpty else {
            throw InputError(data.outFolder, "no training clip has the \(config.frames) frames a window needs")
        }
        guard let grid = data.clips.first(where: { heldOut.contains($0.speaker) && $0.rowCount >= config.frames }) else {
            throw InputError(data.outFolder, "held-out speakers \(heldOut) have no clip of \(config.frames) frames or more")
        }
        gridClip = grid
        try folder.recordData(trainClips.joined() + [grid])
        if let saved {
            try load(saved.tensors, saved.metadata, path: checkpoint)
            records = try Self.readLog(logPath, upTo: step)
        }
        try writeLog()
    }

    // MARK: Batches

    /// One batch: for each window a random training clip (speaker first), T consecutive frames and
    /// a random reference frame of the same clip, augmented together (one draw per window).
    func sampleBatch() throws -> L2FBatch {
        var frames: [[UInt8]] = [], references: [[UInt8]] = [], audio: [WindowAudio] = []
        for _ in 0..<config.windows {
            let speaker = trainClips[context.rng.int(below: trainClips.count)]
            let clip = speaker[context.rng.int(below: speaker.count)]
            let start = context.rng.int(below: clip.rowCount - config.frames + 1)
            let r = context.rng.int(below: clip.rowCount)
            frames.append(try clip.rows(start..<(start + config.frames)).frames)
            audio.append(try clip.audio(for: start..<(start + config.frames), context: config.audioContextUnits))
            references.append(Array(repeatElement(try clip.rows(r..<(r + 1)).frames, count: config.frames).joined()))
        }
        let augment = config.augmentation.map { a in { (pair: Tensor) in a.apply(to: pair, rng: &self.context.rng) } }
        return makeBatch(frames: frames, references: references, audio: audio, augment: augment)
    }

    func makeBatch(frames: [[UInt8]], references: [[UInt8]], audio: [WindowAudio], augment: ((Tensor) -> Void)? = nil) -> L2FBatch {
        L2FBatch.make(frames: frames, references: references, audio: audio, lip: lip(audio, context),
                      alignReferences: config.alignsReferences, augment: augment)
    }

    // MARK: Training

    /// One step on a fresh batch (lip units computed with gradients when the encoder trains).
    public func trainStep() throws -> L2FRecord {
        context.training = true
        let batch = try sampleBatch()
        let terms = try models.trainStep(batch)
        return L2FRecord(step: step, terms: terms)
    }

    /// Trains until `config.steps`. A diverging loss stops the run with a message naming the
    /// last good checkpoint (which is left as it was).
    public func run(progress: Common.Progress? = nil) throws {
        while step < config.steps {
            let record: L2FRecord
            do { record = try trainStep() } catch let error as L2FTrainingError {
                let last = FileManager.default.fileExists(atPath: checkpointPath)
                    ? "the last good checkpoint is \(checkpointPath)" : "no checkpoint was written yet"
                throw InputError(folder.path, "\(error); \(last)")
            }
            records.append(record)
            try appendLog(record)
            if step % config.gridEvery == 0 || step == config.steps { try writeGrid() }
            try checkpointIfDue(every: config.checkpointEvery, last: config.steps)
            progress?.advance(note: String(format: "L1 %.4f  G %.3f  D %.3f", record.terms.l1, record.terms.generator,
                                           record.terms.discriminator))
        }
    }

    // MARK: Checkpoints

    var checkpointTensors: [(String, Tensor)] { trainingTensors + prefixed("average", models.average.named) }

    var trainingTensors: [(String, Tensor)] {
        prefixed("generator", models.generator.stateDict) + prefixed("discriminator", models.discriminator.stateDict)
            + prefixed("lip", lip.stateDict)
            + models.generatorOptimizer.state(prefix: "optimizer.generator.")
            + models.discriminatorOptimizer.state(prefix: "optimizer.discriminator.")
    }

    public func saveCheckpoint() throws {
        let metadata = try L2FTrainingConfig.stored.metadata(config).merging([
            "generator_step": String(models.generatorOptimizer.step),
            "discriminator_step": String(models.discriminatorOptimizer.step),
            "rng": context.rng.stateWords.map(String.init).joined(separator: ","),
            "sync_fingerprint": syncFingerprint]) { $1 }
            .merging(a2lFingerprint.map { ["a2l_fingerprint": $0] } ?? [:]) { $1 }
        try Safetensors.write(checkpointTensors, metadata: metadata, to: checkpointPath)
        try plot()
    }

    func load(_ tensors: [String: Tensor], _ metadata: [String: String], path: String) throws {
        try Checkpoint.copy(tensors, into: trainingTensors, path: path)
        // Checkpoints from before the moving average: it starts at the loaded weights.
        if try !L2FCheckpoint.copyAverage(tensors, into: prefixed("average", models.average.named), path: path) { models.average.restart() }
        let words = (metadata["rng"] ?? "").split(separator: ",").compactMap { UInt64($0) }
        guard let g = metadata["generator_step"].flatMap(Int.init), let d = metadata["discriminator_step"].flatMap(Int.init),
              words.count == 4 else { throw InputError(path, "metadata lacks the optimiser steps or the random state") }
        models.generatorOptimizer.step = g
        models.discriminatorOptimizer.step = d
        context.rng = RandomGenerator(state: words)
    }

    /// A checkpoint given to resume a run must be the one the run recorded under `key` (runs from
    /// before fingerprints accept any).
    static func requireSame(_ fingerprint: String, _ metadata: [String: String], key: String, path: String, model: String,
                            run: String) throws {
        guard let recorded = metadata[key], recorded != fingerprint else { return }
        throw InputError(path, "is not the \(model) the run in \(run) started from (weights \(fingerprint), the run's \(recorded)); "
                         + "resume with that one")
    }

    // MARK: Log, plot, grid

    static let logHeader = "step,l1,gan,d_av,d_vv,generator,discriminator,grad_norm"

    static func row(_ r: L2FRecord) -> String {
        let t = r.terms, optional = { (x: Double?) in x.map { "\($0)" } ?? "" }
        return "\(r.step),\(t.l1),\(t.gan),\(optional(t.audioVisual)),\(optional(t.visualVisual)),"
            + "\(t.generator),\(t.discriminator),\(optional(t.gradientNorm))"
    }

    static func readLog(_ path: String, upTo step: Int) throws -> [L2FRecord] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return try text.split(separator: "\n").enumerated().dropFirst().compactMap { n, line in
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            // 7 columns in logs written before grad_norm was logged.
            guard f.count == 7 || f.count == 8, let s = Int(f[0]), let l1 = Double(f[1]), let gan = Double(f[2]),
                  let g = Double(f[5]), let d = Double(f[6]) else { throw InputError(path, "line \(n + 1): not a log row") }
            let terms = L2FLossTerms(l1: l1, gan: gan, audioVisual: Double(f[3]), visualVisual: Double(f[4]),
                                     generator: g, discriminator: d, gradientNorm: f.count == 8 ? Double(f[7]) : nil)
            return s <= step ? L2FRecord(step: s, terms: terms) : nil
        }
    }

    func writeLog() throws {
        let body = ([Self.logHeader] + records.map(Self.row)).joined(separator: "\n") + "\n"
        do { try body.write(toFile: logPath, atomically: true, encoding: .utf8) } catch {
            throw InputError(logPath, "cannot write: \(error.localizedDescription)")
        }
    }

    func appendLog(_ record: L2FRecord) throws {
        guard let handle = FileHandle(forWritingAtPath: logPath) else { throw InputError(logPath, "cannot open for appending") }
        defer { try? handle.close() }
        handle.seekToEndOfFile()
        handle.write((Self.row(record) + "\n").data(using: .utf8)!)
    }

    /// loss.png: three panels over steps, each from 0 to the largest value in it — L1 (blue); GAN:
    /// generator (blue) and discriminator (red); sync: d_av (blue) and d_vv (red).
    func plot() throws {
        var canvas = Canvas(width: 800, height: 660)
        let panels = Canvas.stackedPanels(3, width: 800, height: 660)
        let lastStep = Double(max(records.last?.step ?? 1, 1))
        let series: [(String, [(L2FLossTerms) -> Double?])] = [
            ("L1", [{ $0.l1 }]),
            ("GAN: generator (blue), discriminator (red)", [{ $0.gan }, { $0.discriminator }]),
            ("sync: d_av (blue), d_vv (red)", [{ $0.audioVisual }, { $0.visualVisual }]),
        ]
        for ((title, curves), panel) in zip(series, panels) {
            let points = curves.map { value in records.compactMap { r in value(r.terms).map { (Double(r.step) / lastStep, $0) } } }
            let top = max(points.joined().map(\.1).max() ?? 1, 1e-9)
            try canvas.axes(panel, title: title, y: (0, top), x: Canvas.stepRange(lastStep))
            for (j, curve) in points.enumerated() {
                canvas.polyline(panel, curve.map { ($0.0, $0.1 / top) }, colour: j == 0 ? (30, 80, 200) : (210, 40, 40))
            }
        }
        try PNG.write(canvas.image, to: plotPath)
    }

    /// grid-<step>.png: the fixed held-out window (its first T frames, reference = its middle
    /// frame), real frames on the top row, generated ones below, in eval mode.
    func writeGrid() throws {
        let t = config.frames, side = config.generator.imageSize, frameBytes = side * side * 3
        let rows = try gridClip.rows(0..<t)
        let middle = gridClip.rowCount / 2
        let reference = Array(repeatElement(try gridClip.rows(middle..<(middle + 1)).frames, count: t).joined())
        context.training = false
        defer { context.training = true }
        let fake = try withoutGrad { () throws -> [UInt8] in
            let batch = makeBatch(frames: [rows.frames], references: [reference],
                                  audio: [try gridClip.audio(for: 0..<t, context: config.audioContextUnits)])
            return quantisedFrames(models.generator(batch.identity, lip: batch.lip, context))
        }
        var image = RGBImage(width: t * side, height: 2 * side)
        for (row, source) in [rows.frames, fake].enumerated() {
            for f in 0..<t { for y in 0..<side {
                let src = f * frameBytes + y * side * 3, dst = ((row * side + y) * t * side + f * side) * 3
                image.pixels.replaceSubrange(dst..<(dst + side * 3), with: source[src..<(src + side * 3)])
            } }
        }
        try PNG.write(image, to: folder.file(String(format: "grid-%06d.png", step)))
    }
}
