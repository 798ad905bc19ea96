import Common
import Foundation

/// `--partition i/n`: the items a plan assigns to part i (`PartitionPlan`, balanced by work),
/// and those it does not list by their id's hash modulo n (0 ≤ i < n), so n independent runs
/// share a dataset without talking to each other.
public struct Partition: Equatable, Sendable, CustomStringConvertible {
    public let index: Int
    public let count: Int
    /// Item id → part, from `--partition-plan` (empty: every item by hash).
    public var plan: [String: Int] = [:]

    public init(index: Int, count: Int) throws {
        guard count >= 1, (0..<count).contains(index) else {
            throw LedgerError("partition \(index)/\(count): needs n ≥ 1 and 0 ≤ i < n")
        }
        self.index = index
        self.count = count
    }

    /// Parses `i/n`.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else {
            throw LedgerError("partition '\(text)': expected i/n, for example 0/4")
        }
        try self.init(index: i, count: n)
    }

    public func contains(_ id: String) -> Bool {
        if let part = plan[id] { return part == index }
        return Int(stringHash64(id) % UInt64(count)) == index
    }

    public var description: String { "\(index)/\(count)" }
}

/// Which part of n each item goes to, balanced by expected work (the source's duration in
/// seconds): the longest items first, each to the part with the least work so far. Written by
/// `cals slurm preprocess` to `<out>/parts/plan.json`, read by `cals preprocess
/// --partition-plan`. Re-planning keeps every item where an earlier plan put it (its part's
/// output holds it) and places only new items.
public struct PartitionPlan: Codable, Equatable, Sendable {
    public var parts: Int
    /// Item id → part.
    public var items: [String: Int]
    /// Expected seconds of source per part.
    public var seconds: [Double]

    /// Places `work` (id, seconds) on `parts` parts, keeping `earlier`'s placements.
    public static func balance(_ work: [(id: String, seconds: Double)], parts: Int, keeping earlier: PartitionPlan? = nil) throws -> PartitionPlan {
        guard parts >= 1 else { throw LedgerError("a partition plan needs at least one part, not \(parts)") }
        if let earlier, earlier.parts != parts {
            throw LedgerError("the earlier plan has \(earlier.parts) parts, not \(parts): remove its parts folder to re-plan")
        }
        var plan = PartitionPlan(parts: parts, items: [:], seconds: Array(repeating: 0, count: parts))
        var new: [(id: String, seconds: Double)] = []
        for item in work {
            if let part = earlier?.items[item.id], (0..<parts).contains(part) {
                plan.items[item.id] = part
                plan.seconds[part] += item.seconds
            } else {
                new.append(item)
            }
        }
        for item in new.sorted(by: { ($0.seconds, $1.id) > ($1.seconds, $0.id) }) {
            let part = plan.seconds.indices.min { (plan.seconds[$0], $0) < (plan.seconds[$1], $1) }!
            plan.items[item.id] = part
            plan.seconds[part] += item.seconds
        }
        return plan
    }

    public static func load(_ path: String) throws -> PartitionPlan {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw InputError(path, "cannot read the partition plan: \(error.localizedDescription)")
        }
        guard let plan = try? JSONDecoder().decode(PartitionPlan.self, from: data), plan.parts >= 1,
              plan.seconds.count == plan.parts, plan.items.values.allSatisfy({ (0..<plan.parts).contains($0) }) else {
            throw InputError(path, "not a partition plan")
        }
        return plan
    }

    public func save(_ path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try EnvironmentError.fileOperation(path, "cannot write the partition plan") {
            try encoder.encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
        }
    }
}

/// What a run did.
public struct RunSummary: Sendable {
    public var listed = 0
    /// What the adapter tolerated or skipped (`DatasetListing.notes`).
    public var notes: [String] = []
    public var processed = 0
    public var upToDate = 0
    /// Items quarantined by this run, with their one-line reasons.
    public var quarantined: [(id: String, reason: String)] = []
    /// Items still quarantined from an earlier run (unchanged source and parameters).
    public var stillQuarantined = 0
    public var removed = 0
    public var rows = 0
    public var shardsWritten: [String] = []
    /// What each row stage of the manifest did, in order.
    public var rowStages: [RowStageResult] = []
    public var seconds = 0.0
    public init() {}

    /// Lip-unit shards written by the lip_units stage (paths).
    public var lipUnitShards: [String] { rowStages.first { $0.stage == LipUnitsStage.name }?.written ?? [] }

