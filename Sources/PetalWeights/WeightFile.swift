import Foundation
import PetalCore

/// The weight-file formats Petal reads.
public enum WeightFormat: String, Sendable {
    case kerasHDF5 = "keras-hdf5", pytorchZip = "pytorch-zip", pytorchLegacy = "pytorch-legacy", safetensors

    /// Detects the format from the first bytes: the HDF5 signature, a zip header (PyTorch >= 1.6),
    /// a pickle protocol opcode (legacy PyTorch), or a safetensors header length followed by `{`.
    public static func detect(_ url: URL) throws -> WeightFormat {
        try checkIsFile(url)
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw WeightError.unreadable(path: url.path, reason: "permission denied")
        }
        defer { try? handle.close() }
        // `read(upToCount:)` throws on a read error where `readData(ofLength:)` would stop the process.
        let head: [UInt8]
        do { head = [UInt8](try handle.read(upToCount: 9) ?? Data()) } catch {
            throw WeightError.unreadable(path: url.path, reason: error.localizedDescription)
        }
        if head.starts(with: HDF5File.signature) { return .kerasHDF5 }
        if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) { return .pytorchZip }
        if head.first == 0x80 { return .pytorchLegacy }
        if head.count == 9, head[8] == UInt8(ascii: "{") { return .safetensors }
        throw WeightError.unknownFormat(path: url.path)
    }

    /// File name extensions of weights files, for listing a folder's candidates.
    public static var fileExtensions: Set<String> { weightFileExtensions }
}

/// Named tensors read from any supported file, in file order, with where they came from.
public struct WeightFile {
    public let url: URL
    public let format: WeightFormat
    public var names: [String]
    public var tensors: [String: Tensor]
    /// Safetensors metadata, or facts about the source (Keras version, model config).
    public var metadata: [String: String]

    public init(url: URL, format: WeightFormat, names: [String], tensors: [String: Tensor], metadata: [String: String] = [:]) {
        self.url = url
        self.format = format
        self.names = names
        self.tensors = tensors
        self.metadata = metadata
    }

    /// Reads any supported file, choosing the reader from its first bytes.
    public static func read(_ url: URL) throws -> WeightFile {
        let format = try WeightFormat.detect(url)
        switch format {
        case .safetensors:
            let file = try SafetensorsFile.read(url)
            return WeightFile(url: url, format: format, names: file.names, tensors: file.tensors, metadata: file.metadata)
        case .kerasHDF5:
            let reader = try KerasHDF5Reader(url)
            var metadata = ["keras_style": reader.style.rawValue]
            if let v = reader.kerasVersion { metadata["keras_version"] = v }
            if let c = reader.modelConfig { metadata["model_config"] = c }
            if !reader.subModels.isEmpty { metadata["sub_models"] = reader.subModels.joined(separator: ",") }
            return WeightFile(url: url, format: format, names: reader.names, tensors: try reader.readAll(), metadata: metadata)
        case .pytorchZip, .pytorchLegacy:
            let checkpoint = try PyTorchCheckpointReader.read(url)
            return WeightFile(url: url, format: format, names: checkpoint.names, tensors: checkpoint.tensors)
        }
    }

    /// Writes these tensors as safetensors, with `source_format` and `source_file` in the metadata.
    public func writeSafetensors(to out: URL, metadata extra: [String: String] = [:]) throws {
        var metadata = self.metadata
        metadata["source_format"] = format.rawValue
        metadata["source_file"] = url.lastPathComponent
        metadata.merge(extra) { $1 }
        let named = try names.map { name -> (String, Tensor) in
            guard let tensor = tensors[name] else { throw WeightError.missingTensor(name: name, source: url.path) }
            return (name, tensor)
        }
        try SafetensorsFile.write(named, metadata: metadata, to: out)
    }
}
