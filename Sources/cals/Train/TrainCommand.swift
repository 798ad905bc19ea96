import ArgumentParser
import Common
import Dataset
import Distributed
import Foundation
import Tensor
import Training

/// `cals train …`: the CALS trainers (sync encoder now; A2L and L2F join as subcommands).
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train", abstract: "Train the CALS models from processed shards.",
        subcommands: [TrainSync.self, TrainA2L.self, TrainL2F.self])
}

/// A `cals train X`: its run flags in `training`, whose --threads give the engine's settings.
protocol TrainingCommand: EngineCommand {
    associatedtype Config: TrainingRunConfig
    var training: TrainingRunOptions<Config> { get }
}

extension TrainingCommand {
    var engineSettings: EngineSettings { EngineSettings(threads: training.threads) }
}

/// The run flags of every `cals train X`: data, run folder, length, checkpoint interval, held-out
/// speakers, seed, threads, --resume / --fresh. Defaults are the trainer config's own.
struct TrainingRunOptions<Config: TrainingRunConfig>: ParsableArguments {
    @Option(help: "Processed dataset folder (the --out of `cals preprocess`).") var data: String
    @Option(help: "Run folder for checkpoint, logs and plots.") var out: String
    @Option(help: "Train until this many steps in total (default \(Config().steps); on --resume, the run's own).") var steps: Int?
    @Option(help: "Steps between checkpoints (default \(Config().checkpointEvery); on --resume, the run's own).") var checkpointEvery: Int?
    @Option(help: "Comma-separated held-out speakers (default: the dataset's test split when it is one by speaker, else the last speaker; on --resume, must be the run's).") var heldOut: CommaList<String>?
    @Option(help: "Random seed of weights and batches (default \(Config().seed); on --resume, must be the run's).") var seed: UInt64?
    @Option(help: "Also keep the checkpoint as checkpoint-<step>.safetensors every this many steps (0: only the latest).")
    var keepEvery = 0
    @Option(help: "Threads (OpenBLAS and the engine's loops).") var threads = 2
    @Flag(help: "Continue the run in --out from its checkpoint (same config, same random state).") var resume = false
    @Flag(help: "Discard the checkpoint in --out and start a new run.") var fresh = false
    @Flag(help: "Train data-parallel over the processes of an MPI job (`mpirun -np R cals train … --distributed`): each reads 1/R of every batch (the batch flags give the global batch), gradients and batch-norm statistics are summed over them, rank 0 alone writes the run's files.")
    var distributed = false
    @Option(help: "With --distributed: MiB of gradients per all-reduce bucket (buckets start during backward as their gradients are final).")
    var bucketMb = Double(MPIGradients.defaultBucketBytes) / 1048576
    @Flag(inversion: .prefixedNo, help: "With --distributed: start each bucket's all-reduce during backward (--no-overlap: all after backward).")
    var overlap = true

    func validate() throws {
        if resume && fresh { throw ValidationError("--resume and --fresh exclude each other") }
        if keepEvery < 0 { throw ValidationError("--keep-every must not be negative") }
        if let steps, steps <= 0 { throw ValidationError("--steps must be positive") }
        if let checkpointEvery, checkpointEvery <= 0 { throw ValidationError("--checkpoint-every must be positive") }
        if threads <= 0 { throw ValidationError("--threads must be positive") }
        if !(bucketMb > 0 && bucketMb < 1e6) { throw ValidationError("--bucket-mb must be positive (and below 1e6)") }
    }

    /// The run's config: with --resume the checkpoint's, else `newRun` with these flags; --steps and
    /// --checkpoint-every on top. A resumed run keeps its seed and held-out speakers: naming others
    /// is an error rather than silently ignored.
    func config(_ newRun: () -> Config) throws -> Config {
        var config: Config
        let heldOutSpeakers = heldOut?.values
        if resume {
            let path = RunFolder(out).checkpointPath
            config = try Config.stored.read(path)
            if let seed, seed != config.seed {
                throw InputError(path, "--seed \(seed) differs from the run's seed \(config.seed); a resumed run keeps its own")
            }
            if let heldOutSpeakers, heldOutSpeakers != config.heldOutSpeakers {
                throw InputError(path, "--held-out \(heldOutSpeakers.joined(separator: ",")) differs from the run's held-out speakers "
                                 + "\(config.heldOutSpeakers.isEmpty ? "(the last one)" : config.heldOutSpeakers.joined(separator: ","))"
                                 + "; a resumed run keeps its own")
            }
        } else {
            config = newRun()
            config.heldOutSpeakers = try heldOutSpeakers ?? LedgerReader(outFolder: data).testSpeakers()
            config.seed = seed ?? config.seed
        }
        if let checkpointEvery { config.checkpointEvery = checkpointEvery }
        if let steps { config.steps = steps }
        return config
    }

    /// This process's place in the run: with --distributed its MPI rank (MPI is initialised here
    /// and finalised when the trainer holding the rank goes), else a single process.
    func rank() throws -> TrainingRank {
        guard distributed else { return .single }
        let world = try MPIWorld()
        return try .distributed(world, gradients: MPIGradients(world: world, bucketBytes: Int(bucketMb * 1048576), overlapsBackward: overlap))
    }

    /// Runs `trainer` from its step to `steps`, keeping a copy of the checkpoint every
    /// --keep-every steps; the primary rank shows a progress line.
    func train(_ trainer: Trainer, to steps: Int, label: String, primary: Bool) throws {
        trainer.keepEvery = keepEvery
        let progress = primary ? Common.Progress(label: label, total: steps - trainer.step, unit: "steps") : nil
        try trainer.run(progress: progress)
        progress?.finish()
    }
}
