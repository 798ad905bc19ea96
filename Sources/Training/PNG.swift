import Common
import CZlib
import Foundation

/// A minimal PNG encoder (8-bit RGB, filter 0 on every row, one zlib-compressed IDAT chunk).
public enum PNG {
    /// Encodes `image` (RGB bytes, row-major) as a PNG file (`path` names it in errors).
    public static func encode(_ image: RGBImage, path: String) throws -> Data {
        // Raw scanlines: a filter-type byte (0 = none) then the row's RGB bytes.
        let stride = image.width * 3
        var raw = [UInt8](repeating: 0, count: image.height * (stride + 1))
        image.pixels.withUnsafeBufferPointer { px in
            for y in 0..<image.height {
                for x in 0..<stride { raw[y * (stride + 1) + 1 + x] = px[y * stride + x] }
            }
        }
        var compressedSize = compressBound(uLong(raw.count))
        var compressed = [UInt8](repeating: 0, count: Int(compressedSize))
        let status = compress2(&compressed, &compressedSize, raw, uLong(raw.count), 6)
        guard status == Z_OK else { throw InputError(path, "zlib compress2 failed with status \(status)") }

        var header = Data()
        header.append(bigEndian: UInt32(image.width))
        header.append(bigEndian: UInt32(image.height))
        header.append(contentsOf: [8, 2, 0, 0, 0])   // bit depth 8, colour type RGB, deflate, filter 0, no interlace
        var file = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        file.appendChunk("IHDR", header)
        file.appendChunk("IDAT", Data(compressed[..<Int(compressedSize)]))
        file.appendChunk("IEND", Data())
        return file
    }

    /// Encodes and writes `image` atomically (temporary file renamed over `path`).
    public static func write(_ image: RGBImage, to path: String) throws {
        let temp = path + ".tmp-\(ProcessInfo.processInfo.processIdentifier)"
        do {
            try encode(image, path: path).write(to: URL(fileURLWithPath: temp))
            guard rename(temp, path) == 0 else { throw InputError(path, String(cString: strerror(errno))) }
        } catch let error as InputError {
            try? FileManager.default.removeItem(atPath: temp)
            throw error
        } catch {
            try? FileManager.default.removeItem(atPath: temp)
            throw InputError(path, "cannot write: \(error.localizedDescription)")
        }
    }
}

private extension Data {
    mutating func append(bigEndian value: UInt32) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }

    /// length, type, data, CRC-32 of type + data
    mutating func appendChunk(_ type: String, _ body: Data) {
        let typed = Data(type.utf8) + body
        append(bigEndian: UInt32(body.count))
        append(typed)
        let crc = typed.withUnsafeBytes { crc32(0, $0.bindMemory(to: UInt8.self).baseAddress, uInt(typed.count)) }
        append(bigEndian: UInt32(crc))
    }
}
