import Foundation

/// Everything that can go wrong reading, binding or fetching weights. Each message names
/// the file (or URL) and the problem, so a user can act on it without a stack trace.
public enum WeightError: Error, Equatable, CustomStringConvertible, LocalizedError {
    case fileNotFound(path: String)
    /// A folder where a weights file was expected, with the weights files it holds.
    case folder(path: String, weightFiles: [String])
    case unreadable(path: String, reason: String)
    /// The bytes do not follow the format they claim (truncated, bad header, bad offsets).
    case malformed(path: String, reason: String)
    case unknownFormat(path: String)
    case unsupportedDataType(path: String, tensor: String, dataType: String)
    /// A pickle asked for a global that is not a tensor or container constructor.
    case refusedGlobal(path: String, global: String)
    case duplicateTensor(path: String, name: String)
    case missingTensor(name: String, source: String)
    case shapeMismatch(name: String, expected: [Int], found: [Int], source: String)
    case unusedTensors(names: [String], source: String)
    case writeFailed(path: String, reason: String)
    case downloadFailed(url: String, destination: String, reason: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "weights file not found: \(path)"
        case .folder(let path, let files):
            let shown = files.prefix(8).joined(separator: ", ") + (files.count > 8 ? ", ..." : "")
            let hint = files.isEmpty ? "it holds no weights file (.h5, .pth, .pt, .bin, .safetensors)" : "pass one of its files: \(shown)"
            return "\(path) is a folder, not a weights file; \(hint)"
        case .unreadable(let path, let reason):
            return "cannot read weights file \(path): \(reason)"
        case .malformed(let path, let reason):
            return "\(path) is not a valid weights file: \(reason)"
        case .unknownFormat(let path):
            return "\(path): unknown weights format (expected Keras HDF5, a PyTorch checkpoint or safetensors)"
        case .unsupportedDataType(let path, let tensor, let dataType):
            return "\(path): tensor `\(tensor)` has unsupported data type \(dataType)"
        case .refusedGlobal(let path, let global):
            return "refusing to load `\(global)` from \(path): only tensors and containers are allowed"
        case .duplicateTensor(let path, let name):
            return "\(path): tensor `\(name)` appears twice"
        case .missingTensor(let name, let source):
            return "\(source): missing tensor `\(name)`"
        case .shapeMismatch(let name, let expected, let found, let source):
            return "\(source): tensor `\(name)` has shape \(found) but the model expects \(expected)"
        case .unusedTensors(let names, let source):
            let shown = names.prefix(8).map { "`\($0)`" }.joined(separator: ", ")
            let more = names.count > 8 ? " and \(names.count - 8) more" : ""
            return "\(source): \(names.count) tensor(s) not used by the model: \(shown)\(more) (is this file for another architecture?)"
        case .writeFailed(let path, let reason):
            return "cannot write \(path): \(reason)"
        case .downloadFailed(let url, let destination, let reason):
            return "cannot download \(url): \(reason). Download it elsewhere and put it at \(destination), or pass a weights file with --weights FILE"
        }
    }

    public var errorDescription: String? { description }
}
