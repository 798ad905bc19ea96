import Foundation

/// What `cals status` prints about an output folder.
public struct StatusReport {
    public let text: String

    public init(outFolder: String) throws {
        let ledger = try Ledger(existing: outFolder)
        let items = try ledger.items().values.sorted { $0.id < $1.id }
        let shards = try ledger.shards()
        var lines = ["\(outFolder): dataset '\(ledger.dataset)', adapter \(ledger.adapter)"]

        var byState: [String: Int] = [:]
        for item in items { byState[item.state, default: 0] += 1 }
        lines.append("items: \(items.count)" + (byState.isEmpty ? "" : " (" +
            byState.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")"))

        lines += Self.splitLines(items.filter { $0.state != "removed" })

        lines.append("stages:")
        let counts = try ledger.stageCounts()
        for stage in PipelineStages.order {
            let states = counts.filter { $0.stage == stage }.sorted { $0.state < $1.state }
            lines.append("  \(stage.padding(toLength: 8, withPad: " ", startingAt: 0)) "
                         + (states.isEmpty ? "-" : states.map { "\($0.state) \($0.count)" }.joined(separator: ", ")))
        }

        let rows = try ledger.currentRows()
        let totalRows = shards.reduce(0) { $0 + $1.rows }
        let bytes = shards.reduce(Int64(0)) { $0 + $1.bytes }
        lines.append("shards: \(shards.count), \(totalRows) rows, \(ByteCountFormatter.string(fromByteCount: bytes, countStyle: .file)); "
                     + "\(rows.reduce(0) { $0 + $1.rowCount }) rows are current outputs")
        for shard in shards { lines.append("  \(shard.file)  \(shard.rows) rows  \(shard.bytes) bytes  \(shard.checksum)") }

        for stage in PipelineStages.rowRegistry { lines += try stage.statusLines(outFolder: outFolder, ledger: ledger) }

        let damaged = items.filter { $0.state == "done" && $0.videoDamage.undecodable + $0.audioDamage.undecodable > 0 }
        lines.append("processed with damage: \(damaged.count)")
        for item in damaged {
            lines.append("  \(item.id): " + [("video", item.videoDamage), ("audio", item.audioDamage)].map { name, damage in
                "\(name) \(damage.undecodable) of \(damage.packets) packets undecodable"
                    + (damage.firstSecondLost ? " (first second lost)" : "")
            }.joined(separator: ", "))
        }

        let quarantined = items.filter { $0.state == "quarantined" }
        lines.append("quarantined: \(quarantined.count)")
        for item in quarantined {
            let retry = [QuarantineCause.crashed: " [retried under another cals]",
                         .timedOut: " [retried under a higher item_time_limit]",
                         .outOfMemory: " [retried under another cals or --retry-quarantined]"][item.quarantineCause] ?? ""
            lines.append("  \(item.id): \(item.error)\(retry)")
        }
        text = lines.joined(separator: "\n") + "\n"
    }

    /// Items and speakers per split, and the speakers found in more than one split.
    static func splitLines(_ items: [LedgerItem]) -> [String] {
        var perSplit: [String: (items: Int, speakers: Set<String>)] = [:]
        var splitsOf: [String: Set<String>] = [:]
        for item in items {
            perSplit[item.split, default: (0, [])].items += 1
            perSplit[item.split, default: (0, [])].speakers.insert(item.speaker)
            splitsOf[item.speaker, default: []].insert(item.split)
        }
        var lines = ["splits: " + (perSplit.isEmpty ? "none" : perSplit.sorted { $0.key < $1.key }.map {
            "\($0.key) \($0.value.items) items / \($0.value.speakers.count) speakers"
        }.joined(separator: ", "))]
        let shared = splitsOf.filter { $0.value.count > 1 }.keys.sorted()
        if !shared.isEmpty { lines.append("  speakers in more than one split: \(shared.count) (\(shared.prefix(5).joined(separator: ", "))\(shared.count > 5 ? ", …" : ""))") }
        return lines
    }

