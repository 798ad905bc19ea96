import Foundation

/// A fault of the machine, not of an input: no space, an I/O error, permission denied, a
/// vanished folder, no memory. A run that meets one stops (one line naming the cause and the
/// path, non-zero exit) and quarantines nothing, since the same input will work once the
/// machine is fixed. Classified by `errno`, never by message text.
public struct EnvironmentError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file or folder concerned (may carry what was being done: `out/shards/x.h5: write frames`).
    public let path: String
    /// The `errno` value (ENOSPC, EIO, …).
    public let code: Int32

    public init(_ path: String, code: Int32) {
        self.path = path
        self.code = code
    }

    /// `<path>: No space left on device (ENOSPC)`.
    public var description: String { "\(path): \(String(cString: strerror(code))) (\(Self.name(of: code)))" }

    /// The errno values that mean the machine, not the input, is at fault.
    public static let codes: [(code: Int32, name: String)] = [
        (ENOSPC, "ENOSPC"), (EDQUOT, "EDQUOT"), (EIO, "EIO"), (EACCES, "EACCES"), (EPERM, "EPERM"),
        (EROFS, "EROFS"), (ENOENT, "ENOENT"), (ENOMEM, "ENOMEM"), (EMFILE, "EMFILE"), (ENFILE, "ENFILE"),
    ]

    public static func isEnvironmental(_ code: Int32) -> Bool { codes.contains { $0.code == code } }

    static func name(of code: Int32) -> String { codes.first { $0.code == code }?.name ?? "errno \(code)" }

    /// Runs a Foundation file operation on an output (`FileManager`), turning its error into an
    /// `EnvironmentError` when the POSIX error under it is one of `codes`.
    public static func fileOperation<T>(_ path: String, _ what: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch {
            if let code = posixCode(error), isEnvironmental(code) { throw EnvironmentError("\(path): \(what)", code: code) }
            throw error
        }
    }

    /// The errno under a Foundation error (itself, or its underlying error).
    private static func posixCode(_ error: Error) -> Int32? {
        if let posix = error as? POSIXError { return posix.code.rawValue }
        let error = error as NSError
        if error.domain == NSPOSIXErrorDomain { return Int32(error.code) }
        return (error.userInfo[NSUnderlyingErrorKey] as? Error).flatMap(posixCode)
    }

    /// After a failed system call on an output: an `EnvironmentError` if `errno` is one of
    /// `codes`, else an `InputError` with the system's words.
    public static func fromErrno(_ path: String, _ what: String) -> Error {
        let code = errno
        if isEnvironmental(code) { return EnvironmentError("\(path): \(what)", code: code) }
        return InputError(path, "\(what): \(String(cString: strerror(code)))")
    }
}