    public var lines: [String] {
        var out = notes + ["processed \(processed), up to date \(upToDate), quarantined \(quarantined.count)"
                   + (stillQuarantined > 0 ? " (+\(stillQuarantined) unchanged from earlier runs)" : "")
                   + (removed > 0 ? ", removed \(removed)" : "")
                   + "; \(rows) rows in \(shardsWritten.count) new shard(s); \(Progress.clock(seconds))"]
        out += rowStages.compactMap(\.line)
        if processed == 0 && quarantined.isEmpty && rowStages.allSatisfy(\.written.isEmpty) { out.append("everything is up to date") }
        out += quarantined.map { "quarantined \($0.id): \($0.reason)" }
        return out
    }
}

/// Runs a manifest over a data folder into an output folder (`<out>/ledger.sqlite`,
/// `<out>/shards/*.h5`): lists items, skips the up-to-date ones without decoding, processes the
/// rest on `workers` slots, appends new shards, quarantines bad files.
///
/// Each slot processes its items in a supervised worker process (`workerExecutable worker`,
/// see `WorkerProcess`), so that a crash or a hang costs one item, not the run; without a
/// `workerExecutable` the slots are threads of this process. A fault of the machine
/// (`EnvironmentError`: no space, I/O error, permission denied, a vanished folder, a worker
/// out of memory) stops the run with that error: what was recorded stays recorded, the open
/// shard is dropped and the item at hand is not quarantined.
public final class Runner {
    public let manifest: Manifest
    public let dataRoot: String
    public let outFolder: String
    public let partition: Partition?
    public var log: FileHandle = .standardError
    /// The `cals` binary to run workers from (nil: process items on threads of this process).
    public var workerExecutable: String?
    /// Retry every quarantined item (`--retry-quarantined`), not only those whose reason may
    /// have passed (see `QuarantineCause`).
    public var retryQuarantined = false
    /// Each worker process's resident-memory limit in bytes (`--worker-memory-limit`; nil: none).
    public var workerMemoryLimit: Int?

    public init(manifest: Manifest, dataRoot: String, outFolder: String, partition: Partition? = nil) {
        self.manifest = manifest
        self.dataRoot = dataRoot
        self.outFolder = outFolder
        self.partition = partition
    }

    public var shardsFolder: String { (outFolder as NSString).appendingPathComponent("shards") }
    /// Workers' item files and logs during a run (removed at its end and by the next run).
    var workFolder: String { (shardsFolder as NSString).appendingPathComponent(ShardFiles.workFolderName) }

    /// An item to (re)process, with everything the ledger will need.
    fileprivate struct Work {
        var item: SourceItem
        var fingerprint: FileFingerprint
        var keys: [(stage: String, key: String)]
    }

