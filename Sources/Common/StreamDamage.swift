/// Packets of one stream read while decoding, and how many of them failed.
///
/// Made by the decoders in Media (`VideoDecoder.damage`, `AudioClip.damage`); Media's
/// `DamageBound` decides when damage makes an item unusable.
public struct StreamDamage: Codable, Hashable, Sendable {
    public var packets: Int          // packets of this stream read
    public var undecodable: Int      // packets that failed to decode (skipped)
    public var firstSecondLost: Bool // no packet of the stream's first second decoded

    public init(packets: Int = 0, undecodable: Int = 0, firstSecondLost: Bool = false) {
        self.packets = packets
        self.undecodable = undecodable
        self.firstSecondLost = firstSecondLost
    }
}
