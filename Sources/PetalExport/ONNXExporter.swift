import Foundation
import PetalCore
import PetalLayers
import PetalModels
import SwiftProtobuf

/// How `ONNXExporter` writes a model.
public struct ONNXExportOptions: Sendable, Equatable {
    /// The opsets written: 13 (Clip's min and max as inputs, Softmax on one axis) up to the
    /// newest the pinned ONNX Runtime of scripts/check_onnx.py runs.
    public static let supportedOpsets = 13...24
    public static let defaultOpset = 17

    public var opset: Int
    /// Input [N, H, W, 3] uint8 pixels (0-255), with the cast, normalisation and transpose in
    /// the graph; otherwise [N, 3, H, W] float32 already normalised as the backbone wants.
    public var withPreprocessing: Bool

    public init(opset: Int = ONNXExportOptions.defaultOpset, withPreprocessing: Bool = false) {
        self.opset = opset
        self.withPreprocessing = withPreprocessing
    }
}

/// What the ONNX file says about the model besides its graph (`metadata_props`).
public struct ONNXModelFacts: Sendable, Equatable {
    public var classNames: [String]
    public var inputSize: Int
    public var normalization: InputNormalization
    /// The backbone, as Petal names it (`mobilenetv2 (alpha 0.35)`, `efficientnet-lite0`).
    public var backbone: String

    public init(classNames: [String], inputSize: Int, normalization: InputNormalization, backbone: String) {
        self.classNames = classNames
        self.inputSize = inputSize
        self.normalization = normalization
        self.backbone = backbone
    }
}

/// A trained classifier as an ONNX model: the whole network with batch norms folded into their
/// convolutions exactly as Petal's inference folds them, padding made explicit, softmax at the
/// end, a dynamic batch dimension, and the class names, input size and normalisation in
/// `metadata_props`. `export()` gives the serialized file.
public struct ONNXExporter {
    public static let producerName = "petal"
    public static let inputName = "images"
    public static let outputName = "probabilities"

    public let network: Network
    public let facts: ONNXModelFacts
    public let options: ONNXExportOptions

    public init(network: Network, facts: ONNXModelFacts, options: ONNXExportOptions = ONNXExportOptions()) {
        self.network = network
        self.facts = facts
        self.options = options
    }

    public init(classifier: TransferClassifier, options: ONNXExportOptions = ONNXExportOptions()) {
        self.init(network: classifier.network,
                  facts: ONNXModelFacts(classNames: classifier.classNames, inputSize: classifier.inputSize,
                                        normalization: classifier.normalization,
                                        backbone: classifier.architecture.description),
                  options: options)
    }

    /// The serialized ONNX model.
    public func export() throws -> Data { try model().serializedData() }

    public func callAsFunction() throws -> Data { try export() }

    /// The ONNX model, as protobuf messages.
    public func model() throws -> Onnx_ModelProto {
        try model { builder, input in
            var walk = NetworkWalk(network: network)
            return try walk.emit(into: &builder, input: input)
        }
    }

    /// The ONNX model whose layers `emitLayers` writes between the input and the softmax
    /// (returning the logits): the float network's walk, or an int8 model's (`QDQExporter`).
    func model(emitLayers: (inout ONNXGraphBuilder, String) throws -> String) throws -> Onnx_ModelProto {
        guard ONNXExportOptions.supportedOpsets.contains(options.opset) else {
            throw ExportError.unsupportedOpset(options.opset, supported: ONNXExportOptions.supportedOpsets)
        }
        var builder = ONNXGraphBuilder(name: "petal_classifier")
        let (c, h, w) = (network.input.shape[0], network.input.shape[1], network.input.shape[2])
        let features: String
        if options.withPreprocessing {
            let pixels = builder.addInput(Self.inputName, elementType: .uint8, shape: [nil, h, w, c])
            let n = facts.normalization
            features = builder.emitPreprocessing(input: pixels, scales: (0..<c).map { n.scale(channel: $0) },
                                                 offsets: (0..<c).map { n.offset(channel: $0) })
        } else {
            features = builder.addInput(Self.inputName, elementType: .float, shape: [nil, c, h, w])
        }
        let logits = try emitLayers(&builder, features)
        _ = builder.emitSoftmax("softmax", input: logits, output: Self.outputName)
        builder.addOutput(Self.outputName, elementType: .float, shape: [nil, facts.classNames.count])

        var model = Onnx_ModelProto()
        model.irVersion = Self.irVersion(opset: options.opset)
        var opset = Onnx_OperatorSetIdProto()
        opset.domain = ""
        opset.version = Int64(options.opset)
        model.opsetImport = [opset]
        model.producerName = Self.producerName
        model.producerVersion = PetalVersion.string
        model.modelVersion = 1
        model.docString = "\(facts.backbone) image classifier of \(facts.classNames.count) classes, exported by Petal"
        model.graph = builder.graph
        model.metadataProps = try metadata().map { key, value in
            var entry = Onnx_StringStringEntryProto()
            entry.key = key
            entry.value = value
            return entry
        }
        return model
    }

    /// `metadata_props`, sorted by key. Normalisation in both forms people use: Petal's
    /// `pixel * scale + offset`, and per-channel mean and std on 0-255 values.
    func metadata() throws -> [(String, String)] {
        let n = facts.normalization
        // Mean and std to four decimals (127.5, not float32's 127.49999); scale and offset are exact.
        func rounded(_ x: Double) -> Double { (x * 10_000).rounded() / 10_000 }
        let mean = (0..<3).map { rounded(-Double(n.offset(channel: $0)) / Double(n.scale(channel: $0))) }
        let std = (0..<3).map { rounded(1 / Double(n.scale(channel: $0))) }
        let layout = options.withPreprocessing
            ? "NHWC uint8 RGB 0-255 (normalised inside the graph)"
            : "NCHW float32 RGB, normalised: pixel * scale + offset (per channel where channelScales is set)"
        let entries: [String: String] = [
            "petal_version": PetalVersion.string,
            "backbone": facts.backbone,
            "class_names": String(decoding: try PetalJSON.encode(facts.classNames, pretty: false), as: UTF8.self),
            "input_size": "\(facts.inputSize)",
            "input_layout": layout,
            "normalization": try PetalJSON.line(n),
            "mean": try PetalJSON.line(mean),
            "std": try PetalJSON.line(std),
        ]
        return entries.sorted { $0.key < $1.key }
    }

    /// The IR version of the ONNX release that introduced `opset` (onnx.helper.VERSION_TABLE).
    static func irVersion(opset: Int) -> Int64 {
        switch opset {
        case ...14: return 7
        case 15...18: return 8
        case 19...20: return 9
        case 21...22: return 10
        case 23: return 11
        default: return 12
        }
    }
}

extension ONNXExporter {
    /// Reads an ONNX model file (for `isWrittenByPetal` and tests).
    public static func read(_ url: URL) throws -> Onnx_ModelProto {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ExportError.notONNX(path: url.path, reason: error.localizedDescription)
        }
        do { return try Onnx_ModelProto(serializedBytes: data) } catch {
            throw ExportError.notONNX(path: url.path, reason: "\(error)")
        }
    }

    /// Whether `url` is an ONNX file Petal wrote (producer_name "petal"), which an export may replace.
    public static func isWrittenByPetal(_ url: URL) -> Bool {
        (try? read(url))?.producerName == producerName
    }
}
