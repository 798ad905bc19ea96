import Common
import Foundation

/// XXH64 (Yann Collet's xxHash, 64-bit variant, seed 0): a fast non-cryptographic hash used for
/// file fingerprints and stage keys. Streaming: `update` any number of times, then `digest`.
public struct XXH64 {
    private static let p1: UInt64 = 0x9E37_79B1_85EB_CA87
    private static let p2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    private static let p3: UInt64 = 0x1656_67B1_9E37_79F9
    private static let p4: UInt64 = 0x85EB_CA77_C2B2_AE63
    private static let p5: UInt64 = 0x27D4_EB2F_1656_67C5

    private var v1: UInt64, v2: UInt64, v3: UInt64, v4: UInt64
    private var totalLength: UInt64 = 0
    private var tail: [UInt8] = []  // < 32 bytes not yet consumed

    public init() {
        v1 = XXH64.p1 &+ XXH64.p2
        v2 = XXH64.p2
        v3 = 0
        v4 = 0 &- XXH64.p1
    }

    @inline(__always) private static func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 { (x << r) | (x >> (64 - r)) }
    @inline(__always) private static func round(_ acc: UInt64, _ input: UInt64) -> UInt64 {
        rotl(acc &+ input &* p2, 31) &* p1
    }
    @inline(__always) private static func merge(_ acc: UInt64, _ v: UInt64) -> UInt64 {
        (acc ^ round(0, v)) &* p1 &+ p4
    }
    @inline(__always) private static func load64(_ p: UnsafeRawBufferPointer, _ i: Int) -> UInt64 {
        UInt64(littleEndian: p.loadUnaligned(fromByteOffset: i, as: UInt64.self))
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        totalLength += UInt64(bytes.count)
        var start = 0
        if !tail.isEmpty {
            let take = min(32 - tail.count, bytes.count)
            tail.append(contentsOf: bytes[0..<take])
            start = take
            if tail.count < 32 { return }
            tail.withUnsafeBytes { consumeStripes($0, 0, 32) }
            tail.removeAll(keepingCapacity: true)
        }
        let stripesEnd = start + (bytes.count - start) / 32 * 32
        consumeStripes(bytes, start, stripesEnd)
        if stripesEnd < bytes.count { tail.append(contentsOf: bytes[stripesEnd...]) }
    }

    public mutating func update(_ data: Data) { data.withUnsafeBytes { update($0) } }
    public mutating func update(_ string: String) { update(Data(string.utf8)) }

    /// Consumes 32-byte stripes in bytes[start..<end] (end - start is a multiple of 32).
    private mutating func consumeStripes(_ p: UnsafeRawBufferPointer, _ start: Int, _ end: Int) {
        var i = start
        var a = v1, b = v2, c = v3, d = v4
        while i < end {
            a = XXH64.round(a, XXH64.load64(p, i))
            b = XXH64.round(b, XXH64.load64(p, i + 8))
            c = XXH64.round(c, XXH64.load64(p, i + 16))
            d = XXH64.round(d, XXH64.load64(p, i + 24))
            i += 32
        }
        v1 = a; v2 = b; v3 = c; v4 = d
    }

    public func digest() -> UInt64 {
        var h: UInt64
        if totalLength >= 32 {
            h = XXH64.rotl(v1, 1) &+ XXH64.rotl(v2, 7) &+ XXH64.rotl(v3, 12) &+ XXH64.rotl(v4, 18)
            h = XXH64.merge(h, v1); h = XXH64.merge(h, v2); h = XXH64.merge(h, v3); h = XXH64.merge(h, v4)
        } else {
            h = v3 &+ XXH64.p5
        }
        h = h &+ totalLength
        tail.withUnsafeBytes { p in
            var i = 0
            while i + 8 <= p.count {
                h ^= XXH64.round(0, XXH64.load64(p, i))
                h = XXH64.rotl(h, 27) &* XXH64.p1 &+ XXH64.p4
                i += 8
            }
            if i + 4 <= p.count {
                h ^= UInt64(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: i, as: UInt32.self))) &* XXH64.p1
                h = XXH64.rotl(h, 23) &* XXH64.p2 &+ XXH64.p3
                i += 4
            }
            while i < p.count {
                h ^= UInt64(p[i]) &* XXH64.p5
                h = XXH64.rotl(h, 11) &* XXH64.p1
                i += 1
            }
        }
        h ^= h >> 33; h = h &* XXH64.p2
        h ^= h >> 29; h = h &* XXH64.p3
        h ^= h >> 32
        return h
    }

    /// The digest as 16 lowercase hex digits.
    public func hexDigest() -> String { String(format: "%016llx", digest()) }

    public static func hex(_ string: String) -> String {
        var h = XXH64()
        h.update(string)
        return h.hexDigest()
    }
}

/// What identifies one version of a source file: its size and modification time (the fast
/// path) and a hash of its content (computed only when size or mtime differ from the ledger).
public struct FileFingerprint: Equatable, Sendable {
    public var size: Int64
    public var mtime: Double
    /// XXH64 of the content, 16 hex digits.
    public var contentHash: String

    public init(size: Int64, mtime: Double, contentHash: String) {
        self.size = size
        self.mtime = mtime
        self.contentHash = contentHash
    }

    /// Size and mtime of a regular file; throws `InputError` for anything else (a FIFO or
    /// device would hang the hash, a folder is not a video).
    public static func stat(_ path: String) throws -> (size: Int64, mtime: Double) {
        var st = Foundation.stat()
        guard lstat(path, &st) == 0 else {
            throw InputError(path, String(cString: strerror(errno)))
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw InputError(path, "not a regular file") }
        let mtime = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) * 1e-9
        return (Int64(st.st_size), mtime)
    }

    /// Streams the file through XXH64 in 1 MiB reads.
    public static func contentHash(_ path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_NONBLOCK)
        guard fd >= 0 else { throw InputError(path, String(cString: strerror(errno))) }
        defer { close(fd) }
        var hasher = XXH64()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = read(fd, buffer.baseAddress, buffer.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw InputError(path, "read failed: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
        return hasher.hexDigest()
    }

    /// The fingerprint of `path`, reusing `known.contentHash` when size and mtime are unchanged.
    public static func of(_ path: String, known: FileFingerprint?) throws -> FileFingerprint {
        let (size, mtime) = try stat(path)
        if let known, known.size == size, known.mtime == mtime { return known }
        return FileFingerprint(size: size, mtime: mtime, contentHash: try contentHash(path))
    }
}
