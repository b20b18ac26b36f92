import Foundation
import PetalCore

/// The safetensors container (https://huggingface.co/docs/safetensors): an 8-byte
/// little-endian header length, a JSON header mapping each name to dtype, shape and
/// data_offsets (plus an optional `__metadata__` string map), then the raw data.
///
/// Petal writes Float32 (and a quantized model's int8 weights); it reads F32/F64/F16/BF16 and integer types, converted to
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
    public var orderedTensors: [(String, Tensor)] { names.compactMap { name in tensors[name].map { (name, $0) } } }

    public static func read(_ url: URL) throws -> SafetensorsFile {
        let data = try readFile(url)
        return try data.withUnsafeBytes { try parse($0, path: url.path) }
    }

    /// The format's own limit on the JSON header (the reference implementation refuses more).
    static let maxHeaderLength = 100_000_000

    static func parse(_ raw: UnsafeRawBufferPointer, path: String) throws -> SafetensorsFile {
        func bad(_ reason: String) -> WeightError { .malformed(path: path, reason: reason) }
        guard raw.count >= 8 else { throw bad("file is \(raw.count) bytes, shorter than the 8-byte header length") }
        let declared = UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self))
        guard declared >= 2, declared <= UInt64(raw.count - 8), declared <= UInt64(maxHeaderLength) else {
            throw bad("header length \(declared) does not fit in a file of \(raw.count) bytes (truncated?) or exceeds \(maxHeaderLength)")
        }
        let headerLength = Int(declared)
        let header: Header
        do { header = try PetalJSON.decode(Header.self, from: Data(raw[8..<(8 + headerLength)])) } catch {
            throw bad("the header is not a JSON object of tensor entries: \(Self.describe(error))")
        }
        let dataStart = 8 + headerLength
        let data = UnsafeRawBufferPointer(rebasing: raw[dataStart...])
        var entries: [(name: String, begin: Int, tensor: Tensor)] = []
        for (name, entry) in header.entries {
            guard let type = ElementType(rawValue: entry.dtype) else {
                throw WeightError.unsupportedDataType(path: path, tensor: name, dataType: entry.dtype)
            }
            guard entry.dataOffsets.count == 2 else { throw bad("data_offsets of `\(name)` are not [begin, end]") }
            let (begin, end) = (entry.dataOffsets[0], entry.dataOffsets[1])
            guard begin >= 0, begin <= end, end <= data.count else {
                throw bad("data of `\(name)` [\(begin), \(end)) lies outside the \(data.count) data bytes (truncated?)")
            }
            // `make` checks that the shape's elements fill exactly [begin, end).
            let tensor = try TensorBuilder.make(shape: entry.shape, type: type, source: UnsafeRawBufferPointer(rebasing: data[begin..<end]),
                                                name: name, path: path)
            entries.append((name, begin, tensor))
        }
        entries.sort { ($0.begin, $0.name) < ($1.begin, $1.name) }
        return SafetensorsFile(names: entries.map(\.name),
                               tensors: Dictionary(uniqueKeysWithValues: entries.map { ($0.name, $0.tensor) }),
                               metadata: header.metadata)
    }

    /// The JSON header: tensor entries by name, and the optional `__metadata__` string map.
    struct Header: Decodable {
        struct Entry: Decodable {
            let dtype: String
            let shape: [Int]
            let dataOffsets: [Int]
            enum CodingKeys: String, CodingKey { case dtype, shape, dataOffsets = "data_offsets" }
        }

        struct Key: CodingKey {
            let stringValue: String
            init(stringValue: String) { self.stringValue = stringValue }
            var intValue: Int? { nil }
            init?(intValue: Int) { nil }
        }

        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]

        init(from decoder: Decoder) throws {
            let container = try decoder.container(keyedBy: Key.self)
            for key in container.allKeys {
                if key.stringValue == "__metadata__" {
                    metadata = try container.decode([String: String].self, forKey: key)
                } else {
                    entries[key.stringValue] = try container.decode(Entry.self, forKey: key)
                }
            }
        }
    }

    /// A decoding error as one line: where in the header, and what.
    static func describe(_ error: Error) -> String {
        let context: DecodingError.Context
        switch error as? DecodingError {
        case .typeMismatch(_, let c)?, .valueNotFound(_, let c)?, .keyNotFound(_, let c)?, .dataCorrupted(let c)?: context = c
        default: return "\(error)"
        }
        let at = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? "`\($0.stringValue)`" }.joined(separator: ".")
        return at.isEmpty ? context.debugDescription : "\(at): \(context.debugDescription)"
    }

    /// Writes `tensors` (Float32 or int8, in this order) and `metadata` to `url`, through a temporary file.
    public static func write(_ tensors: [(String, Tensor)], metadata: [String: String] = [:], to url: URL) throws {
        try writeAtomically(try encode(tensors, metadata: metadata, path: url.path), to: url)
    }

    public func write(to url: URL) throws {
        try Self.write(orderedTensors, metadata: metadata, to: url)
    }

    public static func encode(_ tensors: [(String, Tensor)], metadata: [String: String], path: String) throws -> Data {
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
            // Float32, or int8 (a quantized model's weights); both read back as Float32.
            let int8 = tensor.dataType == .int8
            let size = tensor.count * (int8 ? 1 : 4)
            if header.count > 1 { header += "," }
            header += "\(jsonString(name)):{\"dtype\":\"\(int8 ? "I8" : "F32")\",\"shape\":[\(tensor.shape.map(String.init).joined(separator: ","))],"
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
            switch plain.dataType {
            case .float32: data.append(UnsafeBufferPointer(start: plain.floats.baseAddress, count: plain.count))
            case .int8: data.append(contentsOf: plain.bytes.prefix(plain.count))
            default: throw WeightError.unsupportedDataType(path: path, tensor: "", dataType: "\(plain.dataType)")
            }
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