    /// `cals status --item ID`: what the ledger records of one item, its rows and its metadata.
    public init(outFolder: String, item id: String) throws {
        let ledger = try Ledger(existing: outFolder)
        guard let item = try ledger.items()[id] else { throw LedgerError("\(outFolder): the ledger has no item '\(id)'") }
        var lines = ["\(item.id): \(item.state)" + (item.error.isEmpty ? "" : ": \(item.error)"),
                     "  source \(item.source)  content \(item.fingerprint.contentHash)",
                     "  speaker \(item.speaker)  split \(item.split)" + (item.label.isEmpty ? "" : "  label \(item.label)"),
                     "  key \(item.key)"]
        let rows = try ledger.currentRows().filter { $0.item == id }
        lines.append("  rows: \(rows.reduce(0) { $0 + $1.rowCount }) in \(rows.count) segment(s)")
        for r in rows { lines.append("    segment \(r.segment): \(r.shard) rows \(r.firstRow)..<\(r.firstRow + r.rowCount)") }
        if let d = try ledger.syncCuration()[id], d.key == item.key {
            lines.append(String(format: "  av_sync (checkpoint %@): offset %+d, confidence %.4f, %d windows; ", d.checkpoint, d.offset,
                                d.confidence, d.windows)
                         + (!d.excluded.isEmpty ? "dropped: \(d.excluded)" : d.shift != 0 ? "read with the audio \(d.shift) rows later" : "read as stored"))
            for s in try ledger.syncScores(checkpoint: d.checkpoint) where s.item == id && s.key == item.key && s.segment >= 0 {
                lines.append(String(format: "    segment %d: offset %+d, confidence %.4f, %d windows", s.segment, s.offset, s.confidence, s.windows))
            }
        }
        let tracks = try ledger.trackScores(item: id, key: item.key)
        if !tracks.isEmpty {
            lines.append("  active speaker: \(tracks.count) face track(s) in \(Set(tracks.map(\.shot)).count) shot(s)")
            lines += tracks.map { "    \($0.line)" }
        }
        lines.append("  metadata:" + (item.metadata.isEmpty ? " none" : ""))
        for (key, value) in item.metadata.sorted(by: { $0.key < $1.key }) {
            let rows = value.split(separator: "\n", omittingEmptySubsequences: false)
            if rows.count == 1 {
                lines.append("    \(key): \(value)")
            } else {
                lines.append("    \(key): (\(rows.count) rows)")
                lines += rows.map { "      \($0)" }
            }
        }
        text = lines.joined(separator: "\n") + "\n"
    }
}

/// Joins the output folders of partitioned runs into `outFolder`: ledgers merged, shard files
/// and lip-unit shard files hard-linked (copied across file systems). Safe to repeat. A file
/// name the merged ledger already records with other content is an error naming both files.
public func mergeOutputs(_ parts: [String], into outFolder: String) throws -> (items: Int, shards: Int, lipUnitShards: Int) {
    guard let first = parts.first else { throw LedgerError("merge: no folders to merge") }
    let firstLedger = try Ledger(existing: first)
    let lock = try ShardFiles.lock(outFolder: outFolder)
    defer { close(lock) }
    let target = try Ledger(outFolder: outFolder, dataset: firstLedger.dataset, adapter: firstLedger.adapter)
    let targetShards = (outFolder as NSString).appendingPathComponent("shards")
    try FileManager.default.createDirectory(atPath: targetShards, withIntermediateDirectories: true)
    for part in parts {
        let ledger = try Ledger(existing: part)
        guard ledger.dataset == target.dataset, ledger.adapter == target.adapter else {
            throw LedgerError("\(part): dataset '\(ledger.dataset)' (\(ledger.adapter)) does not match '\(target.dataset)' (\(target.adapter))")
        }
        // Check the part's shards are whole, then bring them over before the ledger rows.
        let partShards = (part as NSString).appendingPathComponent("shards")
        try ShardFiles.prepare(folder: partShards, ledger: ledger) { _ in }
        let knownShards = Dictionary(uniqueKeysWithValues: try target.shards().map { ($0.file, $0.checksum) })
        for shard in try ledger.shards() {
            try bringOver((partShards as NSString).appendingPathComponent(shard.file),
                          to: (targetShards as NSString).appendingPathComponent(shard.file),
                          bytes: shard.bytes, checksum: shard.checksum, recorded: knownShards[shard.file])
        }
        let knownUnits = Dictionary(uniqueKeysWithValues: try target.lipUnitShards().map { ("\($0.checkpoint)/\($0.file)", $0.checksum) })
        for unit in try ledger.lipUnitShards() {
            let source = (LipUnitsStage.folder(outFolder: part, checkpointHash: unit.checkpoint) as NSString).appendingPathComponent(unit.file)
            if let problem = LipUnitsStage.sizeProblem(source, recordedBytes: unit.bytes) {
                throw LedgerError("\(source): lip-unit shard \(problem)")
            }
            let folder = LipUnitsStage.folder(outFolder: outFolder, checkpointHash: unit.checkpoint)
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try bringOver(source, to: (folder as NSString).appendingPathComponent(unit.file), bytes: unit.bytes,
                          checksum: unit.checksum, recorded: knownUnits["\(unit.checkpoint)/\(unit.file)"])
        }
        try target.merge(from: ledger)
    }
    return (try target.items().count, try target.shards().count, try target.lipUnitShards().count)
}

/// Hard-links (or copies, across file systems) `source` to `destination` unless a file of
/// `bytes` is already there. `recorded`: the checksum the merged ledger records for that name;
/// another checksum than `source`'s is a name collision.
private func bringOver(_ source: String, to destination: String, bytes: Int64, checksum: String, recorded: String?) throws {
    if let recorded, recorded != checksum {
        throw LedgerError("\(source): name collides with \(destination), another file (checksum \(checksum), merged one \(recorded))")
    }
    if (try? FileFingerprint.stat(destination).size) == bytes { return }
    try? FileManager.default.removeItem(atPath: destination)
    do {
        try FileManager.default.linkItem(atPath: source, toPath: destination)
    } catch {
        let folder = (destination as NSString).deletingLastPathComponent
        let temporary = (folder as NSString).appendingPathComponent(".\((destination as NSString).lastPathComponent).tmp")
        try? FileManager.default.removeItem(atPath: temporary)
        try FileManager.default.copyItem(atPath: source, toPath: temporary)
        try FileManager.default.moveItem(atPath: temporary, toPath: destination)
    }
}
