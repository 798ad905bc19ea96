import ArgumentParser
import Common
import Foundation
import Media
import Pipelines

/// `cals slurm preprocess|train …`: batch scripts for a Slurm cluster.
struct SlurmCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slurm",
        abstract: "Write (and submit) Slurm batch jobs.",
        subcommands: [SlurmPreprocessCommand.self, SlurmTrainCommand.self])
}

/// `cals slurm preprocess MANIFEST --data D --out O --tasks N [--sbatch-options "…"] [--submit]`:
/// a partition plan balanced by the sources' durations (`O/parts/plan.json`), an array job of N
/// tasks each running `cals preprocess --partition $SLURM_ARRAY_TASK_ID/N` into
/// `O/parts/$SLURM_ARRAY_TASK_ID` (`O/slurm/preprocess.sbatch`), and a merge job into O
/// (`O/slurm/merge.sbatch`) that runs once every task succeeded (afterok).
struct SlurmPreprocessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preprocess",
        abstract: "Write a Slurm array job preprocessing a dataset in N parts and a merge job after it.",
        discussion: """
            Each part is incremental like `cals preprocess`: submitting again after some tasks \
            failed re-runs only the items their parts miss (finished parts are up to date at \
            once), and keeps every item in the part the first plan gave it. `cals status --out O` \
            shows each part's progress. The dataset's root must be seen at the same path from \
            every node; --out is the merged result, with the parts in <out>/parts and the scripts \
            and logs in <out>/slurm.
            """)

    @OptionGroup var dataset: PreprocessDatasetOptions

    @Option(help: "Array tasks (parts).")
    var tasks: Int

    @Option(help: "sbatch options for both jobs, given with = as they start with a dash: --sbatch-options=\"--partition=cpu --time=04:00:00\".")
    var sbatchOptions = ""

    @Flag(help: "Submit the two jobs with sbatch.")
    var submit = false

    func validate() throws {
        guard (1...10_000).contains(tasks) else { throw ValidationError("--tasks: expected 1 to 10000, got \(tasks)") }
    }

    func run() throws {
        let manifestPath = Sbatch.absolute(dataset.manifest), dataRoot = Sbatch.absolute(dataset.data)
        let outFolder = Sbatch.absolute(dataset.out)
        let loaded = try Manifest.load(manifestPath)
        let partsFolder = outFolder + "/parts", slurmFolder = outFolder + "/slurm"
        for folder in [partsFolder, slurmFolder] {
            try EnvironmentError.fileOperation(folder, "cannot make the folder") {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            }
        }

        let planPath = partsFolder + "/plan.json"
        let earlier = FileManager.default.fileExists(atPath: planPath) ? try PartitionPlan.load(planPath) : nil
        let items = try loaded.adapter.list(root: dataRoot).items
        let plan = try PartitionPlan.balance(try expectedSeconds(items, dataRoot: dataRoot), parts: tasks, keeping: earlier)
        try plan.save(planPath)
        print("plan: \(items.count) items on \(tasks) parts, expected seconds per part "
              + plan.seconds.map { String(format: "%.0f", $0) }.joined(separator: ", ") + " (\(planPath))")

        let cals = try Sbatch.calsBinary()
        let options = Sbatch.lines(sbatchOptions)
        let array = slurmFolder + "/preprocess.sbatch", merge = slurmFolder + "/merge.sbatch"
        try Sbatch.write(array, """
            #!/bin/bash
            #SBATCH --job-name=cals-preprocess-\(loaded.dataset)
            #SBATCH --array=0-\(tasks - 1)
            #SBATCH --output=\(slurmFolder)/part-%a.log
            \(options)set -euo pipefail
            exec \(Sbatch.quoted(cals)) preprocess \(Sbatch.quoted(manifestPath)) --data \(Sbatch.quoted(dataRoot)) \\
              --out \(Sbatch.quoted(partsFolder))/"$SLURM_ARRAY_TASK_ID" --partition "$SLURM_ARRAY_TASK_ID/\(tasks)" \\
              --partition-plan \(Sbatch.quoted(planPath)) --workers "${SLURM_CPUS_PER_TASK:-1}"

            """)
        let partFolders = (0..<tasks).map { Sbatch.quoted("\(partsFolder)/\($0)") }.joined(separator: " ")
        try Sbatch.write(merge, """
            #!/bin/bash
            #SBATCH --job-name=cals-merge-\(loaded.dataset)
            #SBATCH --output=\(slurmFolder)/merge.log
            \(options)set -euo pipefail
            exec \(Sbatch.quoted(cals)) merge --out \(Sbatch.quoted(outFolder)) \(partFolders)

            """)
        print("wrote \(array) and \(merge)")
        guard submit else {
            print("submit with: merge_after=$(sbatch --parsable \(array)) && sbatch --dependency=afterok:$merge_after \(merge)")
            return
        }
        let arrayJob = try Sbatch.submit(["--parsable", array])
        let mergeJob = try Sbatch.submit(["--parsable", "--dependency=afterok:\(arrayJob)", merge])
        print("submitted array job \(arrayJob) (\(tasks) tasks) and merge job \(mergeJob) (after every task succeeds)")
    }

    /// (id, seconds) of every item: its duration from a fast probe; items whose duration is
    /// unknown (or that cannot be opened: they will be quarantined) count as the median.
    private func expectedSeconds(_ items: [SourceItem], dataRoot: String) throws -> [(id: String, seconds: Double)] {
        let probed = items.map { item in
            // An interval item (HDTF) takes its interval's length; a whole file, its probed duration.
            (id: item.id, seconds: item.frames.map { Double($0.count) / 25 }
                ?? (try? MediaProbe.duration(of: (dataRoot as NSString).appendingPathComponent(item.source))) ?? nil)
        }
        let known = probed.compactMap(\.seconds).sorted()
        let median = known.isEmpty ? 1 : known[known.count / 2]
        return probed.map { ($0.id, $0.seconds ?? median) }
    }
}

