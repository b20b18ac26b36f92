import Foundation
import PetalCore
import PetalLayers
import PetalWeights

/// The classifier put on a pretrained base: global average pooling to one vector per
/// image, optional hidden Dense layers (ReLU) with dropout, dropout, and a Dense over the
/// classes whose softmax the loss applies.
public struct HeadConfig: Codable, Hashable, Sendable {
    public var hiddenUnits: [Int]
    /// Dropout before each Dense layer of the head.
    public var dropout: Float

    /// The notebook's head has one Dense over the classes; a little dropout helps on small data.
    public init(hiddenUnits: [Int] = [], dropout: Float = 0.2) {
        self.hiddenUnits = hiddenUnits
        self.dropout = dropout
    }
}

/// A pretrained backbone with a new classification head, in one network whose layer
/// indices start with the backbone's (Keras's numbering, input included).
public final class TransferClassifier: @unchecked Sendable {  // unchecked: as its Network (predict only reads)
    public let architecture: Architecture
    public let classNames: [String]
    public let inputSize: Int
    public let head: HeadConfig
    public let network: Network
    /// Layers 0..<baseLayerCount are the backbone's.
    public let baseLayerCount: Int

    public var normalization: InputNormalization { architecture.normalization }

    /// Builds the classifier; `base` binds the backbone's weights (e.g. from
    /// `PretrainedWeights.binder`); the head starts from seeded Glorot initialisation.
    public init(architecture: Architecture, classNames: [String], inputSize: Int, head: HeadConfig = HeadConfig(),
                base: WeightBinder, seed: UInt64 = 42) throws {
        guard classNames.count >= 2 else { throw ModelError.tooFewClasses(classNames) }
        self.architecture = architecture
        self.classNames = classNames
        self.inputSize = inputSize
        self.head = head
        network = try architecture.build(height: inputSize, width: inputSize, binder: base)
        baseLayerCount = network.layers.count
        if let store = base.store {
            // The pretrained model's own classifier is replaced; any other tensor left over
            // means a file for another architecture.
            for head in architecture.facts.classifierPrefixes { store.ignore(prefix: head) }
            try store.finish()
        }
        try Self.addHead(to: network, head: head, classes: classNames.count, seed: seed, binder: .none)
    }

    private init(architecture: Architecture, classNames: [String], inputSize: Int, head: HeadConfig,
                 network: Network, baseLayerCount: Int) {
        self.architecture = architecture; self.classNames = classNames; self.inputSize = inputSize
        self.head = head; self.network = network; self.baseLayerCount = baseLayerCount
    }

    private static func addHead(to network: Network, head: HeadConfig, classes: Int, seed: UInt64,
                                binder: WeightBinder) throws {
        let b = NetworkBuilder(network: network, binder: binder, batchNormMomentum: 0.99, batchNormEpsilon: 1e-3)
        b.globalAveragePooling("global_average_pooling2d")
        for (i, units) in head.hiddenUnits.enumerated() {
            if head.dropout > 0 { try b.dropout("dropout_hidden_\(i)", rate: head.dropout, seed: seed &+ UInt64(2 * i + 1)) }
            try b.dense("dense_hidden_\(i)", units: units, activation: .relu, seed: seed &+ UInt64(2 * i + 2))
        }
        if head.dropout > 0 { try b.dropout("dropout", rate: head.dropout, seed: seed &+ 101) }
        try b.dense("predictions", units: classes, seed: seed &+ 102)
    }

    // MARK: - Freezing (Keras's trainable flags)

    /// Phase 1: the whole base frozen (batch norms on their moving statistics), the head trainable.
    public func freezeBase() {
        network.setTrainable(false, layers: 0..<baseLayerCount)
        network.setTrainable(true, layers: baseLayerCount..<network.layers.count)
    }

    /// Phase 2: base layers from `index` on trainable (Keras's index, input = 0), those
    /// before frozen; batch-norm statistics of the base stay frozen unless `trainStatistics`.
    public func unfreezeBase(from index: Int, trainStatistics: Bool = false) {
        network.setTrainable(false, layers: 0..<index)
        network.setTrainable(true, layers: index..<network.layers.count)
        for layer in network.layers[..<baseLayerCount] {
            (layer as? BatchNormalization)?.freezeStatistics = !trainStatistics
        }
    }

