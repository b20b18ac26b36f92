import Foundation
import PetalCore
import ZIPFoundation

/// Reads PyTorch checkpoints (`torch.save` of a state dict) in pure Swift, executing nothing:
///
/// - the zip format of PyTorch >= 1.6: `<archive>/data.pkl` + `<archive>/data/<key>`;
/// - the legacy format: five pickles in a row (magic number, protocol, sys info, the object,
///   the storage keys) followed by each storage as an 8-byte element count and raw data.
///
/// A `{"state_dict": ...}` / `{"model": ...}` wrapper is looked through. Names are kept as in
/// the file (`_blocks.3._depthwise_conv.weight`); strided views become contiguous row-major
/// Float32 copies; scalars (`num_batches_tracked`) become shape [1].
public enum PyTorchCheckpointReader {
    public enum Format: String, Sendable { case zip, legacy }

    public struct Checkpoint {
        public let format: Format
        /// Tensor names in the order of the state dict.
        public let names: [String]
        public let tensors: [String: Tensor]
    }

    /// Keys that wrap a state dict in training checkpoints, tried in this order.
    static let wrapperKeys = ["state_dict", "model_state_dict", "model", "net", "module", "params"]

    public static func read(_ url: URL) throws -> Checkpoint {
        let data = try readFile(url)
        let path = url.path
        if data.starts(with: [0x50, 0x4B, 0x03, 0x04]) {
            try data.withUnsafeBytes { try ZipDirectoryCheck.validate($0, path: path) }
            // Through the file, not `Archive(data:)`: ZIPFoundation's in-memory file traps when
            // a crafted entry offset points past the end (found by benchmarks/fuzz/pickle.swift).
            let archive: Archive
            do { archive = try Archive(url: url, accessMode: .read) } catch {
                throw WeightError.malformed(path: path, reason: "cannot open as zip: \(error)")
            }
            return try readZip(archive, size: data.count, path: path)
        }
        guard data.first == 0x80 else {
            throw WeightError.malformed(path: path, reason: "neither a zip nor a pickle (not a PyTorch checkpoint?)")
        }
        return try data.withUnsafeBytes { raw in try readLegacy(raw, path: path) }
    }

