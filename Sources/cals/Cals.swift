import ArgumentParser

@main
struct Cals: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cals",
        abstract: "Context-Aware Lip-Sync: preprocess talking-face video into shards, train, evaluate.",
        version: "0.1.0",
        subcommands: [ExtractCommand.self, PreprocessCommand.self, StatusCommand.self, MergeCommand.self, SlurmCommand.self,
                      DemoCorpusCommand.self, TrainCommand.self, SyncScoreCommand.self, EvalCommand.self,
                      ExperimentCommand.self, BenchCommand.self, DubCommand.self,
                      WorkerCommand.self])
}
