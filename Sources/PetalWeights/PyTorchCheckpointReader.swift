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
        if data.starts(with: [0x50, 0x4B, 0x03, 0x04]) { return try readZip(url) }
        guard data.first == 0x80 else {
            throw WeightError.malformed(path: path, reason: "neither a zip nor a pickle (not a PyTorch checkpoint?)")
        }
        return try data.withUnsafeBytes { raw in try readLegacy(raw, path: path) }
    }

    private static func readLegacy(_ raw: UnsafeRawBufferPointer, path: String) throws -> Checkpoint {
        var machine = PickleMachine(bytes: raw, path: path)
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
        var references: [String: StorageReference] = [:]
        collectStorages(object, into: &references)
        var position = machine.position
        var storages: [String: StorageData] = [:]
        for case .string(let key) in keyList.items {
            guard position + 8 <= raw.count else { throw WeightError.malformed(path: path, reason: "storage `\(key)` is truncated") }
            let count = Int(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: position, as: UInt64.self)))
            position += 8
            guard let reference = references[key], let type = elementType(reference.storageType) else {
                throw WeightError.malformed(path: path, reason: "storage `\(key)` has no known element type")
            }
            let byteCount = count.multipliedReportingOverflow(by: type.byteSize)
            guard count >= 0, !byteCount.overflow, byteCount.partialValue <= raw.count - position else {
                throw WeightError.malformed(path: path, reason: "storage `\(key)` of \(count) elements runs past the end (truncated file?)")
            }
            storages[key] = StorageData(base: raw.baseAddress! + position, count: count, type: type)
            position += byteCount.partialValue
        }
        return try checkpoint(object, storages: storages, format: .legacy, path: path)
    }

    private static func readZip(_ url: URL) throws -> Checkpoint {
        let path = url.path
        let archive: Archive
        do { archive = try Archive(url: url, accessMode: .read) } catch {
            throw WeightError.malformed(path: path, reason: "cannot open as zip: \(error)")
        }
        var entries: [String: Entry] = [:]
        for entry in archive { entries[entry.path] = entry }
        guard let pickleEntry = entries.values.first(where: { $0.path.hasSuffix("/data.pkl") || $0.path == "data.pkl" }) else {
            throw WeightError.malformed(path: path, reason: "zip without data.pkl (not a PyTorch checkpoint?)")
        }
        let prefix = String(pickleEntry.path.dropLast("data.pkl".count))
        func contents(_ entry: Entry) throws -> Data {
            var data = Data(capacity: Int(entry.uncompressedSize))
            do { _ = try archive.extract(entry, skipCRC32: true) { data.append($0) } } catch {
                throw WeightError.malformed(path: path, reason: "cannot read `\(entry.path)`: \(error)")
            }
            return data
        }
        let pickle = try contents(pickleEntry)
        let object = try pickle.withUnsafeBytes { raw -> PickleValue in
            var machine = PickleMachine(bytes: raw, path: path)
            return try machine.load()
        }
        var references: [String: StorageReference] = [:]
        collectStorages(object, into: &references)
        var blobs: [String: Data] = [:]
        for (key, _) in references {
            guard let entry = entries["\(prefix)data/\(key)"] else {
                throw WeightError.malformed(path: path, reason: "storage `\(prefix)data/\(key)` is missing")
            }
            blobs[key] = try contents(entry)
        }
        // Keep the blobs alive while tensors are copied out of them.
        return try withStorages(Array(blobs), references: references, index: 0, [:]) { storages in
            try checkpoint(object, storages: storages, format: .zip, path: path)
        }
    }

    private static func withStorages<T>(_ blobs: [(String, Data)], references: [String: StorageReference], index: Int,
                                        _ storages: [String: StorageData], _ body: ([String: StorageData]) throws -> T) throws -> T {
        if index == blobs.count { return try body(storages) }
        let (key, data) = blobs[index]
        return try data.withUnsafeBytes { raw in
            guard let type = elementType(references[key]!.storageType) else {
                throw WeightError.malformed(path: "", reason: "storage `\(key)` has no known element type")
            }
            var next = storages
            next[key] = StorageData(base: raw.baseAddress ?? UnsafeRawPointer(bitPattern: 8)!, count: raw.count / type.byteSize, type: type)
            return try withStorages(blobs, references: references, index: index + 1, next, body)
        }
    }

    struct StorageData {
        let base: UnsafeRawPointer
        let count: Int
        let type: ElementType
    }

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

    private static func collectStorages(_ value: PickleValue, into references: inout [String: StorageReference]) {
        switch value {
        case .tensor(let t): references[t.storage.key] = t.storage
        case .storage(let s): references[s.key] = s
        case .list(let l): l.items.forEach { collectStorages($0, into: &references) }
        case .tuple(let items): items.forEach { collectStorages($0, into: &references) }
        case .dict(let d): d.items.forEach { collectStorages($0.value, into: &references) }
        default: break
        }
    }

    /// Finds the state dict (looking through wrappers) and copies its tensors out.
    private static func checkpoint(_ object: PickleValue, storages: [String: StorageData], format: Format,
                                   path: String) throws -> Checkpoint {
        guard case .dict(var dict) = object else {
            throw WeightError.malformed(path: path, reason: "the checkpoint is not a dict of tensors")
        }
        func holdsTensors(_ d: PickleDict) -> Bool {
            d.items.contains { if case .tensor = $0.value { return true }; if case .dict(let inner) = $0.value { return holdsTensors(inner) }; return false }
        }
        let direct = dict.items.contains { if case .tensor = $0.value { return true }; return false }
        if !direct, let key = wrapperKeys.first(where: { if case .dict(let d)? = dict[$0] { return holdsTensors(d) }; return false }),
           case .dict(let inner)? = dict[key] {
            dict = inner
        }
        var names: [String] = []
        var tensors: [String: Tensor] = [:]
        func visit(_ d: PickleDict, prefix: String) throws {
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
                    tensors[name] = try materialize(t, name: name, storages: storages, path: path)
                    names.append(name)
                case .dict(let inner): try visit(inner, prefix: name + ".")
                default: continue
                }
            }
        }
        try visit(dict, prefix: "")
        return Checkpoint(format: format, names: names, tensors: tensors)
    }

    /// Copies a strided view out of its storage into a contiguous row-major Float32 tensor.
    private static func materialize(_ t: TensorReference, name: String, storages: [String: StorageData], path: String) throws -> Tensor {
        guard let storage = storages[t.storage.key] else {
            throw WeightError.malformed(path: path, reason: "storage `\(t.storage.key)` of `\(name)` is missing")
        }
        let start = t.storage.elementOffset + t.offset
        let count = t.size.reduce(1, *)
        guard t.size.allSatisfy({ $0 >= 0 }), t.stride.allSatisfy({ $0 >= 0 }), start >= 0 else {
            throw WeightError.malformed(path: path, reason: "tensor `\(name)` has a negative size, stride or offset")
        }
        let last = count == 0 ? start : start + zip(t.size, t.stride).reduce(0) { $0 + ($1.0 - 1) * $1.1 }
        guard count == 0 || last < storage.count else {
            throw WeightError.malformed(path: path, reason: "tensor `\(name)` reaches element \(last) of a storage of \(storage.count)")
        }
        var rowMajor = [Int](repeating: 1, count: t.size.count)
        for i in stride(from: t.size.count - 2, through: 0, by: -1) { rowMajor[i] = rowMajor[i + 1] * t.size[i + 1] }
        let contiguous = zip(zip(t.size, t.stride), rowMajor).allSatisfy { $0.0.0 <= 1 || $0.0.1 == $0.1 }
        if contiguous || count == 0 {
            return try TensorBuilder.make(shape: t.size, type: storage.type, source: storage.base + start * storage.type.byteSize,
                                          name: name, path: path)
        }
        // Strided copy: row by row over the last dimension, converting as it goes.
        let tensor = try Tensor(layout: .rowMajor(TensorBuilder.petalShape(t.size, name: name, path: path)))
        let out = tensor.floats.baseAddress!
        let rank = t.size.count
        let inner = t.size.last ?? 1, innerStride = t.stride.last ?? 0
        var index = [Int](repeating: 0, count: max(rank - 1, 0))
        var base = start
        for row in 0..<(count / inner) {
            TensorBuilder.convertStrided(storage.type, storage.base, first: base, stride: innerStride, count: inner,
                                         into: out + row * inner)
            var d = rank - 2
            while d >= 0 {
                index[d] += 1
                base += t.stride[d]
                if index[d] < t.size[d] { break }
                base -= t.stride[d] * t.size[d]
                index[d] = 0
                d -= 1
            }
        }
        return tensor
    }
}
