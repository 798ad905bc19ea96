import Common
import Models
import NN
import Tensor

/// The checkpoint of an L2F run (`checkpoint.safetensors`): generator, discriminator, lip encoder,
/// both Adam states, the generator side's moving average under `average.<name>`, and in the
/// metadata both optimiser steps, the random state, the config and the fingerprints of the sync
/// encoder and A2L the run started from.
extension L2FTrainer {
    public func saveCheckpoint() throws {
        let metadata = try L2FTrainingConfig.stored.metadata(config).merging(["sync_fingerprint": syncFingerprint]) { $1 }
            .merging(a2lFingerprint.map { ["a2l_fingerprint": $0] } ?? [:]) { $1 }
        try Checkpoint.save(models.trainingTensors(lip: lip) + prefixed("average", models.average.named), steps: models.optimizerSteps,
                            context: context, to: checkpointPath, extra: metadata)
        try plotMetrics(L2FRecord.panels(log), to: plotPath)
    }

    /// A checkpoint given to resume a run must be the one the run recorded under `key` (runs from
    /// before fingerprints accept any).
    static func requireSame(_ fingerprint: String, _ metadata: [String: String], key: String, path: String, model: String,
                            run: String) throws {
        guard let recorded = metadata[key], recorded != fingerprint else { return }
        throw InputError(path, "is not the \(model) the run in \(run) started from (weights \(fingerprint), the run's \(recorded)); "
                         + "resume with that one")
    }
}

extension L2FModels {
    /// What a checkpoint holds to resume training with the lip encoder `lip` (besides the moving average).
    func trainingTensors(lip: LipEncoder) -> [(String, Tensor)] {
        prefixed("generator", generator.stateDict) + prefixed("discriminator", discriminator.stateDict)
            + prefixed("lip", lip.stateDict)
            + generatorOptimizer.state(prefix: "optimizer.generator.")
            + discriminatorOptimizer.state(prefix: "optimizer.discriminator.")
    }

    /// Each optimiser's step in the metadata.
    var optimizerSteps: [(key: String, optimizer: Adam)] {
        [("generator_step", generatorOptimizer), ("discriminator_step", discriminatorOptimizer)]
    }

    /// Restores a checkpoint's weights, optimiser states and steps, random state and moving average.
    func restore(_ tensors: [String: Tensor], _ metadata: [String: String], lip: LipEncoder, path: String) throws {
        try Checkpoint.restore(tensors, metadata, into: trainingTensors(lip: lip), steps: optimizerSteps, context: context, path: path)
        // Checkpoints from before the moving average: it starts at the loaded weights.
        if try !L2FCheckpoint.copyAverage(tensors, into: prefixed("average", average.named), path: path) { average.restart() }
    }
}
