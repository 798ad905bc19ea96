/// Packets of one stream read while decoding, and how many of them failed.
public struct StreamDamage: Codable, Hashable, Sendable {
    /// Packets of this stream read.
    public var packets: Int
    /// Packets that failed to decode (skipped).
    public var undecodable: Int
    /// No packet of the stream's first second decoded.
    public var firstSecondLost: Bool

    public init(packets: Int = 0, undecodable: Int = 0, firstSecondLost: Bool = false) {
        self.packets = packets
        self.undecodable = undecodable
        self.firstSecondLost = firstSecondLost
    }
}
