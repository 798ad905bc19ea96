// A reader for dlib's binary serialisation (dlib/serialize.h, float_details.h, matrix.h), the
// format of dlib's model files such as shape_predictor_68_face_landmarks.dat.

/// What is wrong with a dlib file, and the byte offset where it was noticed.
struct DlibFormatError: Error {
    let reason: String
    let offset: Int
}

/// A cursor over the bytes of a dlib-serialised object.
///
/// The encodings read here:
/// - integer: a control byte (bit 0x80: negative; low nibble: n = 1…8; bits 0x70: zero) then n
///   bytes of the magnitude, least significant first;
/// - float: two integers, mantissa (int64) and exponent (int16), value = mantissa · 2^exponent
///   (exponents 32000 / 32001 / 32002 stand for +∞ / −∞ / NaN);
/// - matrix<float,0,1>: −rows and −columns as integers (positive in dlib's older format), then
///   the elements row by row;
/// - std::vector: its element count (unsigned integer), then the elements.
struct DlibDeserializer {
    private let bytes: UnsafeRawBufferPointer
    private(set) var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    var remaining: Int { bytes.count - offset }

    func error(_ reason: String) -> DlibFormatError {
        DlibFormatError(reason: reason, offset: offset)
    }

    /// A signed integer whose C++ type is `maxBytes` wide.
    mutating func integer(maxBytes: Int = 8) throws -> Int64 {
        guard offset < bytes.count else { throw error("file ends inside an integer") }
        let control = bytes[offset]
        let n = Int(control & 0x0F)
        guard control & 0x70 == 0, n >= 1, n <= maxBytes else {
            throw error("bad integer control byte 0x\(String(control, radix: 16)) (a \(maxBytes)-byte integer expected)")
        }
        guard offset + 1 + n <= bytes.count else { throw error("file ends inside an integer") }
        var magnitude: UInt64 = 0
        for i in 0..<n { magnitude |= UInt64(bytes[offset + 1 + i]) << (8 * i) }
        guard magnitude <= UInt64(Int64.max) else { throw error("integer out of range") }
        offset += 1 + n
        return control & 0x80 != 0 ? -Int64(magnitude) : Int64(magnitude)
    }

    /// An unsigned integer (C++ `unsigned long`) no larger than `limit`.
    mutating func unsignedInteger(limit: Int = Int.max) throws -> Int {
        let start = offset
        let value = try integer()
        guard value >= 0, value <= Int64(limit) else {
            offset = start
            throw error("unsigned value \(value) out of range 0...\(limit)")
        }
        return Int(value)
    }

    /// A std::vector's element count; every element takes at least `minimumElementBytes`, so a
    /// count the rest of the file cannot hold is corrupt (and never allocated).
    mutating func count(minimumElementBytes: Int) throws -> Int {
        let start = offset
        let n = try unsignedInteger()
        guard n <= remaining / minimumElementBytes else {
            offset = start
            throw error("file ends before the \(n) elements of a list")
        }
        return n
    }

    /// A float (dlib's float_details: mantissa and exponent).
    mutating func float() throws -> Float {
        let mantissa = try integer(maxBytes: 8), exponent = try integer(maxBytes: 2)
        switch exponent {
        case 32000: return .infinity
        case 32001: return -.infinity
        case 32002: return .nan
        default:
            guard abs(exponent) < 32000 else { throw error("float exponent \(exponent) out of range") }
            // Exactly dlib's ldexp((float)mantissa, exponent).
            return Float(sign: .plus, exponent: Int(exponent), significand: Float(mantissa))
        }
    }

    /// A matrix<float,0,1> (column vector), its elements.
    mutating func floatColumn() throws -> [Float] {
        let rows = abs(try integer()), columns = abs(try integer())
        guard columns == 1 else { throw error("column vector expected, found \(columns) columns") }
        // Each float takes at least 4 bytes (two integers of at least 2 bytes each).
        guard rows <= Int64(remaining / 4) else { throw error("file ends before the \(rows) rows of a matrix") }
        return try (0..<Int(rows)).map { _ in try float() }
    }
}
