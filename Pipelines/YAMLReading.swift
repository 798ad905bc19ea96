import Foundation
import Yams

/// A mistake in a manifest: `<file>:<line>: <message>` (the message names the key).
public struct ManifestError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let line: Int
    public let message: String

    public init(_ file: String, _ line: Int, _ message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String { "\(file):\(line): \(message)" }
}

/// Reads one YAML mapping strictly: every key must be taken by the caller, so `finish()`
/// reports the first key nobody asked for; type errors name the key and its line.
struct YAMLMapping {
    let file: String
    let node: Node
    let context: String  // "adapter", "stage 'crop'", … for messages
    private var taken: Set<String> = []

    init(_ node: Node, file: String, context: String) throws {
        guard node.mapping != nil else {
            throw ManifestError(file, YAMLMapping.line(node), "\(context) must be a mapping")
        }
        self.node = node
        self.file = file
        self.context = context
    }

    static func line(_ node: Node?) -> Int { node?.mark?.line ?? 0 }

    private var pairs: [(key: String, keyNode: Node, value: Node)] {
        node.mapping!.map { (key: $0.key.string ?? "\($0.key)", keyNode: $0.key, value: $0.value) }
    }

    var keys: [String] { pairs.map(\.key) }

    func error(_ key: String, _ message: String) -> ManifestError {
        let pair = pairs.first { $0.key == key }
        return ManifestError(file, YAMLMapping.line(pair?.value ?? pair?.keyNode ?? node),
                             "\(context): key '\(key)' \(message)")
    }

    mutating func value(_ key: String) -> Node? {
        taken.insert(key)
        return pairs.first { $0.key == key }?.value
    }

    mutating func required(_ key: String) throws -> Node {
        guard let v = value(key) else {
            throw ManifestError(file, YAMLMapping.line(node), "\(context): missing key '\(key)'")
        }
        return v
    }

    mutating func string(_ key: String) throws -> String {
        let v = try required(key)
        guard let s = v.scalar?.string, !s.isEmpty else { throw error(key, "must be a non-empty string") }
        return s
    }

    mutating func string(_ key: String, default fallback: String) throws -> String {
        guard value(key) != nil else { return fallback }
        return try string(key)
    }

    mutating func int(_ key: String, default fallback: Int) throws -> Int {
        guard let v = value(key) else { return fallback }
        guard let i = v.int else { throw error(key, "must be an integer, got '\(v.string ?? "\(v)")'") }
        return i
    }

    mutating func double(_ key: String, default fallback: Double) throws -> Double {
        guard let v = value(key) else { return fallback }
        guard let d = v.float ?? v.int.map(Double.init) else {
            throw error(key, "must be a number, got '\(v.string ?? "\(v)")'")
        }
        return d
    }

    /// Throws for the first key that no caller asked for.
    func finish() throws {
        if let extra = pairs.first(where: { !taken.contains($0.key) }) {
            throw ManifestError(file, YAMLMapping.line(extra.keyNode),
                                "\(context): unknown key '\(extra.key)' (known: \(taken.sorted().joined(separator: ", ")))")
        }
    }
}

/// Typed parameters read from YAML against their defaults: every key of the YAML mapping must
/// be a stored property of `T` (found by reflecting `T()`, camelCase properties are snake_case
/// keys), every value must have the property's type; missing keys keep the defaults.
func decodeParameters<T: Codable & DefaultConstructible>(_ type: T.Type, from node: Node?,
                                                         file: String, context: String) throws -> T {
    guard let node, node.null == nil else { return T() }
    var mapping = try YAMLMapping(node, file: file, context: context)
    let fields = try readFields(like: T(), from: &mapping)
    try mapping.finish()
    return try JSONDecoder().decode(T.self, from: JSONSerialization.data(withJSONObject: fields))
}

/// The stored properties of `defaults` (by property name, for JSONDecoder), each read from its
/// snake_case key of `mapping` or kept at its default; properties named in `except` are left
/// to the caller.
func readFields(like defaults: Any, from mapping: inout YAMLMapping, except: Set<String> = []) throws -> [String: Any] {
    var fields: [String: Any] = [:]
    for child in Mirror(reflecting: defaults).children {
        guard let property = child.label, !except.contains(property) else { continue }
        let key = snakeCase(property)
        if let valueNode = mapping.value(key) {
            fields[property] = try yamlValue(valueNode, like: child.value) { mapping.error(key, $0) }
        } else {
            fields[property] = child.value
        }
    }
    return fields
}

/// `chinMargin` → `chin_margin`, `minIoU` → `min_iou`.
func snakeCase(_ name: String) -> String {
    var out = ""
    for c in name.replacingOccurrences(of: "IoU", with: "Iou") {
        if c.isUppercase { out += "_" + c.lowercased() } else { out.append(c) }
    }
    return out
}

/// Converts a YAML node to the Swift type of `example` (Int, Double, Bool, String, [String]).
private func yamlValue(_ node: Node, like example: Any, error: (String) -> ManifestError) throws -> Any {
    let shown = node.scalar?.string ?? "a \(node.sequence != nil ? "list" : "mapping")"
    switch example {
    case is Bool:
        guard let b = node.bool else { throw error("must be true or false, got '\(shown)'") }
        return b
    case is Int:
        guard let i = node.int else { throw error("must be an integer, got '\(shown)'") }
        return i
    case is Double, is Float:
        guard let d = node.float ?? node.int.map(Double.init) else {
            throw error("must be a number, got '\(shown)'")
        }
        return d
    case is String:
        guard node.scalar != nil, let s = node.string else { throw error("must be a string, got \(shown)") }
        return s
    case is [String]:
        guard let seq = node.sequence else { throw error("must be a list of strings, got '\(shown)'") }
        return try seq.map { item -> String in
            guard item.scalar != nil, let s = item.string else { throw error("must be a list of strings") }
            return s
        }
    default:
        throw error("has a type (\(type(of: example))) the manifest cannot set")
    }
}

/// Parameter types have a default value: every field optional in the manifest.
public protocol DefaultConstructible {
    init()
}
