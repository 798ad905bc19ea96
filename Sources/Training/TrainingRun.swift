import Common
import Dataset
import Foundation
import Models
import NN

/// What every trainer's config holds: the run's length, checkpoint interval, held-out speakers
/// and seed, and where it is stored in the run's checkpoints.
public protocol TrainingRunConfig: Codable {
    var steps: Int { get set }
    var checkpointEvery: Int { get set }
    /// Speakers never trained on; empty = the last speaker in sorted order.
    var heldOutSpeakers: [String] { get set }
    var seed: UInt64 { get set }
    /// The metadata keys of this config in a checkpoint.
    static var stored: StoredConfig<Self> { get }
    init()
}

extension TrainingRunConfig {
    /// The held-out speakers among `speakers`: the config's, or the last one when it names none.
    public func heldOut(among speakers: [String]) -> [String] {
        heldOutSpeakers.isEmpty ? Array(speakers.suffix(1)) : heldOutSpeakers
    }

    /// The speakers to train on and to hold out among `speakers` (of the dataset at `folder`);
    /// `use` says what the held-out ones are for, in the error when nothing is left to train on.
    public func splitSpeakers(_ speakers: [String], folder: String, use: String) throws -> (train: [String], heldOut: [String]) {
        let heldOut = heldOut(among: speakers)
        let train = speakers.filter { !heldOut.contains($0) }
        guard !train.isEmpty, train.count < speakers.count else {
            throw InputError(folder, "needs at least two speakers (one held out for \(use)); found \(speakers)")
        }
        return (train, heldOut)
    }
}

/// A training config as it sits in checkpoint metadata: a kind tag and the config as JSON.
public struct StoredConfig<Config: TrainingRunConfig>: Sendable {
    let kind: CheckpointKind

    public init(_ kind: CheckpointKind) { self.kind = kind }

    /// The metadata `Checkpoint.save` gets: the kind and the config as JSON.
    public func metadata(_ config: Config) throws -> [String: String] {
        [CheckpointKind.kindKey: kind.kind, kind.configKey: try kind.encode(config)]
    }

    /// The config stored in the checkpoint at `path`.
    public func read(_ path: String) throws -> Config {
        try read(try Safetensors.read(path).metadata, path: path)
    }

    /// The config in the `metadata` of the checkpoint at `path`.
    public func read(_ metadata: [String: String], path: String) throws -> Config {
        try kind.decode(Config.self, from: metadata, path: path)
    }

    /// The config of the run whose checkpoint is at `path`, with the `steps` and `checkpointEvery`
    /// of `config` (a resumed run may be asked to train longer, or to checkpoint more often;
    /// everything else is the run's own).
    func resumed(_ config: Config, path: String, metadata: [String: String]? = nil) throws -> Config {
        var saved = try metadata.map { try read($0, path: path) } ?? read(path)
        (saved.steps, saved.checkpointEvery) = (config.steps, config.checkpointEvery)
        return saved
    }
}

/// The folder of a training run (`--out`): its checkpoint, logs and plots. A new run refuses a
/// folder that holds a checkpoint, unless told to discard it (`fresh`); a resumed run continues it.
public struct RunFolder {
    public let path: String
    public var checkpointPath: String { file("checkpoint.safetensors") }

    public init(_ path: String) { self.path = path }