    public func run() throws -> RunSummary {
        let start = Date()
        let lock = try ShardFiles.lock(outFolder: outFolder)
        defer { close(lock) }
        let ledger = try Ledger(outFolder: outFolder, dataset: manifest.dataset, adapter: manifest.adapter.kind.rawValue)
        try ShardFiles.prepare(folder: shardsFolder, ledger: ledger) { self.say($0) }

        var summary = RunSummary()
        let found = try manifest.adapter.list(root: dataRoot)
        summary.notes = found.notes
        if let missing = found.missing {
            let file = (outFolder as NSString).appendingPathComponent("missing.txt")
            try EnvironmentError.fileOperation(file, "cannot write the list of missing videos") {
                try missing.map { $0 + "\n" }.joined().write(toFile: file, atomically: true, encoding: .utf8)
            }
        }
        var listing = manifest.split.assign(found.items)
        if let partition { listing = listing.filter { partition.contains($0.id) } }
        summary.listed = listing.count

        // Decide, without decoding, what needs work.
        let known = try ledger.items()
        var work: [Work] = []
        var fingerprints: [String: FileFingerprint] = [:]  // by source: the intervals of one video hash it once
        for item in listing {
            let path = (dataRoot as NSString).appendingPathComponent(item.source)
            let old = known[item.id].flatMap { $0.state == "removed" ? nil : $0 }
            var fingerprint: FileFingerprint
            var unreadable: Error?
            do {
                fingerprint = try fingerprints[item.source] ?? FileFingerprint.of(path, known: old?.fingerprint)
                fingerprints[item.source] = fingerprint
            } catch {
                // Not a readable regular file: keyed on what stat says, so a fix re-runs it.
                let stat = try? FileFingerprint.stat(path)
                fingerprint = FileFingerprint(size: stat?.size ?? -1, mtime: stat?.mtime ?? 0, contentHash: "unreadable")
                unreadable = error
            }
            let keys = manifest.stages.keys(fingerprint: item.inputKey(contentHash: fingerprint.contentHash))
            if let old, old.fingerprint.contentHash == fingerprint.contentHash, old.key == keys.last!.key,
               old.source == item.source, unreadable == nil || old.fingerprint == fingerprint, !mayRetry(old) {
                if old.fingerprint != fingerprint || (old.speaker, old.split, old.label) != (item.speaker, item.split, item.label)
                    || old.metadata != item.metadata {
                    try ledger.touch(item, fingerprint: fingerprint)
                }
                if old.state == "quarantined" { summary.stillQuarantined += 1 } else { summary.upToDate += 1 }
                continue
            }
            if let unreadable {
                try quarantine(Work(item: item, fingerprint: fingerprint, keys: keys), DecodeStage.name,
                               "\(unreadable)", ledger, &summary)
                continue
            }
            work.append(Work(item: item, fingerprint: fingerprint, keys: keys))
        }
        let listed = Set(listing.map(\.id))
        let gone = known.values.filter {
            $0.state != "removed" && !listed.contains($0.id) && (partition?.contains($0.id) ?? true)
        }.map(\.id).sorted()
        if !gone.isEmpty {
            try ledger.markRemoved(gone)
            summary.removed = gone.count
        }

        if !work.isEmpty { try process(work, ledger: ledger, summary: &summary) }
        let rowStages = Set(manifest.stages.rows.map { type(of: $0).name })
        for stage in PipelineStages.rowRegistry where !rowStages.contains(stage.name) {
            try stage.withdraw(outFolder: outFolder, ledger: ledger) { say($0) }
        }
        for stage in manifest.stages.rows {
            summary.rowStages.append(try stage.run(outFolder: outFolder, ledger: ledger) { say($0) })
        }
        summary.seconds = Date().timeIntervalSince(start)
        return summary
    }

    private func say(_ line: String) { log.write((line + "\n").data(using: .utf8)!) }

    /// Whether a quarantined item (else: nothing) is worth another try though its source and
    /// parameters did not change: always on `--retry-quarantined`; after a crash, under another
    /// cals; after a time-out, under another cals or a higher time limit.
    private func mayRetry(_ old: LedgerItem) -> Bool {
        guard old.state == "quarantined" else { return false }
        switch old.quarantineCause {
        case _ where retryQuarantined: return true
        case .input: return false
        case .crashed, .outOfMemory: return old.quarantineVersion != calsVersion
        case .timedOut: return old.quarantineVersion != calsVersion || manifest.itemTimeLimit > old.quarantineTimeLimit
        }
    }

    fileprivate func quarantine(_ work: Work, _ stage: String, _ reason: String, _ ledger: Ledger,
                                _ summary: inout RunSummary, cause: QuarantineCause = .input) throws {
        try ledger.recordQuarantine(ProcessedItem(item: work.item, fingerprint: work.fingerprint,
                                                  stageKeys: work.keys, rows: []),
                                    failedStage: stage, reason: reason, cause: cause, version: calsVersion,
                                    timeLimit: manifest.itemTimeLimit)
        summary.quarantined.append((work.item.id, reason))
    }

