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

        let quarantined = items.filter { $0.state == "quarantined" }
        lines.append("quarantined: \(quarantined.count)")
        for item in quarantined { lines.append("  \(item.id): \(item.error)") }
        text = lines.joined(separator: "\n") + "\n"
    }
}

/// Joins the output folders of partitioned runs into `outFolder`: ledgers merged, shard files
/// hard-linked (copied across file systems). Safe to repeat.
public func mergeOutputs(_ parts: [String], into outFolder: String) throws -> (items: Int, shards: Int) {
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
        for shard in try ledger.shards() {
            let source = (partShards as NSString).appendingPathComponent(shard.file)
            let destination = (targetShards as NSString).appendingPathComponent(shard.file)
            let size = (try? FileManager.default.attributesOfItem(atPath: destination)[.size] as? NSNumber)??.int64Value
            if size == shard.bytes { continue }
            try? FileManager.default.removeItem(atPath: destination)
            do {
                try FileManager.default.linkItem(atPath: source, toPath: destination)
            } catch {
                let temporary = (targetShards as NSString).appendingPathComponent(".\(shard.file).tmp")
                try? FileManager.default.removeItem(atPath: temporary)
                try FileManager.default.copyItem(atPath: source, toPath: temporary)
                try FileManager.default.moveItem(atPath: temporary, toPath: destination)
            }
        }
        try target.merge(from: ledger)
    }
    return (try target.items().count, try target.shards().count)
}
