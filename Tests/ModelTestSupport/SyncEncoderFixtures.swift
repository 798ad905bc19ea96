import Models

/// A small sync encoder for fast tests (ModelsTests, TrainingTests): widths 4…12, 32-d output.
public func tinySyncEncoderConfig() -> SyncEncoder.Config {
    var c = SyncEncoder.Config()
    c.visualChannels = [4, 6, 8, 8, 12]
    c.audioChannels = [4, 6, 8, 8, 12]
    c.outputDim = 32
    return c
}
