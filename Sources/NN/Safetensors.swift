import Foundation
import Common
import Tensor

/// The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
/// header length, a JSON header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__":
/// {string: string}}, then the raw little-endian tensor bytes. Only F32 tensors are written and read.
public enum Safetensors {
    /// Writes tensors (in the given order) and string metadata, atomically: a temporary file in the
    /// same folder renamed over `path`.
    public static func write(_ tensors: [(String, Tensor)], metadata: [String: String] = [:], to path: String) throws {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for (name, t) in tensors {
            guard header[name] == nil else { throw InputError(path, "tensor name \(name) used twice") }
            header[name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + 4 * t.count]] as [String: Any]
            offset += 4 * t.count
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))   // pad to 8 bytes
        var file = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(json)
        for (_, t) in tensors { t.withUnsafeBufferPointer { file.append($0) } }   // x86/ARM: little-endian
        let temp = path + ".tmp-\(ProcessInfo.processInfo.processIdentifier)"
        do {
            try file.write(to: URL(fileURLWithPath: temp))
            guard rename(temp, path) == 0 else { throw InputError(path, String(cString: strerror(errno))) }
        } catch {
            try? FileManager.default.removeItem(atPath: temp)
            if error is InputError { throw error }
            throw InputError(path, "cannot write: \(error.localizedDescription)")
        }
    }

    /// Reads every tensor and the metadata. Malformed files throw InputError, they never trap.
    public static func read(_ path: String) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        guard let file = FileManager.default.contents(atPath: path) else { throw InputError(path, "cannot read file") }
        guard file.count >= 8 else { throw InputError(path, "too short for a safetensors header") }
        let headerLength = file.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(file.count - 8) else { throw InputError(path, "header length \(headerLength) beyond end of file") }
        let dataStart = 8 + Int(headerLength)
        guard let header = try? JSONSerialization.jsonObject(with: file.subdata(in: 8..<dataStart)) as? [String: Any] else {
            throw InputError(path, "header is not a JSON object")
        }
        var tensors: [String: Tensor] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                metadata = value as? [String: String] ?? [:]
                continue
            }
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int], offsets.count == 2
            else { throw InputError(path, "tensor \(name): malformed header entry") }
            guard dtype == "F32" else { throw InputError(path, "tensor \(name) has dtype \(dtype); only F32 is supported") }
            let count = shape.reduce(1, *)
            guard shape.allSatisfy({ $0 >= 0 }), offsets[1] - offsets[0] == 4 * count, offsets[0] >= 0,
                  dataStart + offsets[1] <= file.count
            else { throw InputError(path, "tensor \(name): data offsets \(offsets) do not fit shape \(shape) and file size") }
            let t = Tensor(shape: shape)
            file.withUnsafeBytes { raw in
                t.withUnsafeMutableBufferPointer {
                    UnsafeMutableRawPointer($0.baseAddress!).copyMemory(from: raw.baseAddress! + dataStart + offsets[0], byteCount: 4 * count)
                }
            }
            tensors[name] = t
        }
        return (tensors, metadata)
    }
}

/// A training checkpoint: model state dicts, Adam moments (`optimizer.m.*`, `optimizer.v.*`), and
/// in the metadata each Adam's step and the random generator's state, so a resumed run continues
/// exactly where it stopped. The one place checkpoints are written and restored.
public enum Checkpoint {
    /// A model with one optimiser (sync encoder, A2L): its step under `step`.
    public static func save(_ model: Module, optimizer: Adam, context: Context, to path: String,
                            extra: [String: String] = [:]) throws {
        try save(model.stateDict + optimizer.state(), steps: [("step", optimizer)], context: context, to: path, extra: extra)
    }

    /// `tensors`, and in the metadata `extra`, each optimiser's step under its key and the random state.
    public static func save(_ tensors: [(String, Tensor)], steps: [(key: String, optimizer: Adam)], context: Context,
                            to path: String, extra: [String: String] = [:]) throws {
        var metadata = extra
        for (key, optimizer) in steps { metadata[key] = String(optimizer.step) }
        metadata["rng"] = context.rng.stateWords.map(String.init).joined(separator: ",")
        try Safetensors.write(tensors, metadata: metadata, to: path)
    }

    /// Loads into existing tensors (names and shapes must match). Returns the metadata.
    @discardableResult
    public static func load(_ path: String, into model: Module, optimizer: Adam?, context: Context?) throws -> [String: String] {
        let (tensors, metadata) = try Safetensors.read(path)
        try restore(tensors, metadata, into: model.stateDict + (optimizer?.state() ?? []),
                    steps: optimizer.map { [("step", $0)] } ?? [], context: context, path: path)
        return metadata
    }

    /// Copies the checkpoint's `tensors` into `targets`, sets each optimiser's step from the
    /// `metadata` key and, when given, the context's random state.
    public static func restore(_ tensors: [String: Tensor], _ metadata: [String: String], into targets: [(String, Tensor)],
                               steps: [(key: String, optimizer: Adam)], context: Context?, path: String) throws {
        try copy(tensors, into: targets, path: path)
        for (key, optimizer) in steps {
            guard let step = metadata[key].flatMap(Int.init) else { throw InputError(path, "metadata has no optimiser step (\(key))") }
            optimizer.step = step
        }
        if let context {
            let words = (metadata["rng"] ?? "").split(separator: ",").compactMap { UInt64($0) }
            guard words.count == 4 else { throw InputError(path, "metadata has no random generator state") }
            context.rng = RandomGenerator(state: words)
        }
    }

    /// xxHash64 of the tensors' names, shapes and values, as 16 hex digits: equal for the same
    /// weights, different after any change. L2F runs record their frozen sync encoder's and their
    /// starting A2L's, so a resume can tell it was given others.
    public static func fingerprint(_ tensors: [(String, Tensor)]) -> String {
        var hasher = XXH64()
        for (name, tensor) in tensors {
            var header = Array(name.utf8) + [0]
            for size in [tensor.shape.count] + tensor.shape { withUnsafeBytes(of: Int64(size).littleEndian) { header += $0 } }
            header.withUnsafeBytes { hasher.update($0) }
            tensor.withUnsafeBufferPointer { hasher.update(UnsafeRawBufferPointer($0)) }
        }
        return hasher.hexDigest
    }

    /// Copies tensors by name into `targets`; every target must be present with its shape.
    public static func copy(_ tensors: [String: Tensor], into targets: [(String, Tensor)], path: String) throws {
        for (name, target) in targets {
            guard let t = tensors[name] else { throw InputError(path, "missing tensor \(name)") }
            guard t.shape == target.shape else { throw InputError(path, "tensor \(name) has shape \(t.shape), expected \(target.shape)") }
            target.assign(t)
        }
    }
}
