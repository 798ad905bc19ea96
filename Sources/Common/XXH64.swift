import Foundation

/// Streaming xxHash64 (https://github.com/Cyan4973/xxHash, XXH64 with seed 0): shard and source
/// file checksums, and fingerprints of model weights.
public struct XXH64 {
    static let p1: UInt64 = 0x9E37_79B1_85EB_CA87, p2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    static let p3: UInt64 = 0x1656_67B1_9E37_79F9, p4: UInt64 = 0x85EB_CA77_C2B2_AE63
    static let p5: UInt64 = 0x27D4_EB2F_1656_67C5

    private var v = (p1 &+ p2, p2, UInt64(0), UInt64(0) &- p1)
    private var total = 0
    /// Bytes not yet forming a whole 32-byte stripe.
    private var tail: [UInt8] = []

    public init() {}

    static func round(_ acc: UInt64, _ lane: UInt64) -> UInt64 {
        let a = acc &+ lane &* p2
        return ((a << 31) | (a >> 33)) &* p1
    }

    static func merge(_ acc: UInt64, _ v: UInt64) -> UInt64 {
        (acc ^ round(0, v)) &* p1 &+ p4
    }

    static func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 { (x << r) | (x >> (64 - r)) }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        total += bytes.count
        var input = bytes[...]
        if !tail.isEmpty {
            let take = min(32 - tail.count, input.count)
            tail += input.prefix(take)
            input = input.dropFirst(take)
            if tail.count == 32 {
                tail.withUnsafeBytes { stripes(UnsafeRawBufferPointer($0)) }
                tail = []
            }
        }
        let whole = input.count / 32 * 32
        stripes(UnsafeRawBufferPointer(rebasing: input.prefix(whole)))
        tail += input.dropFirst(whole)
    }

    /// Consumes whole 32-byte stripes.
    private mutating func stripes(_ bytes: UnsafeRawBufferPointer) {
        var (a, b, c, d) = v
        var i = 0
        while i + 32 <= bytes.count {
            a = Self.round(a, bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self).littleEndian)
            b = Self.round(b, bytes.loadUnaligned(fromByteOffset: i + 8, as: UInt64.self).littleEndian)
            c = Self.round(c, bytes.loadUnaligned(fromByteOffset: i + 16, as: UInt64.self).littleEndian)
            d = Self.round(d, bytes.loadUnaligned(fromByteOffset: i + 24, as: UInt64.self).littleEndian)
            i += 32
        }
        v = (a, b, c, d)
    }

    /// `finish()` as 16 lowercase hex digits.
    public var hexDigest: String { String(format: "%016llx", finish()) }

    public func finish() -> UInt64 {
        var h: UInt64
        if total >= 32 {
            h = Self.rotl(v.0, 1) &+ Self.rotl(v.1, 7) &+ Self.rotl(v.2, 12) &+ Self.rotl(v.3, 18)
            h = Self.merge(h, v.0); h = Self.merge(h, v.1); h = Self.merge(h, v.2); h = Self.merge(h, v.3)
        } else {
            h = Self.p5
        }
        h = h &+ UInt64(total)
        tail.withUnsafeBytes { rest in
            var i = 0
            while i + 8 <= rest.count {
                h ^= Self.round(0, rest.loadUnaligned(fromByteOffset: i, as: UInt64.self).littleEndian)
                h = Self.rotl(h, 27) &* Self.p1 &+ Self.p4
                i += 8
            }
            if i + 4 <= rest.count {
                h ^= UInt64(rest.loadUnaligned(fromByteOffset: i, as: UInt32.self).littleEndian) &* Self.p1
                h = Self.rotl(h, 23) &* Self.p2 &+ Self.p3
                i += 4
            }
            while i < rest.count {
                h ^= UInt64(rest[i]) &* Self.p5
                h = Self.rotl(h, 11) &* Self.p1
                i += 1
            }
        }
        h ^= h >> 33; h = h &* Self.p2
        h ^= h >> 29; h = h &* Self.p3
        h ^= h >> 32
        return h
    }
}
