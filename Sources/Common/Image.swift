/// An 8-bit RGB image, rows top to bottom, pixels packed `R G B` with no row padding.
/// The currency between decoding (Media), face work (Face), the corpus and the shards.
public struct RGBImage: Equatable, Sendable {
    public let width: Int
    public let height: Int
    /// `height * width * 3` bytes.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0 && pixels.count == width * height * 3,
                     "RGBImage: \(pixels.count) bytes for \(width)x\(height)x3")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// A black image.
    public init(width: Int, height: Int) {
        self.init(width: width, height: height, pixels: [UInt8](repeating: 0, count: width * height * 3))
    }
}

/// Mono float audio, samples in [-1, 1].
public struct AudioClip: Equatable, Sendable {
    public let sampleRate: Int
    public var samples: [Float]
    /// Packets of the decoded stream that failed (replaced by silence of their duration);
    /// all zero for audio that was not decoded from a file.
    public var damage: StreamDamage

    public init(sampleRate: Int, samples: [Float], damage: StreamDamage = StreamDamage()) {
        self.sampleRate = sampleRate
        self.samples = samples
        self.damage = damage
    }

    public var duration: Double { Double(samples.count) / Double(sampleRate) }
}