/// What the Slurm commands share: absolute paths, bash quoting, `#SBATCH` lines, writing a batch
/// script and submitting it.
enum Sbatch {
    /// `path` made absolute against the current folder (the job runs elsewhere).
    static func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
            .standardizedFileURL.path
    }

    /// `#SBATCH` lines for `options`: each word starting with `-` begins a line, words after it
    /// (`--time 1:00:00`) stay on it.
    static func lines(_ options: String) -> String {
        var lines: [String] = []
        for word in options.split(whereSeparator: \.isWhitespace).map(String.init) {
            if word.hasPrefix("-") || lines.isEmpty { lines.append("#SBATCH " + word) } else { lines[lines.count - 1] += " " + word }
        }
        return lines.map { $0 + "\n" }.joined()
    }

    /// This binary's path, which the job runs.
    static func calsBinary() throws -> String { try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") }

    /// `text` in single quotes for bash.
    static func quoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    static func write(_ path: String, _ text: String) throws {
        try EnvironmentError.fileOperation(path, "cannot write the batch script") {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
    }

    /// Runs sbatch; the job id it prints with --parsable.
    static func submit(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["sbatch"] + arguments
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let complaint = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let id = printed.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
        guard process.terminationStatus == 0, !id.isEmpty, id.allSatisfy(\.isNumber) else {
            let words = complaint.split(whereSeparator: \.isNewline).joined(separator: " ")
            throw InputError("sbatch", "failed (exit \(process.terminationStatus)): \(words.isEmpty ? printed : words)")
        }
        return id
    }
}

/// Lines for `cals status` on a folder filled by `cals slurm preprocess`: per part, the items
/// done and quarantined of those the plan gave it (nil when `outFolder` has no parts).
func partsProgress(outFolder: String) throws -> [String]? {
    let partsFolder = (outFolder as NSString).appendingPathComponent("parts")
    let planPath = (partsFolder as NSString).appendingPathComponent("plan.json")
    guard FileManager.default.fileExists(atPath: planPath) else { return nil }
    let plan = try PartitionPlan.load(planPath)
    var planned = Array(repeating: 0, count: plan.parts)
    for part in plan.items.values { planned[part] += 1 }
    var lines = ["parts: \(plan.parts) (\(planPath))"]
    for part in 0..<plan.parts {
        let folder = (partsFolder as NSString).appendingPathComponent("\(part)")
        guard FileManager.default.fileExists(atPath: (folder as NSString).appendingPathComponent("ledger.sqlite")) else {
            lines.append("  part \(part): not started, \(planned[part]) items planned")
            continue
        }
        let items = try Ledger(existing: folder).items().values
        let done = items.filter { $0.state == "done" }.count, quarantined = items.filter { $0.state == "quarantined" }.count
        lines.append("  part \(part): \(done + quarantined) of \(planned[part]) items finished (\(done) done, \(quarantined) quarantined)")
    }
    return lines
}
