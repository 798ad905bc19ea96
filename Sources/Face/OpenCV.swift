// Swift side of COpenCVShim: the error type and the image operations Face needs.
import COpenCVShim
import Common
import Foundation

/// An OpenCV failure, carrying OpenCV's own message.
public struct OpenCVError: Error, CustomStringConvertible, Sendable {
    /// The shim's negative return code (CVSHIM_ERR_OPENCV, _ARGUMENT or _OTHER).
    public let code: Int32
    public let message: String

    public var description: String { "OpenCV: \(message)" }

    /// Calls a shim function that follows cvshim.h's convention: `call` receives the message
    /// buffer and its size (the last two arguments of every cvshim_* function) and returns the
    /// shim's result, which is returned when >= 0 and thrown as an OpenCVError when negative.
    @discardableResult
    public static func check(_ call: (UnsafeMutablePointer<CChar>, Int) -> Int32) throws -> Int {
        var message = [CChar](repeating: 0, count: 512)
        let code = message.withUnsafeMutableBufferPointer { call($0.baseAddress!, $0.count) }
        guard code >= 0 else {
            throw OpenCVError(code: code, message: String(cBuffer: message))
        }
        return Int(code)
    }
}

/// An 8-bit grey image, rows top to bottom, `height * width` bytes.
struct GreyImage: Sendable {
    let width: Int
    let height: Int
    var pixels: [UInt8]
}

/// Fills a new `count`-byte buffer with a shim call.
private func makeBytes(_ count: Int,
                       _ fill: (UnsafeMutablePointer<UInt8>, UnsafeMutablePointer<CChar>, Int) -> Int32)
    throws -> [UInt8] {
    guard count > 0 else {
        throw OpenCVError(code: Int32(CVSHIM_ERR_ARGUMENT), message: "empty output image requested")
    }
    return try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
        try OpenCVError.check { fill(buffer.baseAddress!, $0, $1) }
        initialized = count
    }
}

extension RGBImage {
    /// Reads an image file (PNG, JPEG, ... anything cv::imread reads) as RGB.
    public init(contentsOfFile path: String) throws {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw InputError(path, "no such readable file")
        }
        var data: UnsafeMutablePointer<UInt8>? = nil
        var width: Int32 = 0, height: Int32 = 0
        do {
            try OpenCVError.check { cvshim_image_read(path, &data, &width, &height, $0, $1) }
        } catch let error as OpenCVError {
            throw InputError(path, error.message)
        }
        defer { cvshim_buffer_free(data) }
        let count = Int(width) * Int(height) * 3
        self.init(width: Int(width), height: Int(height),
                  pixels: Array(UnsafeBufferPointer(start: data, count: count)))
    }

    /// Draws ASCII `text` in place, anti-aliased, in OpenCV's Hershey simplex font; (x, y) is the
    /// left end of its baseline, and `scale` 1 is about 22 pixels tall.
    public mutating func drawText(_ text: String, x: Int, y: Int, scale: Double, colour: (UInt8, UInt8, UInt8)) throws {
        let (width, height) = (self.width, self.height)
        _ = try pixels.withUnsafeMutableBufferPointer { buffer in
            try OpenCVError.check {
                cvshim_put_text(buffer.baseAddress, Int32(width), Int32(height), text, Int32(clamping: x),
                                Int32(clamping: y), scale, colour.0, colour.1, colour.2, $0, $1)
            }
        }
    }

    /// The width and the height above the baseline, in pixels, of `text` drawn at `scale`.
    public static func textSize(_ text: String, scale: Double) throws -> (width: Int, height: Int) {
        var width: Int32 = 0, height: Int32 = 0
        try OpenCVError.check { cvshim_text_size(text, scale, &width, &height, $0, $1) }
        return (Int(width), Int(height))
    }

    /// This image resized to `width x height` with area resampling.
    public func resized(width: Int, height: Int) throws -> RGBImage {
        let pixels = try self.pixels.withUnsafeBufferPointer { src in
            try makeBytes(width * height * 3) {
                cvshim_resize_rgb(src.baseAddress, Int32(self.width), Int32(self.height),
                                  $0, Int32(clamping: width), Int32(clamping: height), $1, $2)
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    /// The square `[x, x+side) x [y, y+side)` resized to `size x size` with area resampling.
    /// The square may reach past the image: missing pixels repeat the nearest edge pixel.
    public func croppedSquare(x: Int, y: Int, side: Int, size: Int) throws -> RGBImage {
        let pixels = try self.pixels.withUnsafeBufferPointer { src in
            try makeBytes(size * size * 3) {
                cvshim_crop_square(src.baseAddress, Int32(width), Int32(height),
                                   Int32(clamping: x), Int32(clamping: y), Int32(clamping: side),
                                   $0, Int32(clamping: size), $1, $2)
            }
        }
        return RGBImage(width: size, height: size, pixels: pixels)
    }

    /// Luma (BT.601) at `width x height`, area-resampled.
    func grey(width: Int, height: Int) throws -> GreyImage {
        let pixels = try self.pixels.withUnsafeBufferPointer { src in
            try makeBytes(width * height) {
                cvshim_rgb_to_grey(src.baseAddress, Int32(self.width), Int32(self.height),
                                   $0, Int32(width), Int32(height), $1, $2)
            }
        }
        return GreyImage(width: width, height: height, pixels: pixels)
    }
}
