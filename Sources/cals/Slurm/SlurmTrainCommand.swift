import ArgumentParser
import Common
import Foundation

/// `cals slurm train sync|a2l|l2f --out RUN --nodes N [--tasks-per-node K] [--cpus-per-task C]
/// [--launcher srun|mpirun] [--sbatch-options "…"] [--submit] -- TRAIN-FLAGS…`: a batch script
/// (`RUN/slurm/train.sbatch`) running `cals train MODEL --out RUN --distributed TRAIN-FLAGS…` as
/// N × K MPI ranks of C threads each.
struct SlurmTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Write (and submit) a Slurm batch job training a model data-parallel over MPI on N nodes.",
        discussion: """
            The ranks start with `srun --mpi=pmix` (Slurm launches them; needs Slurm built with PMIx, \
            `srun --mpi=list` shows it) or with `mpirun` (Open MPI reads the allocation from Slurm). \
            Every flag after `--` goes to `cals train MODEL`; the batch flags are the global batch, \
            which must split evenly over the ranks. --data and --out must be on a file system every \
            node sees. Rank 0 writes RUN's files; RUN/slurm/train-<job>.log is the job's output.
            """)

    enum Launcher: String, ExpressibleByArgument, CaseIterable { case srun, mpirun }

    @Argument(help: "The model: sync, a2l or l2f.") var model: String
    @Option(help: "Run folder (passed to `cals train` as --out; the script goes to <out>/slurm).") var out: String
    @Option(help: "Nodes.") var nodes: Int
    @Option(help: "MPI ranks per node.") var tasksPerNode = 1
    @Option(help: "Cores per rank (its --threads).") var cpusPerTask = 2
    @Option(help: "How the ranks start: srun (--mpi=pmix) or mpirun.") var launcher = Launcher.srun
    @Option(help: "sbatch options, given with = as they start with a dash: --sbatch-options=\"--partition=cpu --time=24:00:00\".")
    var sbatchOptions = ""
    @Flag(help: "Submit the job with sbatch.") var submit = false
    @Argument(parsing: .postTerminator, help: "Flags of `cals train MODEL` (after --), e.g. -- --data D --batch 64.")
    var trainFlags: [String] = []

    func validate() throws {
        guard ["sync", "a2l", "l2f"].contains(model) else { throw ValidationError("model: expected sync, a2l or l2f, got \(model)") }
        guard nodes >= 1, tasksPerNode >= 1, cpusPerTask >= 1 else {
            throw ValidationError("--nodes, --tasks-per-node and --cpus-per-task must be positive")
        }
        for flag in ["--out", "--threads", "--distributed"] where trainFlags.contains(where: { $0 == flag || $0.hasPrefix(flag + "=") }) {
            throw ValidationError("\(flag) after -- is set by the script; leave it out")
        }
    }

    func run() throws {
        let outFolder = Sbatch.absolute(out), slurmFolder = outFolder + "/slurm"
        try EnvironmentError.fileOperation(slurmFolder, "cannot make the folder") {
            try FileManager.default.createDirectory(atPath: slurmFolder, withIntermediateDirectories: true)
        }
        let start = launcher == .srun ? "srun --mpi=pmix" : "mpirun --bind-to none"
        let flags = trainFlags.map(Sbatch.quoted).joined(separator: " ")
        let script = slurmFolder + "/train.sbatch"
        try Sbatch.write(script, """
            #!/bin/bash
            #SBATCH --job-name=cals-train-\(model)
            #SBATCH --nodes=\(nodes)
            #SBATCH --ntasks-per-node=\(tasksPerNode)
            #SBATCH --cpus-per-task=\(cpusPerTask)
            #SBATCH --output=\(slurmFolder)/train-%j.log
            \(Sbatch.lines(sbatchOptions))set -euo pipefail
            exec \(start) \(Sbatch.quoted(try Sbatch.calsBinary())) train \(model) --out \(Sbatch.quoted(outFolder)) \\
              --threads "${SLURM_CPUS_PER_TASK:-1}" --distributed \(flags)

            """)
        print("wrote \(script) (\(nodes * tasksPerNode) ranks of \(cpusPerTask) threads, started by \(start))")
        guard submit else {
            print("submit with: sbatch \(script)")
            return
        }
        print("submitted job \(try Sbatch.submit(["--parsable", script]))")
    }
}