    /// Creates the folder if needed. Without `resume`, a checkpoint already there is an error
    /// naming its step (metadata `stepKey`), or with `fresh` is deleted. A rank that does not
    /// write the run's files (`writes` false) leaves the folder to the primary rank.
    public func prepare(resume: Bool, fresh: Bool, stepKey: String = "step", writes: Bool = true) throws {
        guard !(resume && fresh) else { throw InputError(path, "--resume and --fresh exclude each other") }
        guard writes else { return }
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw InputError(path, "cannot create the run folder: \(error.localizedDescription)")
        }
        try removeStaleTemporaryFiles()
        guard !resume, FileManager.default.fileExists(atPath: checkpointPath) else { return }
        if fresh {
            do { try FileManager.default.removeItem(atPath: checkpointPath) } catch {
                throw InputError(checkpointPath, "cannot delete: \(error.localizedDescription)")
            }
        } else {
            let step = (try? Safetensors.read(checkpointPath).metadata[stepKey]) ?? nil
            throw InputError(path, "holds a checkpoint at step \(step ?? "?"); use --resume to continue or --fresh to start over")
        }
    }

    /// Removes what a run killed while writing left behind: `<name>.tmp-<pid>`, the temporary
    /// name a checkpoint or plot is written under before it is renamed over `<name>`
    /// (`Safetensors.write`, `PNG.write`). Only the run's own process writes into the folder.
    func removeStaleTemporaryFiles() throws {
        let manager = FileManager.default
        let names = (try? manager.contentsOfDirectory(atPath: path)) ?? []
        for name in names {
            guard let tag = name.range(of: ".tmp-", options: .backwards), tag.lowerBound > name.startIndex,
                  let pid = Int(name[tag.upperBound...]), pid > 0 else { continue }
            do { try manager.removeItem(atPath: file(name)) } catch {
                throw InputError(file(name), "cannot delete a stale temporary file: \(error.localizedDescription)")
            }
        }
    }

    /// `<path>/<name>`
    public func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    /// `data.tsv`: the ledger rows the run reads (`ProcessedDataset.table`), so what a model saw
    /// can be checked against the ledger (a removed item must not appear).
    public var dataPath: String { file("data.tsv") }

    /// Writes `data.tsv` for `clips` (rewritten when a run is resumed on the ledger's rows of now).
    func recordData(_ clips: [ProcessedDataset.Clip]) throws {
        do { try ProcessedDataset.table(clips.map(\.segment)).write(toFile: dataPath, atomically: true, encoding: .utf8) } catch {
            throw InputError(dataPath, "cannot write: \(error.localizedDescription)")
        }
    }

    /// `checkpoint-<step>.safetensors`: a kept copy of the checkpoint at `step`.
    public func keptCheckpointPath(step: Int) -> String { file(String(format: "checkpoint-%06d.safetensors", step)) }

    /// Keeps the checkpoint as it is now as `checkpoint-<step>.safetensors` (replacing one kept
    /// before): a hard link, which later saves leave alone since they rename a new file over the
    /// checkpoint; a copy where the file system has no hard links.
    func keepCheckpoint(step: Int) throws {
        let kept = keptCheckpointPath(step: step), manager = FileManager.default
        do {
            if manager.fileExists(atPath: kept) { try manager.removeItem(atPath: kept) }
            do { try manager.linkItem(atPath: checkpointPath, toPath: kept) } catch {
                try manager.copyItem(atPath: checkpointPath, toPath: kept)
            }
        } catch { throw InputError(kept, "cannot keep the checkpoint: \(error.localizedDescription)") }
    }
}

/// What the trainers share: a run folder, an optimiser step, checkpoints and a run (the training
/// loop, `TrainingLoop`).
public protocol Trainer: AnyObject {
    var folder: RunFolder { get }
    var step: Int { get }
    /// Steps between kept copies of the checkpoint (`checkpoint-<step>.safetensors`); 0: none.
    var keepEvery: Int { get set }
    /// Trains until the config's `steps`, reporting each step to `progress`.
    func run(progress: Common.Progress?) throws
    func saveCheckpoint() throws
}

extension Trainer {
    public var checkpointPath: String { folder.checkpointPath }

    /// After a step: saves the checkpoint every `every` steps, at the `last` step and at each step
    /// to keep, and keeps a copy every `keepEvery` steps.
    func checkpointIfDue(every: Int, last: Int) throws {
        let keep = keepEvery > 0 && step % keepEvery == 0
        guard keep || step % every == 0 || step == last else { return }
        try saveCheckpoint()
        if keep { try folder.keepCheckpoint(step: step) }
    }
}
