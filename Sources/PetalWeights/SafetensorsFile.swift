import Foundation
import PetalCore

/// The safetensors container (https://huggingface.co/docs/safetensors): an 8-byte
/// little-endian header length, a JSON header mapping each name to dtype, shape and
/// data_offsets (plus an optional `__metadata__` string map), then the raw data.
///
/// Petal writes Float32 only; it reads F32/F64/F16/BF16 and integer types, converted to
/// Float32. Petal's own model files are safetensors whose metadata describes the model.
public struct SafetensorsFile: Sendable {
    /// Tensor names in the order of their data in the file.
    public var names: [String]
    public var tensors: [String: Tensor]
    public var metadata: [String: String]

    public init(names: [String], tensors: [String: Tensor], metadata: [String: String]) {
        self.names = names
        self.tensors = tensors
        self.metadata = metadata
    }

    /// The tensors in file order.
    public var orderedTensors: [(String, Tensor)] { names.map { ($0, tensors[$0]!) } }

    public static func read(_ url: URL) throws -> SafetensorsFile {
        let data = try readFile(url)
        return try data.withUnsafeBytes { try parse($0, path: url.path) }
    }

    static func parse(_ raw: UnsafeRawBufferPointer, path: String) throws -> SafetensorsFile {
        func bad(_ reason: String) -> WeightError { .malformed(path: path, reason: reason) }
        guard raw.count >= 8 else { throw bad("file is \(raw.count) bytes, shorter than the 8-byte header length") }
        let headerLength = Int(UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self)))
        guard headerLength >= 2, headerLength <= raw.count - 8 else {
            throw bad("header length \(headerLength) does not fit in a file of \(raw.count) bytes (truncated?)")
        }
        let headerBytes = Data(raw[8..<(8 + headerLength)])
        guard let json = try? JSONSerialization.jsonObject(with: headerBytes), let header = json as? [String: Any] else {
            throw bad("the header is not a JSON object")
        }
        let dataStart = 8 + headerLength
        let dataLength = raw.count - dataStart
        var metadata: [String: String] = [:]
        var entries: [(name: String, begin: Int, tensor: Tensor)] = []
        for (name, value) in header {
            if name == "__metadata__" {
                guard let map = value as? [String: Any] else { throw bad("__metadata__ is not a map") }
                for (k, v) in map {
                    guard let s = v as? String else { throw bad("__metadata__ value for `\(k)` is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard let info = value as? [String: Any], let dtypeName = info["dtype"] as? String,
                  let shapeAny = info["shape"] as? [Any], let offsetsAny = info["data_offsets"] as? [Any],
                  offsetsAny.count == 2 else {
                throw bad("entry for `\(name)` lacks dtype, shape or data_offsets")
            }
            guard let type = ElementType(rawValue: dtypeName) else {
                throw WeightError.unsupportedDataType(path: path, tensor: name, dataType: dtypeName)
            }
            let shape = try shapeAny.map { (d: Any) -> Int in
                guard let n = (d as? NSNumber)?.intValue else { throw bad("shape of `\(name)` is not a list of integers") }
                return n
            }
            let offsets = try offsetsAny.map { (d: Any) -> Int in
                guard let n = (d as? NSNumber)?.intValue else { throw bad("data_offsets of `\(name)` are not integers") }
                return n
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end, end <= dataLength else {
                throw bad("data of `\(name)` [\(begin), \(end)) lies outside the \(dataLength) data bytes (truncated?)")
            }
            let count = shape.reduce(1, *)
            guard end - begin == count * type.byteSize else {
                throw bad("`\(name)` has \(end - begin) bytes but shape \(shape) of \(dtypeName) needs \(count * type.byteSize)")
            }
            let tensor = try TensorBuilder.make(shape: shape, type: type, source: raw.baseAddress! + dataStart + begin,
                                                name: name, path: path)
            entries.append((name, begin, tensor))
        }
        entries.sort { ($0.begin, $0.name) < ($1.begin, $1.name) }
        return SafetensorsFile(names: entries.map(\.name),
                               tensors: Dictionary(uniqueKeysWithValues: entries.map { ($0.name, $0.tensor) }),
                               metadata: metadata)
    }

    /// Writes `tensors` (Float32, in this order) and `metadata` to `url`, through a temporary file.
    public static func write(_ tensors: [(String, Tensor)], metadata: [String: String] = [:], to url: URL) throws {
        try writeAtomically(try encode(tensors, metadata: metadata, path: url.path), to: url)
    }

    public func write(to url: URL) throws {
        try Self.write(orderedTensors, metadata: metadata, to: url)
    }

    static func encode(_ tensors: [(String, Tensor)], metadata: [String: String], path: String) throws -> Data {
        var seen = Set<String>()
        var header = "{"
        var offset = 0
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            header += "\"__metadata__\":{\(pairs.joined(separator: ","))}"
        }
        for (name, tensor) in tensors {
            guard name != "__metadata__", seen.insert(name).inserted else {
                throw WeightError.duplicateTensor(path: path, name: name)
            }
            let size = tensor.count * 4
            if header.count > 1 { header += "," }
            header += "\(jsonString(name)):{\"dtype\":\"F32\",\"shape\":[\(tensor.shape.map(String.init).joined(separator: ","))],"
                + "\"data_offsets\":[\(offset),\(offset + size)]}"
            offset += size
        }
        header += "}"
        var headerBytes = Array(header.utf8)
        // The format pads the header with spaces so the data starts 8-byte aligned.
        while (8 + headerBytes.count) % 8 != 0 { headerBytes.append(0x20) }
        var data = Data(capacity: 8 + headerBytes.count + offset)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: headerBytes)
        for (_, tensor) in tensors {
            let plain = try tensor.rowMajor()
            guard plain.dataType == .float32 else {
                throw WeightError.unsupportedDataType(path: path, tensor: "", dataType: "\(plain.dataType)")
            }
            data.append(UnsafeBufferPointer(start: plain.floats.baseAddress, count: plain.count))
        }
        return data
    }

    /// A JSON string literal (RFC 8259 escaping).
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }
}
