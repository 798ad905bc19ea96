import CHDF5
import Common
import Foundation

/// A failed HDF5 call: what we were doing, then HDF5's own error stack (innermost last).
public struct HDF5Error: Error, CustomStringConvertible, Sendable {
    /// What we asked of HDF5 (`file.h5: open dataset mel`).
    public let operation: String
    /// HDF5's error stack on one line, outermost call first ("" for errors found by our checks).
    public let stack: String

    public init(_ operation: String, stack: String = "") {
        self.operation = operation
        self.stack = stack
    }

    public var description: String { stack.isEmpty ? operation : "\(operation): \(stack)" }

    /// HDF5's own words if it gave any, else the operation (for `InputError` reasons, which
    /// name the file already).
    var detail: String { stack.isEmpty ? operation : stack }
}

/// Serial HDF5 is not thread-safe: every HDF5 call in the process goes through `HDF5.locked`.
enum HDF5 {
    static let lock = NSRecursiveLock()

    /// No clean-up of HDF5 at process exit: every file we keep is closed explicitly, and closing
    /// at exit a file whose writes failed (a full disk) crashes inside HDF5 (H5F__close_cb).
    /// Must run before any other HDF5 call.
    private static let noCleanupAtExit: Void = { _ = H5dont_atexit() }()

    static func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        noCleanupAtExit
        // No printing of error stacks to stderr: errors are collected by `stackMessage` instead.
        // (The setting is per thread in thread-safe builds, so it is made on every entry.)
        H5Eset_auto2(chdf5_e_default(), nil, nil)
        errno = 0
        return try body()
    }

    /// Throws `HDF5Error` when an id-returning call failed (negative id).
    @discardableResult
    static func check(_ id: hid_t, _ what: @autoclosure () -> String) throws -> hid_t {
        if id < 0 { throw failure(what()) }
        return id
    }

    /// Throws `HDF5Error` when a status-returning call failed (negative status).
    static func check(_ status: herr_t, _ what: @autoclosure () -> String) throws {
        if status < 0 { throw failure(what()) }
    }

    /// The error of a failed call: an `EnvironmentError` when the system call under it failed
    /// for a fault of the machine (HDF5's file driver leaves `errno` as the failed read, write
    /// or open set it; `locked` clears it before every body), else `HDF5Error`. ENOENT is left
    /// out: HDF5 probes for files that need not exist, and writers check their folder first.
    private static func failure(_ what: String) -> Error {
        let code = errno
        let stack = stackMessage()
        if code != ENOENT && EnvironmentError.isEnvironmental(code) { return EnvironmentError(what, code: code) }
        return HDF5Error(what, stack: stack)
    }

    /// The messages on the current thread's error stack, outermost first, then clears it.
    static func stackMessage() -> String {
        final class Lines { var items: [String] = [] }
        let lines = Lines()
        let status = H5Ewalk2(chdf5_e_default(), H5E_WALK_DOWNWARD, { _, err, data in
            let lines = Unmanaged<Lines>.fromOpaque(data!).takeUnretainedValue()
            if let err, let desc = err.pointee.desc {
                let function = err.pointee.func_name.map { String(cString: $0) } ?? "?"
                // Some messages carry ctime() output with its newline: keep the error on one line.
                let text = String(cString: desc).split(whereSeparator: \.isNewline).joined(separator: " ")
                lines.items.append("\(function): \(text)")
            }
            return 0
        }, Unmanaged.passUnretained(lines).toOpaque())
        H5Eclear2(chdf5_e_default())
        if status < 0 || lines.items.isEmpty { return "unknown HDF5 error" }
        return lines.items.joined(separator: "; ")
    }

    /// A dataspace of `dims` (and `maxDims`, nil entries unlimited); the caller closes it.
    static func dataspace(_ dims: [Int], maxDims: [Int?]? = nil) throws -> hid_t {
        let current = dims.map { hsize_t($0) }
        let maximum = (maxDims ?? dims.map { $0 }).map { $0.map { hsize_t($0) } ?? chdf5_s_unlimited() }
        return try check(H5Screate_simple(Int32(dims.count), current, maximum), "H5Screate_simple \(dims)")
    }
}