    /// Processes `work` on `manifest.workers` slots; results are appended to the open shard
    /// (closed and recorded once it reaches the target size, and at the end).
    private func process(_ work: [Work], ledger: Ledger, summary: inout RunSummary) throws {
        try EnvironmentError.fileOperation(workFolder, "cannot make the work folder") {
            try FileManager.default.createDirectory(atPath: workFolder, withIntermediateDirectories: true)
        }
        defer { try? FileManager.default.removeItem(atPath: workFolder) }
        // A worker that dies must not take the run with it through a write to its pipe.
        if workerExecutable != nil { signal(SIGPIPE, SIG_IGN) }
        let batch = Batch(runner: self, work: work, ledger: ledger, summary: summary)
        let group = DispatchGroup()
        for slot in 0..<min(manifest.workers, work.count) {
            group.enter()
            let thread = Thread {
                batch.slotLoop(slot)
                group.leave()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        group.wait()
        do {
            if let error = batch.firstError { throw error }
            try batch.flush()
        } catch {
            // One line for the cause, not for the first file that went with it.
            if !FileManager.default.fileExists(atPath: shardsFolder) {
                throw EnvironmentError("\(shardsFolder): the output folder was removed during the run", code: ENOENT)
            }
            throw error
        }
        batch.progress.finish()
        summary = batch.summary
    }

    /// One run's work list and what the worker threads share; everything mutable is touched
    /// under `lock` only (decoding and detection run outside it).
    /// @unchecked Sendable: its mutable properties are read and written only while holding `lock`.
    private final class Batch: @unchecked Sendable {
        let runner: Runner
        let work: [Work]
        let ledger: Ledger
        let progress: Common.Progress
        let shard: PendingShard
        let started = Date()
        let lock = NSLock()
        var next = 0
        var frames = 0
        var firstError: Error?
        var summary: RunSummary

        init(runner: Runner, work: [Work], ledger: Ledger, summary: RunSummary) {
            self.runner = runner
            self.work = work
            self.ledger = ledger
            self.summary = summary
            progress = Common.Progress(label: runner.manifest.dataset, total: work.count, unit: "items", output: runner.log)
            shard = PendingShard(folder: runner.shardsFolder, stages: runner.manifest.stages,
                                 runTag: ShardFiles.runTag(partition: runner.partition))
        }

        /// One slot: takes the next item, processes it (in its worker process, or on this
        /// thread), delivers.
        func slotLoop(_ slot: Int) {
            let manifest = runner.manifest
            let processor: ItemProcessor
            do {
                if let executable = runner.workerExecutable {
                    processor = WorkerProcess(executable: executable, configuration: try WorkerConfiguration(
                        stages: manifest.stages, workFolder: runner.workFolder, timeLimit: manifest.itemTimeLimit),
                        memoryLimit: runner.workerMemoryLimit, slot: slot)
                } else {
                    processor = try InProcessItems(stages: manifest.stages, spoolFolder: runner.shardsFolder,
                                                   timeLimit: manifest.itemTimeLimit)
                }
            } catch {
                lock.lock(); firstError = firstError ?? error; lock.unlock()
                return
            }
            defer { processor.stop() }
            var current = take()
            if let current { processor.begin(current.item, path: path(current)) }
            while let w = current {
                let outcome = processor.finish()
                // The worker starts on the next item while this one's rows go to the shard.
                current = take()
                if let next = current { processor.begin(next.item, path: path(next)) }
                lock.lock()
                do { try deliver(w, outcome) } catch { firstError = firstError ?? error }
                lock.unlock()
            }
        }

        /// The next item to process, or nil when there is none or the run is stopping.
        private func take() -> Work? {
            lock.lock()
            defer { lock.unlock() }
            guard firstError == nil, next < work.count else { return nil }
            next += 1
            return work[next - 1]
        }

        private func path(_ w: Work) -> String { (runner.dataRoot as NSString).appendingPathComponent(w.item.source) }

        /// Under `lock`: hands one result to the open shard, or quarantines the item, or (a
        /// fault of the machine) throws to stop the run. Once the run is stopping, results are
        /// dropped.
        private func deliver(_ w: Work, _ outcome: ItemOutcome) throws {
            switch outcome {
            case .done(let output, let itemFile):
                defer { if let itemFile { unlink(itemFile) } }
                guard firstError == nil else { return }
                summary.processed += 1
                summary.rows += output.rowCount
                frames += output.decodedFrameCount
                try shard.append(ProcessedItem(item: w.item, fingerprint: w.fingerprint, stageKeys: w.keys, rows: []), output)
                if shard.byteCount >= runner.manifest.shardTargetBytes { try flush() }
            case .failed(let stage, let reason, let cause):
                guard firstError == nil else { return }
                try runner.quarantine(w, stage, reason, ledger, &summary, cause: cause)
                progress.log("quarantined \(w.item.id): \(reason)")
            case .environment(let error):
                throw error
            }
            let rate = Double(frames) / max(Date().timeIntervalSince(started), 1e-6)
            progress.advance(note: String(format: "%.0f frames/s", rate))
        }

        /// Finishes the open shard (rename into place), then records it and its items.
        func flush() throws {
            guard let (record, items) = try shard.close() else { return }
            try ledger.recordShard(record, items: items)
            summary.shardsWritten.append(record.file)
        }
    }
}