    /// The index of a layer or block by name (e.g. `block_13_expand` or `_blocks.10.`):
    /// the first layer whose name starts with it.
    public func layerIndex(named prefix: String) -> Int? {
        network.layers.firstIndex { $0.name == prefix } ?? network.layers.firstIndex { $0.name.hasPrefix(prefix) }
    }

    // MARK: - Inference

    /// Class probabilities for a batch of normalised images (N, 3, H, W). Safe to call from
    /// several threads at once (`Network.infer`), but not while the model trains.
    public func predict(_ images: Tensor) throws -> [[Float]] {
        let logits = try network.infer(images)
        let k = classNames.count
        let probabilities = try SoftmaxCrossEntropy.softmax(logits)
        return (0..<images.shape[0]).map { Array(probabilities[($0 * k)..<(($0 + 1) * k)]) }
    }

    // MARK: - Parameters and summary

    public var trainableParameterCount: Int {
        network.trainableParameters.reduce(0) { $0 + $1.value.count }
    }

    public var totalParameterCount: Int { network.weights.reduce(0) { $0 + $1.value.count } }

    /// Keras's `model.summary()`: each layer, its output shape and parameter count, then
    /// trainable and non-trainable totals.
    public var summary: String {
        let shapes = network.outputShapes(batch: 1)
        var lines = ["Model: \(architecture) + head, input \(inputSize)x\(inputSize), \(classNames.count) classes",
                     pad("Layer (type)", 44) + pad("Output shape", 22) + pad("Params", 10) + "Trainable"]
        for (i, layer) in network.layers.enumerated() {
            let count = layer.weights.reduce(0) { $0 + $1.value.count }
            let shape = "(" + (["None"] + shapes[i].dropFirst().map(String.init)).joined(separator: ", ") + ")"
            lines.append(pad("\(i) \(layer.name) (\(layer.typeName))", 44) + pad(shape, 22) + pad("\(count)", 10)
                         + (layer.weights.isEmpty ? "" : layer.trainable ? "yes" : "no"))
        }
        let trainable = trainableParameterCount, total = totalParameterCount
        lines.append("Total params: \(total)")
        lines.append("Trainable params: \(trainable)")
        lines.append("Non-trainable params: \(total - trainable)")
        return lines.joined(separator: "\n")
    }

    private func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }

    // MARK: - Saving (safetensors with a JSON description of the model)

    struct Description: Codable {
        var format = 1
        var architecture: Architecture
        var classNames: [String]
        var inputSize: Int
        var head: HeadConfig
        var normalization: InputNormalization
    }

    /// Writes every weight (row-major, logical shapes) and the model's description to a
    /// safetensors file, through a temporary file renamed into place.
    public func save(to url: URL) throws {
        let description = Description(architecture: architecture, classNames: classNames, inputSize: inputSize,
                                      head: head, normalization: normalization)
        let json = try PetalJSON.line(description)
        let tensors = try network.weights.map { ($0.name, try $0.value.rowMajor()) }
        try SafetensorsFile.write(tensors, metadata: ["petal_format": "1", "petal_model": json], to: url)
    }

    /// Reads a model written by `save(to:)`.
    public static func load(from url: URL) throws -> TransferClassifier {
        let file = try SafetensorsFile.read(url)
        guard let json = file.metadata["petal_model"],
              let description = try? PetalJSON.decode(Description.self, from: Data(json.utf8)) else {
            throw WeightError.malformed(path: url.path, reason: "not a Petal model file (no petal_model description)")
        }
        let store = WeightStore(tensors: file.tensors, names: file.names, source: url.path)
        let binder = WeightBinder(store: store, convention: .petal)
        let network = try description.architecture.build(height: description.inputSize, width: description.inputSize,
                                                         binder: binder)
        let baseCount = network.layers.count
        try addHead(to: network, head: description.head, classes: description.classNames.count, seed: 0, binder: binder)
        try store.finish()
        return TransferClassifier(architecture: description.architecture, classNames: description.classNames,
                                  inputSize: description.inputSize, head: description.head, network: network,
                                  baseLayerCount: baseCount)
    }
}
