import Common
import Foundation
import Yams

/// One step of preprocessing: a name, a version (bump it when the output changes for the same
/// input and parameters) and typed parameters (every field has a default; a manifest sets any
/// of them by its snake_case name). The name, version and parameters make the stage's key.
public protocol Stage: Sendable {
    associatedtype Parameters: Codable & Equatable & Sendable & DefaultConstructible
    static var name: String { get }
    static var version: Int { get }
    var parameters: Parameters { get }
    init(parameters: Parameters)
}

extension Stage {
    /// The parameters as JSON with sorted keys: hashed into the output key, stored in shards.
    public var parametersJSON: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try! encoder.encode(parameters), as: UTF8.self)
    }

    /// The key of this stage's output for an input whose key (or file fingerprint) is `input`:
    /// hash(input, name, version, parameters). Chained, so a change re-keys every later stage.
    public func key(input: String) -> String {
        stringHash("\(input)|\(Self.name)|v\(Self.version)|\(parametersJSON)")
    }
}

/// A stage every item streams through, in the order of `PipelineStages.registry`. Its one
/// interface is a processor (one per thread, reused item after item) that gets, for each item,
/// `begin`, then `push` for every 25 fps frame decoded from the video, then `finish`; it reads
/// what the stages before it left in the `ItemStream` and adds its own part (see `ItemStream`
/// for who sets what). Adding a stage: one file under Pipelines/Stages/ with a type conforming
/// to `ItemStage`, plus its line in `PipelineStages.registry`.
///
/// `Codable`: the supervisor hands the stages to its worker processes as JSON.
public protocol ItemStage: Stage, Codable {
    /// The stage as the manifest entry `- <name>: <node>` sets it (node nil: every default).
    /// The default implementation reads `Parameters` strictly: unknown keys and wrong types are
    /// `ManifestError`s naming the key and line.
    static func read(_ node: Node?, file: String, context: String) throws -> Self
    /// A processor for the items of one thread (it may own a detector, a transform, buffers).
    func makeProcessor() throws -> any StageProcessor
}

extension ItemStage {
    static func withDefaults() -> any ItemStage { Self(parameters: Parameters()) }

    /// The stage from its JSON (`JSONEncoder().encode(stage)`).
    static func decoded(from json: Data) throws -> any ItemStage { try JSONDecoder().decode(Self.self, from: json) }

    public static func read(_ node: Node?, file: String, context: String) throws -> Self {
        Self(parameters: try decodeParameters(Parameters.self, from: node, file: file, context: context))
    }
}

/// The per-thread side of an `ItemStage`. Errors thrown here are the item's failure in this
/// stage (quarantined with their one-line reason), except `EnvironmentError`s (the machine's
/// fault: they stop the run) and `StageFailure`s (already attributed to a stage).
public protocol StageProcessor: AnyObject {
    /// Before the item's first frame.
    func begin(_ item: ItemStream) throws
    /// One 25 fps RGB frame of the item's video (frames arrive in order, `item.decodedFrameCount`
    /// already counts this one).
    func push(_ frame: RGBImage, _ item: ItemStream) throws
    /// After the item's last frame; the stages finish in registry order.
    func finish(_ item: ItemStream) throws
}

extension StageProcessor {
    public func begin(_ item: ItemStream) throws {}
    public func push(_ frame: RGBImage, _ item: ItemStream) throws {}
    public func finish(_ item: ItemStream) throws {}
}

/// Runs `body` as work of stage `stage`: its errors become `StageFailure(stage)`, except errors
/// already attributed to a stage and the machine's `EnvironmentError`s, which pass as they are.
func attributed<T>(to stage: String, _ body: () throws -> T) throws -> T {
    do { return try body() } catch let error as StageFailure { throw error } catch let error as EnvironmentError {
        throw error
    } catch { throw StageFailure(stage: stage, error: error) }
}

/// An optional stage over the rows the ledger records, after the item stages (`lip_units`,
/// `av_sync`): it reads finished frame shards, not video; its output is keyed by the content of
/// a sync encoder checkpoint (a new checkpoint makes new output beside the old, and the item
/// stages' keys never depend on it); it records what it makes in the ledger and, run again,
/// does only what the ledger does not record for that checkpoint yet. Adding one: a file under
/// Pipelines/Stages/ plus its line in `PipelineStages.rowRegistry`.
///
/// Its unit of work is the stage's own (lip_units writes one unit shard per frame shard, row for
/// row, removed items included; av_sync scores each current item over its segments), so the
/// runner hands it the ledger rather than pushing rows one by one.
public protocol RowStage: Stage {
    /// The sync encoder checkpoint (`cals train sync`) whose content keys the output; the
    /// manifest must name one.
    var checkpoint: String { get }
    /// The stage as the manifest entry `- <name>: <node>` sets it (default: `Parameters` read
    /// strictly, as for item stages).
    static func read(_ node: Node?, file: String, context: String) throws -> Self
    /// Brings the stage's output up to date with the rows `ledger` records; `say` gets one line
    /// per thing done.
    func run(outFolder: String, ledger: Ledger, say: (String) -> Void) throws -> RowStageResult
    /// What a run whose manifest lists no such stage does (default: nothing).
    static func withdraw(outFolder: String, ledger: Ledger, say: (String) -> Void) throws
    /// The stage's lines in `cals status`.
    static func statusLines(outFolder: String, ledger: Ledger) throws -> [String]
}

/// What one run of a row stage did: the outputs it wrote (paths, or item ids) and its line for
/// the run summary (nil: nothing to say).
public struct RowStageResult: Sendable {
    public var stage: String
    public var written: [String]
    public var line: String?
    public init(stage: String, written: [String], line: String?) {
        (self.stage, self.written, self.line) = (stage, written, line)
    }
}

extension RowStage {
    public static func read(_ node: Node?, file: String, context: String) throws -> Self {
        Self(parameters: try decodeParameters(Parameters.self, from: node, file: file, context: context))
    }

    public static func withdraw(outFolder: String, ledger: Ledger, say: (String) -> Void) throws {}
}