/// The element types our files use. `string` is variable-length UTF-8.
public enum HDF5ElementType: String, Sendable {
    case uint8, int32, int64, float16, float32, float64, string

    /// A new type id for this element type (the caller closes it). float16 is IEEE half in the
    /// layout h5py reads as `<f2`; its memory form is Swift's `Float16`, so no conversion happens.
    func makeType() throws -> hid_t {
        switch self {
        case .uint8: return try HDF5.check(H5Tcopy(chdf5_native_uint8()), "H5Tcopy")
        case .int32: return try HDF5.check(H5Tcopy(chdf5_native_int32()), "H5Tcopy")
        case .int64: return try HDF5.check(H5Tcopy(chdf5_native_int64()), "H5Tcopy")
        case .float32: return try HDF5.check(H5Tcopy(chdf5_native_float()), "H5Tcopy")
        case .float64: return try HDF5.check(H5Tcopy(chdf5_native_double()), "H5Tcopy")
        case .float16:
            let t = try HDF5.check(H5Tcopy(chdf5_ieee_f32le()), "H5Tcopy")
            try HDF5.check(H5Tset_fields(t, 15, 10, 5, 0, 10), "H5Tset_fields (float16)")
            try HDF5.check(H5Tset_size(t, 2), "H5Tset_size (float16)")
            try HDF5.check(H5Tset_ebias(t, 15), "H5Tset_ebias (float16)")
            return t
        case .string:
            let t = try HDF5.check(H5Tcopy(chdf5_c_s1()), "H5Tcopy")
            try HDF5.check(H5Tset_size(t, chdf5_t_variable()), "H5Tset_size (variable string)")
            try HDF5.check(H5Tset_cset(t, H5T_CSET_UTF8), "H5Tset_cset")
            return t
        }
    }

    /// The element type of a type id found in a file, or nil for a type we do not use.
    static func of(_ t: hid_t) -> HDF5ElementType? {
        let size = H5Tget_size(t)
        switch H5Tget_class(t) {
        case H5T_INTEGER:
            let signed = H5Tget_sign(t) == H5T_SGN_2
            switch (size, signed) {
            case (1, false): return .uint8
            case (4, true): return .int32
            case (8, true): return .int64
            default: return nil
            }
        case H5T_FLOAT:
            switch size {
            case 2: return .float16
            case 4: return .float32
            case 8: return .float64
            default: return nil
            }
        case H5T_STRING: return H5Tis_variable_str(t) > 0 ? .string : nil
        default: return nil
        }
    }
}

/// Swift scalar types stored in datasets and attributes.
public protocol HDF5Element { static var hdf5Type: HDF5ElementType { get } }
extension UInt8: HDF5Element { public static var hdf5Type: HDF5ElementType { .uint8 } }
extension Int32: HDF5Element { public static var hdf5Type: HDF5ElementType { .int32 } }
extension Int64: HDF5Element { public static var hdf5Type: HDF5ElementType { .int64 } }
extension Float16: HDF5Element { public static var hdf5Type: HDF5ElementType { .float16 } }
extension Float: HDF5Element { public static var hdf5Type: HDF5ElementType { .float32 } }
extension Double: HDF5Element { public static var hdf5Type: HDF5ElementType { .float64 } }

/// An attribute value: h5py reads these as `str`, `int`, `float` and 1-D numpy arrays.
public enum HDF5Attribute: Equatable, Sendable {
    case string(String)
    case int(Int)
    case double(Double)
    case ints([Int])
    case doubles([Double])
}

/// Something attributes hang on: a file (its root group), a group or a dataset.
/// @unchecked Sendable: only `let`s, and every HDF5 call on `id` goes through `HDF5.locked`.
public class HDF5Object: @unchecked Sendable {
    let id: hid_t
    /// The object's name, for error messages (`file.h5:/frames`).
    public let label: String

    init(id: hid_t, label: String) {
        self.id = id
        self.label = label
    }

