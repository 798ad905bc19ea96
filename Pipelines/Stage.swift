import Foundation

/// One step of preprocessing: a name, a version (bump it when the output changes for the same
/// input and parameters) and typed parameters. Each stage type also has a `run` taking the
/// previous stage's output; `ItemPipeline` chains them.
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
