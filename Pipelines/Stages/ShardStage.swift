import Foundation
import Shards

/// `shard`: an item's rows → HDF5 shards (SPEC §2); its key is the key of an item's rows. The
/// rows are written by the run's open shard (`PendingShard`, in the supervisor), so the
/// stage's processor has nothing to do per item; `write` is what the shard does with them.
public struct ShardStage: ItemStage {
    public static let name = "shard"
    public static let version = 1
    public let parameters: NoParameters
    public init(parameters: NoParameters = NoParameters()) { self.parameters = parameters }

    public func makeProcessor() throws -> any StageProcessor { Processor() }

    private final class Processor: StageProcessor {}

    /// Writes rows `range` of `output` as one shard item: frames and frame indices, mel units,
    /// face boxes, and every column a stage added.
    static func write(_ output: ItemOutput, _ range: RowRange, _ item: ShardItem, to writer: ShardWriter) throws -> ShardItem {
        writer.beginItem(item)
        let rows = range.firstRow ..< range.firstRow + range.rowCount
        for row in rows {
            try writer.append(frame: output.crops.crop(row), frameIndex: Int(output.frameIndices[row]))
        }
        let unit = output.mel.count / max(output.rowCount, 1)
        try writer.append(melUnits: Array(output.mel[rows.lowerBound * unit ..< rows.upperBound * unit]))
        try writer.append(boxes: Array(output.boxes[rows.lowerBound * 4 ..< rows.upperBound * 4]))
        for column in output.columns {
            let size = column.rowSize
            try writer.append(column: column.name, rowShape: column.rowShape,
                              values: Array(column.values[rows.lowerBound * size ..< rows.upperBound * size]))
        }
        return try writer.endItem()
    }
}
