import AudioFeatures
import Common
import Face
import Foundation
import Media
import Shards

/// The rows one video gives: every kept face frame with its crop, audio unit, box and segment.
public struct ItemOutput: Sendable {
    public var cropSize: Int
    /// N crops of S×S RGB, S = cropSize, spooled on disk (read a row with `crops.crop(row)`).
    public var crops: CropSpool
    /// [N, 80, 4] float32: the audio unit of each row.
    public var mel: [Float]
    /// [N, 4] int32: smoothed face box (x, y, width, height) in source pixels.
    public var boxes: [Int32]
    /// [N] int32: segment number (0, 1, … in order).
    public var segments: [Int32]
    /// [N] int64: the row's frame on the source's 25 fps timeline (shards' `frame_index`), also
    /// for an interval item (`SourceItem.frames`), whose stages count from the interval's start.
    public var frameIndices: [Int64]
    /// 25 fps frames decoded from the source (kept or not).
    public var decodedFrameCount: Int
    /// Packets read and packets that failed to decode, per stream.
    public var videoDamage = StreamDamage()
    public var audioDamage = StreamDamage()
    /// Per-row datasets that stages add beside frames and mel (`ItemStream.addColumn`).
    public var columns: [RowColumn] = []
    /// With `speaker: active`: how every face track scored (the ledger records them).
    public var trackScores: [TrackScore] = []

    public var rowCount: Int { segments.count }
    /// Bytes of frames + mel (what the shard target size counts).
    public var byteCount: Int { rowCount * cropSize * cropSize * 3 + mel.count * 4 }

    /// (segment, first row, row count) for each segment, in row order.
    public var segmentRanges: [RowRange] {
        var out: [RowRange] = []
        for (row, s) in segments.enumerated() {
            if let last = out.last, last.segment == Int(s) { out[out.count - 1].rowCount += 1 } else {
                out.append(RowRange(segment: Int(s), firstRow: row, rowCount: 1))
            }
        }
        return out
    }
}

/// A per-row dataset a stage adds to an item's rows: `values` is [N, rowShape...] float32, N the
/// item's row count. Shards store it as the dataset `name` of shape [rows, rowShape...],
/// aligned row for row with `frames`; every item of a run must give the same columns.
public struct RowColumn: Equatable, Sendable {
    public var name: String
    public var rowShape: [Int]
    public var values: [Float]

    public init(name: String, rowShape: [Int], values: [Float]) {
        self.name = name
        self.rowShape = rowShape
        self.values = values
    }

    /// Floats per row.
    public var rowSize: Int { rowShape.reduce(1, *) }
}

/// Which stage an item failed in, and why (the one-line `InputError` reason).
public struct StageFailure: Error, CustomStringConvertible {
    public let stage: String
    public let error: Error
    public var description: String { "\(error)" }
}

/// An item that took longer than its time limit: a reason that may pass (a raised
/// `item_time_limit` retries it), unlike the `InputError`s of a bad file.
public struct TimeLimitExceeded: Error, CustomStringConvertible {
    public let path: String
    public let seconds: Double
    public var description: String { "\(path): took longer than the time limit of \(Int(seconds)) s" }
}


/// One item on its way through the item stages (`ItemPipeline.process`). What each registered
/// stage sets here for the stages after it:
///
///     decode   video (the frame source), audio (decoded on a thread of its own), damage
///     face     the rows: crops, boxes, segments, frameIndices (`appendRow`), trackScores
///     mel      logMel [F, 80] (computed on the audio's thread)
///     align    mel [N, 80, 4], the audio unit of each row
///
/// A stage that records more per row adds a column (`addColumn`) in its `finish`.
public final class ItemStream {
    public let path: String
    /// Only these 25 fps timeline frames of the file (an interval item); nil: all of it.
    public let frames: Range<Int>?
    /// What the dataset says about the item (`SourceItem.metadata`): the face stage reads its
    /// detection hints (`DetectionHints.metadataKey`) from it.
    public let metadata: [String: String]
    public let timeLimit: TimeInterval
    public let deadline: Date
    /// Where the crops wait on disk (an unlinked spool in `spoolFolder`, or a worker's item
    /// file at `spoolPath`, which stays).
    let spoolFolder: String
    let spoolPath: String?

    public var video: VideoDecoder?
    public var audio: Background<AudioClip>?
    public var logMel: Background<[Float]>?
    /// 25 fps frames decoded so far (kept or not); counted by the pipeline.
    public internal(set) var decodedFrameCount = 0
    public var videoDamage = StreamDamage()
    public var audioDamage = StreamDamage()

    public private(set) var crops: CropSpool?
    /// [N, 4] int32, [N] int32, [N] int64: see `ItemOutput`.
    public private(set) var boxes: [Int32] = []
    public private(set) var segments: [Int32] = []
    public private(set) var frameIndices: [Int64] = []
    /// [N, 80, 4]
    public var mel: [Float] = []
    public private(set) var columns: [RowColumn] = []
    public var trackScores: [TrackScore] = []
    private var background: [() -> Void] = []

    init(path: String, frames: Range<Int>?, metadata: [String: String], timeLimit: TimeInterval, spoolFolder: String,
         spoolPath: String?) {
        self.path = path
        self.frames = frames
        self.metadata = metadata
        self.timeLimit = timeLimit
        deadline = Date().addingTimeInterval(timeLimit)
        self.spoolFolder = spoolFolder
        self.spoolPath = spoolPath
    }

    public var rowCount: Int { segments.count }