    /// Writes (or replaces) attribute `name`.
    public func setAttribute(_ name: String, _ value: HDF5Attribute) throws {
        try HDF5.locked {
            if H5Aexists(id, name) > 0 {
                try HDF5.check(H5Adelete(id, name), "\(label): delete attribute \(name)")
            }
            let elementType: HDF5ElementType
            let dims: [Int]
            switch value {
            case .string: (elementType, dims) = (.string, [])
            case .int: (elementType, dims) = (.int64, [])
            case .double: (elementType, dims) = (.float64, [])
            case .ints(let v): (elementType, dims) = (.int64, [v.count])
            case .doubles(let v): (elementType, dims) = (.float64, [v.count])
            }
            let type = try elementType.makeType()
            defer { H5Tclose(type) }
            let space = dims.isEmpty ? try HDF5.check(H5Screate(H5S_SCALAR), "H5Screate")
                                     : try HDF5.dataspace(dims)
            defer { H5Sclose(space) }
            let attr = try HDF5.check(H5Acreate2(id, name, type, space, chdf5_p_default(), chdf5_p_default()),
                                      "\(label): create attribute \(name)")
            defer { H5Aclose(attr) }
            let what = "\(label): write attribute \(name)"
            switch value {
            case .string(let s):
                try s.withCString { c in
                    var pointer: UnsafePointer<CChar>? = c
                    try HDF5.check(H5Awrite(attr, type, &pointer), what)
                }
            case .int(let v): var x = Int64(v); try HDF5.check(H5Awrite(attr, type, &x), what)
            case .double(var x): try HDF5.check(H5Awrite(attr, type, &x), what)
            case .ints(let v): try HDF5.check(v.map { Int64($0) }.withUnsafeBytes { H5Awrite(attr, type, $0.baseAddress) }, what)
            case .doubles(let v): try HDF5.check(v.withUnsafeBytes { H5Awrite(attr, type, $0.baseAddress) }, what)
            }
        }
    }

    /// Attribute `name`, or nil when absent. Integers come back as `.int`/`.ints`, floats as
    /// `.double`/`.doubles`, strings (variable or fixed length) as `.string`.
    public func attribute(_ name: String) throws -> HDF5Attribute? {
        try HDF5.locked {
            guard H5Aexists(id, name) > 0 else { return nil }
            let what = "\(label): read attribute \(name)"
            let attr = try HDF5.check(H5Aopen(id, name, chdf5_p_default()), what)
            defer { H5Aclose(attr) }
            let fileType = try HDF5.check(H5Aget_type(attr), what)
            defer { H5Tclose(fileType) }
            let space = try HDF5.check(H5Aget_space(attr), what)
            defer { H5Sclose(space) }
            let count = Int(H5Sget_simple_extent_npoints(space))
            let scalar = H5Sget_simple_extent_ndims(space) == 0
            switch H5Tget_class(fileType) {
            case H5T_STRING:
                guard scalar else { throw HDF5Error("\(what): not a single string") }
                if H5Tis_variable_str(fileType) > 0 {
                    let type = try HDF5ElementType.string.makeType()
                    defer { H5Tclose(type) }
                    var pointer: UnsafeMutablePointer<CChar>? = nil
                    try HDF5.check(H5Aread(attr, type, &pointer), what)
                    defer { H5free_memory(pointer) }
                    return .string(pointer.map { String(cString: $0) } ?? "")
                }
                var bytes = [CChar](repeating: 0, count: H5Tget_size(fileType) + 1)
                try HDF5.check(H5Aread(attr, fileType, &bytes), what)
                return .string(String(cBuffer: bytes))
            case H5T_INTEGER:
                var values = [Int64](repeating: 0, count: count)
                try HDF5.check(H5Aread(attr, chdf5_native_int64(), &values), what)
                return scalar ? .int(Int(values[0])) : .ints(values.map { Int($0) })
            case H5T_FLOAT:
                var values = [Double](repeating: 0, count: count)
                try HDF5.check(H5Aread(attr, chdf5_native_double(), &values), what)
                return scalar ? .double(values[0]) : .doubles(values)
            default:
                throw HDF5Error("\(what): unsupported attribute type")
            }
        }
    }
}

/// An HDF5 file, open for writing (created new) or for reading. Closed on deinit or `close()`.
/// @unchecked Sendable: `isOpen` changes only in `close()`, which the one thread writing a file it
/// created calls; a file opened for reading never changes it. HDF5 calls go through `HDF5.locked`.
public final class HDF5File: HDF5Object, @unchecked Sendable {
    public let path: String
    private var isOpen = true

