import Foundation

/// What keeps a model from being exported.
public enum ExportError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// An ONNX opset this exporter does not write.
    case unsupportedOpset(Int, supported: ClosedRange<Int>)
    /// A layer with no ONNX equivalent here.
    case unsupportedLayer(name: String, type: String)
    /// A layer wired in a way the exporter does not follow (e.g. several inputs where one is read).
    case unsupportedWiring(layer: String, reason: String)
    /// The file is not an ONNX model (reading one back).
    case notONNX(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unsupportedOpset(opset, supported):
            return "--opset \(opset) is not supported: Petal writes ONNX opsets \(supported.lowerBound) to \(supported.upperBound)"
        case let .unsupportedLayer(name, type):
            return "layer \(name) (\(type)) cannot be exported to ONNX: Petal has no ONNX form for \(type) layers"
        case let .unsupportedWiring(layer, reason):
            return "layer \(layer) cannot be exported to ONNX: \(reason)"
        case let .notONNX(path, reason):
            return "\(path): not an ONNX model (\(reason))"
        }
    }

    public var errorDescription: String? { description }
}