    private static func readLegacy(_ raw: UnsafeRawBufferPointer, path: String) throws -> Checkpoint {
        var machine = PickleMachine(bytes: raw, path: path)
        defer { machine.heap.release() }
        guard case .bigInt = try machine.load() else {  // 0x1950a86a20f9469cfc6c
            throw WeightError.malformed(path: path, reason: "no PyTorch magic number (is it a plain pickle?)")
        }
        guard case .int(let version) = try machine.load(), version == 1001 else {
            throw WeightError.malformed(path: path, reason: "unknown PyTorch legacy protocol version")
        }
        _ = try machine.load()  // sys_info: byte order and type sizes
        let object = try machine.load()
        guard case .list(let keyList) = try machine.load() else {
            throw WeightError.malformed(path: path, reason: "missing storage key list")
        }
        // After the pickles, each storage in the key list's order: an element count, then the elements.
        var position = machine.position
        var storages: [String: StorageData] = [:]
        for case .string(let key) in keyList.items {
            guard raw.count - position >= 8 else { throw WeightError.malformed(path: path, reason: "storage `\(key)` is truncated") }
            let declared = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: position, as: UInt64.self))
            position += 8
            guard let typeName = machine.heap.storageTypes[key], let type = elementType(typeName) else {
                throw WeightError.malformed(path: path, reason: "storage `\(key)` has no known element type")
            }
            guard let count = Int(exactly: declared), case let (byteCount, false) = count.multipliedReportingOverflow(by: type.byteSize),
                  byteCount <= raw.count - position else {
                throw WeightError.malformed(path: path, reason: "storage `\(key)` of \(declared) elements runs past the end (truncated file?)")
            }
            storages[key] = StorageData(bytes: UnsafeRawBufferPointer(rebasing: raw[position..<(position + byteCount)]), type: type)
            position += byteCount
        }
        return try checkpoint(object, format: .legacy, path: path) { key, name, body in
            guard let storage = storages[key] else {
                throw WeightError.malformed(path: path, reason: "storage `\(key)` of `\(name)` is missing")
            }
            return try body(storage)
        }
    }

    private static func readZip(_ archive: Archive, size archiveSize: Int, path: String) throws -> Checkpoint {
        var entries: [String: Entry] = [:]
        for entry in archive { entries[entry.path] = entry }
        guard let pickleEntry = entries.values.filter({ $0.path.hasSuffix("/data.pkl") || $0.path == "data.pkl" })
            .min(by: { $0.path < $1.path }) else {
            throw WeightError.malformed(path: path, reason: "zip without data.pkl (not a PyTorch checkpoint?)")
        }
        let prefix = String(pickleEntry.path.dropLast("data.pkl".count))
        // An entry's declared size is checked before anything is reserved for it: a stored entry
        // cannot be larger than the archive, a deflated one not more than deflate's 1032:1.
        func contents(_ entry: Entry) throws -> Data {
            let declared = entry.uncompressedSize
            let bound = UInt64(archiveSize) * (entry.isCompressed ? 1032 : 1)
            guard entry.type == .file, declared <= bound, entry.compressedSize <= UInt64(archiveSize), let size = Int(exactly: declared) else {
                throw WeightError.malformed(path: path, reason: "zip entry `\(entry.path)` declares \(declared) bytes in an archive of \(archiveSize)")
            }
            var out = Data(capacity: size)
            do {
                _ = try archive.extract(entry, skipCRC32: true) { chunk in
                    guard chunk.count <= size - out.count else { throw ZipEntryTooLong() }
                    out.append(chunk)
                }
            } catch {
                throw WeightError.malformed(path: path, reason: "cannot read zip entry `\(entry.path)`: \(error)")
            }
            guard out.count == size else {
                throw WeightError.malformed(path: path, reason: "zip entry `\(entry.path)` holds \(out.count) bytes, not the \(size) it declares")
            }
            return out
        }
        let pickle = try contents(pickleEntry)
        return try pickle.withUnsafeBytes { raw in
            var machine = PickleMachine(bytes: raw, path: path)
            defer { machine.heap.release() }
            let object = try machine.load()
            var blobs: [String: (data: Data, type: ElementType)] = [:]
            for (key, typeName) in machine.heap.storageTypes.sorted(by: { $0.key < $1.key }) {
                guard let type = elementType(typeName) else {
                    throw WeightError.malformed(path: path, reason: "storage `\(key)` has unknown type \(typeName)")
                }
                guard let entry = entries["\(prefix)data/\(key)"] else {
                    throw WeightError.malformed(path: path, reason: "storage `\(prefix)data/\(key)` is missing")
                }
                blobs[key] = (try contents(entry), type)
            }
            return try checkpoint(object, format: .zip, path: path) { key, name, body in
                guard let blob = blobs[key] else {
                    throw WeightError.malformed(path: path, reason: "storage `\(key)` of `\(name)` is missing")
                }
                return try blob.data.withUnsafeBytes { try body(StorageData(bytes: $0, type: blob.type)) }
            }
        }
    }

    private struct ZipEntryTooLong: Error, CustomStringConvertible {
        var description: String { "more data than the entry declares" }
    }

    /// One storage's bytes while a tensor is copied out of it.
    struct StorageData {
        let bytes: UnsafeRawBufferPointer
        let type: ElementType
        var count: Int { bytes.count / type.byteSize }
    }

    /// Gives `body` the storage `key` (for the tensor `name`), valid only during the call.
    typealias StorageAccess = (_ key: String, _ name: String, _ body: (StorageData) throws -> Tensor) throws -> Tensor

    static func elementType(_ storageType: String) -> ElementType? {
        switch storageType {
        case "torch.FloatStorage": return .f32
        case "torch.DoubleStorage": return .f64
        case "torch.HalfStorage": return .f16
        case "torch.BFloat16Storage": return .bf16
        case "torch.LongStorage": return .i64
        case "torch.IntStorage": return .i32
        case "torch.ShortStorage": return .i16
        case "torch.CharStorage": return .i8
        case "torch.ByteStorage": return .u8
        case "torch.BoolStorage": return .bool
        default: return nil
        }
    }

    /// Nested dicts deeper than this are refused (a state dict nests two or three levels).
    static let maxDictDepth = 100

    /// Finds the state dict (looking through wrappers) and copies its tensors out. Each dict
    /// is visited once, so a dict that contains itself, or one shared a million times, cannot
    /// make this loop or recurse without end.
    private static func checkpoint(_ object: PickleValue, format: Format, path: String,
                                   storage: StorageAccess) throws -> Checkpoint {
        guard case .dict(var dict) = object else {
            throw WeightError.malformed(path: path, reason: "the checkpoint is not a dict of tensors")
        }
        func holdsTensors(_ d: PickleDict, depth: Int, seen: inout Set<ObjectIdentifier>) -> Bool {
            guard depth < maxDictDepth, seen.insert(ObjectIdentifier(d)).inserted else { return false }
            return d.items.contains {
                switch $0.value {
                case .tensor: return true
                case .dict(let inner): return holdsTensors(inner, depth: depth + 1, seen: &seen)
                default: return false
                }
            }
        }
        let direct = dict.items.contains { if case .tensor = $0.value { return true }; return false }
        if !direct, let key = wrapperKeys.first(where: {
            var seen = Set<ObjectIdentifier>()
            if case .dict(let d)? = dict[$0] { return holdsTensors(d, depth: 0, seen: &seen) }
            return false
        }), case .dict(let inner)? = dict[key] {
            dict = inner
        }
        var names: [String] = []
        var tensors: [String: Tensor] = [:]
        var visited = Set<ObjectIdentifier>()
        func visit(_ d: PickleDict, prefix: String, depth: Int) throws {
            guard depth < maxDictDepth else {
                throw WeightError.malformed(path: path, reason: "dicts nested more than \(maxDictDepth) deep at `\(prefix)`")
            }
            guard visited.insert(ObjectIdentifier(d)).inserted else {
                throw WeightError.malformed(path: path, reason: "the dict at `\(prefix)` appears twice (or contains itself)")
            }
            for (key, value) in d.items {
                let name: String
                switch key {
                case .string(let s): name = prefix + s
                case .int(let i): name = prefix + String(i)
                default: continue
                }
                switch value {
                case .tensor(let t):
                    guard tensors[name] == nil else { throw WeightError.duplicateTensor(path: path, name: name) }
                    tensors[name] = try storage(t.storage.key, name) { try materialize(t, name: name, storage: $0, path: path) }
                    names.append(name)
                case .dict(let inner): try visit(inner, prefix: name + ".", depth: depth + 1)
                default: continue
                }
            }
        }
        try visit(dict, prefix: "", depth: 0)
        return Checkpoint(format: format, names: names, tensors: tensors)
    }

    /// Copies a strided view out of its storage into a contiguous row-major Float32 tensor.
    /// Every size, stride and offset comes from the file: all arithmetic on them is checked,
    /// and the view must lie inside the storage before a byte is read.
    private static func materialize(_ t: TensorReference, name: String, storage: StorageData, path: String) throws -> Tensor {
        func bad(_ reason: String) -> WeightError { .malformed(path: path, reason: "tensor `\(name)` \(reason)") }
        let shape = try TensorBuilder.petalShape(t.size, name: name, path: path)
        guard t.stride.allSatisfy({ $0 >= 0 }), t.offset >= 0, t.storage.elementOffset >= 0 else {
            throw bad("has a negative stride or offset")
        }
        let count = try TensorBuilder.elementCount(t.size, name: name, path: path)
        guard case let (start, false) = t.storage.elementOffset.addingReportingOverflow(t.offset) else {
            throw bad("has an offset beyond any storage")
        }
        if count == 0 {
            return try TensorBuilder.make(shape: t.size, type: storage.type, source: UnsafeRawBufferPointer(start: nil, count: 0),
                                          name: name, path: path)
        }
        // The last element the view reaches: start + sum((size - 1) * stride).
        var last = start
        for (size, stride) in zip(t.size, t.stride) {
            let step = (size - 1).multipliedReportingOverflow(by: stride)
            let sum = last.addingReportingOverflow(step.partialValue)
            guard !step.overflow, !sum.overflow else { throw bad("has strides beyond any storage") }
            last = sum.partialValue
        }
        guard last < storage.count else { throw bad("reaches element \(last) of a storage of \(storage.count)") }
        // A view with more elements than its storage repeats elements (an expanded view); only
        // so many are accepted, so that a tiny file cannot ask for terabytes.
        guard count <= storage.count else {
            throw bad("has \(count) elements but its storage only \(storage.count) (an expanded view?)")
        }
        var rowMajor = [Int](repeating: 1, count: t.size.count)
        for i in stride(from: t.size.count - 2, through: 0, by: -1) { rowMajor[i] = rowMajor[i + 1] * t.size[i + 1] }
        let contiguous = zip(zip(t.size, t.stride), rowMajor).allSatisfy { $0.0.0 <= 1 || $0.0.1 == $0.1 }
        let size = storage.type.byteSize
        if contiguous {
            let bytes = UnsafeRawBufferPointer(rebasing: storage.bytes[(start * size)..<((start + count) * size)])
            return try TensorBuilder.make(shape: t.size, type: storage.type, source: bytes, name: name, path: path)
        }
        // Strided copy: row by row over the last dimension, converting as it goes.
        let tensor = try Tensor(layout: .rowMajor(shape))
        guard let out = tensor.floats.baseAddress, let base = storage.bytes.baseAddress else { return tensor }
        let rank = t.size.count
        let inner = t.size.last ?? 1, innerStride = t.stride.last ?? 0
        var index = [Int](repeating: 0, count: max(rank - 1, 0))
        var first = start
        for row in 0..<(count / inner) {
            TensorBuilder.convertStrided(storage.type, base, first: first, stride: innerStride, count: inner,
                                         into: out + row * inner)
            // Wrapping arithmetic: past the last row the index may step beyond the view (checked above).
            var d = rank - 2
            while d >= 0 {
                index[d] += 1
                first &+= t.stride[d]
                if index[d] < t.size[d] { break }
                first &-= t.stride[d] &* t.size[d]
                index[d] = 0
                d -= 1
            }
        }
        return tensor
    }
}