    /// Creates a new file; fails if `path` exists.
    public init(creating path: String) throws {
        self.path = path
        let id = try HDF5.locked {
            try Self.withFileAccess(path) { fapl in
                try HDF5.check(H5Fcreate(path, chdf5_acc_excl(), chdf5_p_default(), fapl), "\(path): cannot create HDF5 file")
            }
        }
        super.init(id: id, label: path)
    }

    /// Opens an existing file read-only.
    public init(readingAt path: String) throws {
        self.path = path
        let id = try HDF5.locked {
            try Self.withFileAccess(path) { fapl in
                try HDF5.check(H5Fopen(path, chdf5_acc_rdonly(), fapl), "\(path): cannot open HDF5 file")
            }
        }
        super.init(id: id, label: path)
    }

    /// File access without HDF5's file locks: our files are written once under a private
    /// temporary name, and the locks fail on file systems without flock (NFS, Lustre).
    private static func withFileAccess(_ path: String, _ body: (hid_t) throws -> hid_t) throws -> hid_t {
        let fapl = try HDF5.check(H5Pcreate(chdf5_p_file_access()), "\(path): file access properties")
        defer { H5Pclose(fapl) }
        try HDF5.check(H5Pset_file_locking(fapl, false, true), "\(path): disable file locking")
        return try body(fapl)
    }

    deinit {
        if isOpen { HDF5.locked { _ = H5Fclose(id) } }
    }

    /// Flushes and closes the file. Every dataset of it must have been released first (their
    /// handles keep the file alive otherwise, and this would not really close it).
    public func close() throws {
        guard isOpen else { return }
        try HDF5.locked {
            let open = H5Fget_obj_count(id, chdf5_obj_all())
            guard open <= 1 else { throw HDF5Error("\(path): close with \(open - 1) objects still open") }
            try HDF5.check(H5Fflush(id, H5F_SCOPE_LOCAL), "\(path): flush")
            isOpen = false
            try HDF5.check(H5Fclose(id), "\(path): close")
        }
    }

    /// Size of the file in bytes as HDF5 sees it (data still in the chunk cache not counted).
    public func size() throws -> Int {
        try HDF5.locked {
            var size: hsize_t = 0
            try HDF5.check(H5Fget_filesize(id, &size), "\(path): file size")
            return Int(size)
        }
    }

    /// True if a link `name` exists (a dataset or group; `a/b` needs `a` to exist).
    public func contains(_ name: String) -> Bool {
        HDF5.locked {
            var prefix = ""
            for part in name.split(separator: "/") {
                prefix += (prefix.isEmpty ? "" : "/") + part
                if H5Lexists(id, prefix, chdf5_p_default()) <= 0 { return false }
            }
            return true
        }
    }

    public func createGroup(_ name: String) throws {
        try HDF5.locked {
            let what = "\(path): create group \(name)"
            let gcpl = try HDF5.check(H5Pcreate(chdf5_p_group_create()), what)
            defer { H5Pclose(gcpl) }
            try HDF5.check(H5Pset_obj_track_times(gcpl, false), what)
            let g = try HDF5.check(H5Gcreate2(id, name, chdf5_p_default(), gcpl, chdf5_p_default()), what)
            H5Gclose(g)
        }
    }

    /// Creates dataset `name` of `shape` (rows first). `extendable` makes the row count
    /// unlimited (then `chunk` is required); `deflate` (0–9) compresses chunks with zlib.
    public func createDataset(_ name: String, type: HDF5ElementType, shape: [Int], extendable: Bool = false,
                              chunk: [Int]? = nil, deflate: Int? = nil) throws -> HDF5Dataset {
        precondition(!shape.isEmpty && (chunk == nil || chunk!.count == shape.count))
        precondition(!(extendable || deflate != nil) || chunk != nil, "extendable or compressed datasets need chunks")
        let datasetID = try HDF5.locked { () throws -> hid_t in
            let what = "\(path): create dataset \(name)"
            let fileType = try type.makeType()
            defer { H5Tclose(fileType) }
            let maxDims: [Int?] = extendable ? [nil] + shape.dropFirst().map { $0 } : shape
            let space = try HDF5.dataspace(shape, maxDims: maxDims)
            defer { H5Sclose(space) }
            let dcpl = try HDF5.check(H5Pcreate(chdf5_p_dataset_create()), what)
            defer { H5Pclose(dcpl) }
            if let chunk {
                try HDF5.check(H5Pset_chunk(dcpl, Int32(chunk.count), chunk.map { hsize_t($0) }), what + " (chunk)")
            }
            if let deflate { try HDF5.check(H5Pset_deflate(dcpl, UInt32(deflate)), what + " (deflate)") }
            // No creation/modification times in the object header: the same rows give the
            // same file bytes (and checksum) on every run.
            try HDF5.check(H5Pset_obj_track_times(dcpl, false), what)
            return try HDF5.check(H5Dcreate2(self.id, name, fileType, space, chdf5_p_default(), dcpl, chdf5_p_default()), what)
        }
        return HDF5Dataset(file: self, id: datasetID, name: name, type: type, shape: shape)
    }

