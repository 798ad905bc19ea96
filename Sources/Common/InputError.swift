/// A problem with one input (a video, a photo, a shard, a checkpoint) that the user can fix.
///
/// Printed as the one line `error: <file>: <reason>`; a run that meets one quarantines the item
/// and goes on.
public struct InputError: Error, CustomStringConvertible, Equatable, Sendable {
    public let path: String
    public let reason: String

    public init(_ path: String, _ reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}
