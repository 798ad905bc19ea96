extension String {
    /// The text of a C character buffer filled by a library (an error message, a fixed-length HDF5
    /// string): the bytes up to the first NUL, or all of them when the library wrote none, decoded
    /// as UTF-8 with invalid bytes replaced.
    public init(cBuffer: [CChar]) {
        let end = cBuffer.firstIndex(of: 0) ?? cBuffer.endIndex
        self.init(decoding: cBuffer[..<end].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