    /// Opens dataset `name`. `chunkCacheBytes` sizes HDF5's chunk cache for it (default 1 MiB),
    /// which is what makes repeated reads of nearby rows cheap.
    public func dataset(_ name: String, chunkCacheBytes: Int? = nil) throws -> HDF5Dataset {
        let (id, type, shape) = try HDF5.locked { () throws -> (hid_t, HDF5ElementType, [Int]) in
            let what = "\(path): open dataset \(name)"
            let dapl = try HDF5.check(H5Pcreate(chdf5_p_dataset_access()), what)
            defer { H5Pclose(dapl) }
            if let bytes = chunkCacheBytes {
                try HDF5.check(H5Pset_chunk_cache(dapl, 10_007, bytes, 0.75), what + " (chunk cache)")
            }
            let id = try HDF5.check(H5Dopen2(self.id, name, dapl), what)
            do {
                let fileType = try HDF5.check(H5Dget_type(id), what)
                defer { H5Tclose(fileType) }
                guard let type = HDF5ElementType.of(fileType) else { throw HDF5Error("\(what): unsupported element type") }
                let space = try HDF5.check(H5Dget_space(id), what)
                defer { H5Sclose(space) }
                let rank = Int(H5Sget_simple_extent_ndims(space))
                var dims = [hsize_t](repeating: 0, count: max(rank, 1))
                guard rank >= 1, H5Sget_simple_extent_dims(space, &dims, nil) == rank else {
                    throw HDF5Error("\(what): not an array dataset")
                }
                return (id, type, dims.map { Int($0) })
            } catch {
                H5Dclose(id)
                throw error
            }
        }
        return HDF5Dataset(file: self, id: id, name: name, type: type, shape: shape)
    }
}

/// A dataset: rows along the first dimension, read and written through hyperslabs.
/// @unchecked Sendable: `shape` changes only in `setRowCount`, which the one thread writing a file it
/// created calls; a dataset opened for reading never changes it. HDF5 calls go through `HDF5.locked`.
public final class HDF5Dataset: HDF5Object, @unchecked Sendable {
    /// Keeps the file open while the dataset is in use.
    public let file: HDF5File
    public let name: String
    public let type: HDF5ElementType
    /// Current shape, rows first.
    public private(set) var shape: [Int]

    init(file: HDF5File, id: hid_t, name: String, type: HDF5ElementType, shape: [Int]) {
        self.file = file
        self.name = name
        self.type = type
        self.shape = shape
        super.init(id: id, label: "\(file.path):/\(name)")
    }

    deinit { HDF5.locked { _ = H5Dclose(id) } }

    public var rowCount: Int { shape[0] }
    /// Elements per row: the product of all dimensions after the first.
    public var rowSize: Int { shape.dropFirst().reduce(1, *) }

    /// Grows or shrinks the row count (extendable datasets only).
    public func setRowCount(_ rows: Int) throws {
        var dims = shape
        dims[0] = rows
        try HDF5.locked {
            try HDF5.check(H5Dset_extent(id, dims.map { hsize_t($0) }), "\(label): set row count \(rows)")
        }
        shape = dims
    }