    /// Keeps one row: a square RGB crop (every crop of an item has the first one's size), its
    /// face box (x, y, width, height), segment and frame index on the 25 fps timeline.
    public func appendRow(crop: RGBImage, box: [Int32], segment: Int, frameIndex: Int) throws {
        precondition(box.count == 4 && crop.width == crop.height, "appendRow: a square crop and a box of 4")
        if crops == nil {
            crops = try spoolPath.map { try CropSpool(creating: $0, size: crop.width) }
                ?? CropSpool(folder: spoolFolder, size: crop.width)
        }
        try crops!.append(crop)
        boxes += box
        segments.append(Int32(segment))
        frameIndices.append(Int64(frameIndex))
    }

    /// Adds a per-row dataset of the item (call it once the rows are final, in `finish`):
    /// `values` holds `rowCount` rows of `rowShape` floats.
    public func addColumn(_ name: String, rowShape: [Int], values: [Float]) {
        let column = RowColumn(name: name, rowShape: rowShape, values: values)
        precondition(values.count == rowCount * column.rowSize, "column \(name): \(values.count) values for \(rowCount) rows of \(rowShape)")
        precondition(!columns.contains { $0.name == name } && !ShardFormat.rowDatasets.contains(name),
                     "column \(name) is already a dataset of the rows")
        columns.append(column)
    }

    /// Runs `body` on a thread of its own; the pipeline waits for it before the item ends, even
    /// when the item fails.
    public func inBackground<T>(_ body: @escaping () throws -> T) -> Background<T> {
        let task = Background(body)
        background.append(task.wait)
        return task
    }

    func waitForBackgroundWork() { for wait in background { wait() } }

    /// The finished rows, their frame indices moved from the interval's start to the source's.
    func output() throws -> ItemOutput {
        guard let crops else { throw InputError(path, "no rows") }
        let start = Int64(frames?.lowerBound ?? 0)
        var out = ItemOutput(cropSize: crops.size, crops: crops, mel: mel, boxes: boxes, segments: segments,
                             frameIndices: frameIndices.map { $0 + start }, decodedFrameCount: decodedFrameCount)
        out.videoDamage = videoDamage
        out.audioDamage = audioDamage
        out.columns = columns
        out.trackScores = trackScores
        return out
    }
}

/// A value computed on a thread of its own (an item's audio while its video is decoded).
/// @unchecked Sendable: the thread writes `result` before it leaves `done`, and `result` is read
/// only after waiting on `done`.
public final class Background<T>: @unchecked Sendable {
    private let done = DispatchGroup()
    private var result: Result<T, Error> = .failure(CancellationError())

    /// The work on its way to its thread.
    /// @unchecked Sendable: the caller hands the closure over and only the new thread calls it.
    private struct Work: @unchecked Sendable {
        let body: () throws -> T
    }

    init(_ body: @escaping () throws -> T) {
        done.enter()
        let work = Work(body: body)
        Thread.detachNewThread { [self] in
            result = Result { try work.body() }
            done.leave()
        }
    }

    func wait() { done.wait() }

    /// Waits for the value; rethrows the error that ended the work.
    public func value() throws -> T {
        done.wait()
        return try result.get()
    }
}

/// Runs the item stages of `stages` on one video: the single per-item path used by both
/// `cals extract` and the preprocess runner. Owns one processor per stage (a face detector, a
/// mel transform), so use one per thread.
public final class ItemPipeline {
    public let stages: PipelineStages
    /// Where the crops of an item wait on disk until the item is done (see `CropSpool`).
    public let spoolFolder: String
    private let processors: [(stage: String, processor: any StageProcessor)]

    public init(stages: PipelineStages, spoolFolder: String = NSTemporaryDirectory()) throws {
        self.stages = stages
        self.spoolFolder = spoolFolder
        processors = try stages.all.map { (type(of: $0).name, try $0.makeProcessor()) }
    }

    /// Processes `path`, giving up with `TimeLimitExceeded` after `timeLimit` seconds. Errors
    /// are `StageFailure`s naming the stage; an `EnvironmentError` (the spool's disk) is thrown
    /// as it is, since it is no fault of the item. The crops go to an unlinked spool in
    /// `spoolFolder`, or to a new file at `spoolPath` that stays (a worker's item file).
    /// `frames`: only those 25 fps timeline frames of the file and their audio (an interval item).
    /// `metadata`: what the dataset says about the item (`SourceItem.metadata`).
    public func process(_ path: String, frames: Range<Int>? = nil, metadata: [String: String] = [:],
                        timeLimit: TimeInterval, spoolPath: String? = nil) throws -> ItemOutput {
        let item = ItemStream(path: path, frames: frames, metadata: metadata, timeLimit: timeLimit, spoolFolder: spoolFolder,
                              spoolPath: spoolPath)
        defer { item.waitForBackgroundWork() }
        for (stage, processor) in processors { try attributed(to: stage) { try processor.begin(item) } }
        guard let video = item.video else { preconditionFailure("the first stage (decode) opens the video") }
        while let frame = try attributed(to: DecodeStage.name, { try video.nextFrame() }) {
            item.decodedFrameCount += 1
            for (stage, processor) in processors { try attributed(to: stage) { try processor.push(frame, item) } }
            if Date() > item.deadline {
                throw StageFailure(stage: DecodeStage.name, error: TimeLimitExceeded(path: path, seconds: timeLimit))
            }
        }
        for (stage, processor) in processors { try attributed(to: stage) { try processor.finish(item) } }
        return try attributed(to: ShardStage.name) { try item.output() }
    }
}