    /// Runs one H5Dread/H5Dwrite (`body`, given memory type, memory space and file space)
    /// over whole rows `rows`, under the HDF5 lock.
    private func transfer(_ rows: Range<Int>, _ verb: String, _ body: (hid_t, hid_t, hid_t) -> herr_t) throws {
        let what = "\(label): \(verb) rows \(rows)"
        guard rows.lowerBound >= 0, rows.upperBound <= rowCount else {
            throw HDF5Error("\(what): outside 0..<\(rowCount)")
        }
        guard !rows.isEmpty else { return }
        var dims = shape
        dims[0] = rows.count
        var start = [hsize_t](repeating: 0, count: shape.count)
        start[0] = hsize_t(rows.lowerBound)
        try HDF5.locked {
            let memType = try type.makeType()
            defer { H5Tclose(memType) }
            let memory = try HDF5.dataspace(dims)
            defer { H5Sclose(memory) }
            let fileSpace = try HDF5.check(H5Dget_space(id), what)
            defer { H5Sclose(fileSpace) }
            try HDF5.check(H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, start, nil, dims.map { hsize_t($0) }, nil), what)
            try HDF5.check(body(memType, memory, fileSpace), what)
        }
    }

    /// Writes whole rows starting at `row`, growing an extendable dataset as needed.
    /// `values.count` must be a multiple of `rowSize`.
    public func write<T: HDF5Element>(_ values: UnsafeBufferPointer<T>, atRow row: Int) throws {
        precondition(T.hdf5Type == type && values.count % rowSize == 0, "\(label): bad write of \(values.count) \(T.self)")
        let rows = row..<(row + values.count / rowSize)
        if rows.upperBound > rowCount { try setRowCount(rows.upperBound) }
        try transfer(rows, "write") { memType, memory, fileSpace in
            H5Dwrite(id, memType, memory, fileSpace, chdf5_p_default(), values.baseAddress)
        }
    }

    public func write<T: HDF5Element>(_ values: [T], atRow row: Int) throws {
        try values.withUnsafeBufferPointer { try write($0, atRow: row) }
    }

    /// Appends whole rows at the end.
    public func append<T: HDF5Element>(_ values: UnsafeBufferPointer<T>) throws { try write(values, atRow: rowCount) }
    public func append<T: HDF5Element>(_ values: [T]) throws { try write(values, atRow: rowCount) }

    /// Reads `rows` into `buffer` (`rows.count * rowSize` elements).
    public func read<T: HDF5Element>(rows: Range<Int>, into buffer: UnsafeMutableBufferPointer<T>) throws {
        precondition(T.hdf5Type == type && buffer.count == rows.count * rowSize, "\(label): bad read into \(buffer.count) \(T.self)")
        try transfer(rows, "read") { memType, memory, fileSpace in
            H5Dread(id, memType, memory, fileSpace, chdf5_p_default(), buffer.baseAddress)
        }
    }

    public func read<T: HDF5Element>(rows: Range<Int>) throws -> [T] {
        var values = [T](unsafeUninitializedCapacity: rows.count * rowSize) { _, count in count = rows.count * rowSize }
        try values.withUnsafeMutableBufferPointer { try read(rows: rows, into: $0) }
        return values
    }

    /// Writes strings (a 1-D string dataset) starting at `row`, growing it as needed.
    public func write(strings: [String], atRow row: Int) throws {
        precondition(type == .string && shape.count == 1, "\(label): not a 1-D string dataset")
        let rows = row..<(row + strings.count)
        if rows.upperBound > rowCount { try setRowCount(rows.upperBound) }
        let copies = strings.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        try transfer(rows, "write") { memType, memory, fileSpace in
            copies.withUnsafeBufferPointer { H5Dwrite(id, memType, memory, fileSpace, chdf5_p_default(), $0.baseAddress) }
        }
    }

    /// Reads `rows` of a 1-D string dataset.
    public func readStrings(rows: Range<Int>) throws -> [String] {
        guard type == .string, shape.count == 1 else { throw HDF5Error("\(label): not a 1-D string dataset") }
        var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: rows.count)
        var strings: [String] = []
        try transfer(rows, "read") { memType, memory, fileSpace in
            let status = H5Dread(id, memType, memory, fileSpace, chdf5_p_default(), &pointers)
            if status >= 0 {
                strings = pointers.map { $0.map { String(cString: $0) } ?? "" }
                H5Dvlen_reclaim(memType, memory, chdf5_p_default(), &pointers)
            }
            return status
        }
        return strings
    }
}
