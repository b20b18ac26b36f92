import Foundation
import PetalCore
import PetalLayers
import PetalWeights

/// How activation ranges are chosen from the calibration images.
public enum CalibrationMethod: String, Codable, CaseIterable, Sendable {
    /// The largest magnitude seen (nothing clipped; outliers widen the steps).
    case minmax
    /// The 99.99th percentile of magnitudes (rare outliers clipped, finer steps for the rest).
    case percentile
}

/// What an int8 model file records besides its weights: how it was quantized, and each
/// step's input, output and residual types and scales.
public struct QuantizationRecord: Codable, Sendable, Equatable {
    public struct Step: Codable, Sendable, Equatable {
        public var name: String
        public var input: QuantizedType
        public var output: QuantizedType
        public var residual: QuantizedType?
    }

    public var format = 1
    public var weights = "int8, symmetric per output channel (zero point 0), batch norm folded in"
    public var activations = "u8 where calibration saw no negative value, else s8; symmetric (zero point 0)"
    public var method: CalibrationMethod
    public var calibrationImages: Int
    public var steps: [Step]
}

/// An int8 model: a float `TransferClassifier` quantized after training (per-channel int8
/// weights, activation scales calibrated on a few hundred images), run by oneDNN's int8
/// kernels. Saved as a Petal model file (safetensors) that `ImageClassifier` loads like any.
public final class QuantizedClassifier: Sendable {
    public let architecture: Architecture
    public let classNames: [String]
    public let inputSize: Int
    public let head: HeadConfig
    public let normalization: InputNormalization
    /// The input layer and one `QuantizedGraph`: `Network.infer` runs it like a float network.
    public let network: Network
    public let record: QuantizationRecord

    /// The metadata key that marks a Petal model file as int8.
    public static let marker = "petal_quantization"

    private init(description: TransferClassifier.Description, graph: QuantizedGraph, record: QuantizationRecord) {
        architecture = description.architecture; classNames = description.classNames
        inputSize = description.inputSize; head = description.head; normalization = description.normalization
        network = Network(input: InputLayer(shape: [3, description.inputSize, description.inputSize]))
        network.add(graph)
        self.record = record
    }

    // MARK: - Quantizing

    /// Quantizes `model`, calibrating activations on `calibration` (normalised batches
    /// [N, 3, H, W] at the model's input size, in a fixed order: the result is deterministic).
    public static func quantize(_ model: TransferClassifier, calibration: [Tensor],
                                method: CalibrationMethod = .minmax) throws -> QuantizedClassifier {
        let images = calibration.reduce(0) { $0 + $1.shape[0] }
        guard images > 0 else { throw QuantizationError.noCalibrationImages(source: "calibration batches") }
        let plan = try QuantizationPlan(model.network)
        let statistics = try ActivationStatistics.collect(plan, calibration)
        let types = statistics.mapValues { $0.type(method) }
        var steps: [QuantizationRecord.Step] = []
        var parameters: [String: StepWeights] = [:]
        for step in plan.steps {
            func stored(_ node: Int) -> QuantizedType { plan.staysQuantized(node) ? types[node]! : .float32 }
            switch step.kind {
            case let .convolution(conv, bn, _, residual):
                let (w, b) = try conv.foldedWeights(batchNorm: bn)
                parameters[step.name] = StepWeights(
                    weights: try Int8Weights(quantizing: w, shape: conv.weight.shape, outputChannels: conv.filters), bias: b)
                steps.append(.init(name: step.name, input: types[step.input]!, output: stored(step.output),
                                   residual: residual.map(stored)))
            case let .dense(dense):
                parameters[step.name] = StepWeights(
                    weights: try Int8Weights(quantizing: try dense.weight.value.toArray(), shape: [dense.units, dense.inputs],
                                             outputChannels: dense.units), bias: try dense.bias.value.toArray())
                steps.append(.init(name: step.name, input: types[step.input]!, output: .float32, residual: nil))
            case .pooling:
                steps.append(.init(name: step.name, input: .float32, output: .float32, residual: nil))
            }
        }
        let record = QuantizationRecord(method: method, calibrationImages: images, steps: steps)
        let description = TransferClassifier.Description(architecture: model.architecture, classNames: model.classNames,
                                                         inputSize: model.inputSize, head: model.head,
                                                         normalization: model.normalization)
        return QuantizedClassifier(description: description,
                                   graph: try makeGraph(plan, record, parameters, classes: model.classNames.count),
                                   record: record)
    }

    struct StepWeights {
        var weights: Int8Weights
        var bias: [Float]
    }

    private static func makeGraph(_ plan: QuantizationPlan, _ record: QuantizationRecord, _ parameters: [String: StepWeights],
                                  classes: Int) throws -> QuantizedGraph {
        // Graph values: 0 is the input, k + 1 the output of step k; the plan speaks of float nodes.
        var valueOf: [Int: Int] = [0: 0]
        var steps: [QuantizedGraph.Step] = []
        for (k, (step, types)) in zip(plan.steps, record.steps).enumerated() {
            let inputs = try step.reads.map { node -> Int in
                guard let v = valueOf[node] else { throw QuantizationError.unsupportedLayer(layer: step.name, type: "input") }
                return v
            }
            let operation: QuantizedGraph.Operation
            switch step.kind {
            case let .convolution(conv, _, activation, _):
                guard let p = parameters[step.name] else { throw QuantizationError.unsupportedLayer(layer: step.name, type: "Conv2D") }
                var spec = conv.spec(for: plan.network.outputShape(of: step.input))
                spec.hasBias = true
                operation = .convolution(try QuantizedConv2D(
                    name: step.name, spec: spec, weights: p.weights, bias: p.bias, activation: activation,
                    input: types.input, output: types.output, residual: types.residual))
            case let .dense(dense):
                guard let p = parameters[step.name], dense.activation == nil || dense.activation == .relu else {
                    throw QuantizationError.unsupportedLayer(layer: step.name, type: "Dense")
                }
                operation = .dense(try QuantizedDense(name: step.name, weights: p.weights, bias: p.bias,
                                                      relu: dense.activation == .relu, input: types.input))
            case let .pooling(pool):
                operation = .float(pool)
            }
            steps.append(QuantizedGraph.Step(operation, inputs: inputs))
            valueOf[step.output] = k + 1
        }
        return try QuantizedGraph(name: "int8", steps: steps, outputWidth: classes)
    }

    // MARK: - Inference

    /// Class probabilities for a batch of normalised images (N, 3, H, W); thread-safe.
    public func predict(_ images: Tensor) throws -> [[Float]] {
        let k = classNames.count
        let probabilities = try SoftmaxCrossEntropy.softmax(try network.infer(images))
        return (0..<images.shape[0]).map { Array(probabilities[($0 * k)..<(($0 + 1) * k)]) }
    }

    private var graph: QuantizedGraph { network.layers[1] as! QuantizedGraph }

    // MARK: - Saving and loading

    /// Writes the model file (see `encoded`) through a temporary file renamed into place.
    public func save(to url: URL) throws { try encoded(path: url.path).writeAtomically(to: url) }

    /// The model file's bytes: the int8 weights (I8), their scales and the float biases, with
    /// the model's description and the quantization record. `path` is for error messages.
    public func encoded(path: String) throws -> Data {
        var tensors: [(String, Tensor)] = []
        for step in graph.steps {
            let (name, weights, bias): (String, Int8Weights, [Float])
            switch step.operation {
            case .convolution(let c): (name, weights, bias) = (c.name, c.weights, c.bias)
            case .dense(let d): (name, weights, bias) = (d.name, d.weights, d.bias)
            case .float: continue
            }
            tensors.append((name + "/kernel", weights.values))
            tensors.append((name + "/kernel_scale", try Tensor(shape: [weights.scales.count], values: weights.scales)))
            tensors.append((name + "/bias", try Tensor(shape: [bias.count], values: bias)))
        }
        let description = TransferClassifier.Description(architecture: architecture, classNames: classNames,
                                                         inputSize: inputSize, head: head, normalization: normalization)
        return try SafetensorsFile.encode(tensors, metadata: ["petal_format": "1", "petal_model": try PetalJSON.line(description),
                                                              Self.marker: try PetalJSON.line(record)], path: path)
    }

    /// Whether a read model file is an int8 one.
    public static func isQuantized(_ file: SafetensorsFile) -> Bool { file.metadata[marker] != nil }

    /// Reads an int8 model written by `save(to:)`; the steps are derived again from the
    /// architecture (a float network built without weights), the numbers come from the file.
    public static func load(_ file: SafetensorsFile, path: String) throws -> QuantizedClassifier {
        func bad(_ reason: String) -> QuantizationError { .malformedModel(path: path, reason: reason) }
        guard let json = file.metadata[marker], let recordJSON = Optional(Data(json.utf8)),
              let record = try? PetalJSON.decode(QuantizationRecord.self, from: recordJSON) else {
            throw bad("no readable \(marker) record")
        }
        guard let modelJSON = file.metadata["petal_model"],
              let description = try? PetalJSON.decode(TransferClassifier.Description.self, from: Data(modelJSON.utf8)) else {
            throw bad("no petal_model description")
        }
        guard record.format == 1 else { throw bad("int8 format \(record.format) is newer than this Petal's (1)") }
        let structure = try TransferClassifier(architecture: description.architecture, classNames: description.classNames,
                                               inputSize: description.inputSize, head: description.head, base: .none)
        let plan = try QuantizationPlan(structure.network)
        guard plan.steps.map(\.name) == record.steps.map(\.name) else {
            throw bad("its steps do not match the \(description.architecture) architecture")
        }
        let store = WeightStore(tensors: file.tensors, names: file.names, source: path)
        var parameters: [String: StepWeights] = [:]
        for step in plan.steps {
            let shape: [Int], outputs: Int
            switch step.kind {
            case let .convolution(conv, _, _, _): (shape, outputs) = (conv.weight.shape, conv.filters)
            case let .dense(dense): (shape, outputs) = ([dense.units, dense.inputs], dense.units)
            case .pooling: continue
            }
            let values = try store.take(step.name + "/kernel", shape: shape).toArray()
            guard values.allSatisfy({ $0 == $0.rounded() && abs($0) <= 127 }) else { throw bad("\(step.name)/kernel is not int8") }
            let int8 = try Tensor(layout: .rowMajor(shape, .int8))
            for (i, v) in values.enumerated() { int8.bytes[i] = UInt8(bitPattern: Int8(v)) }
            let scales = try store.take(step.name + "/kernel_scale", shape: [outputs]).toArray()
            let bias = try store.take(step.name + "/bias", shape: [outputs]).toArray()
            guard (scales + bias).allSatisfy(\.isFinite), scales.allSatisfy({ $0 > 0 }) else {
                throw bad("\(step.name) has non-finite or non-positive scales or bias")
            }
            parameters[step.name] = StepWeights(weights: Int8Weights(values: int8, scales: scales), bias: bias)
        }
        try store.finish()
        let scales: [Float] = record.steps.flatMap { [$0.input.scale, $0.output.scale, $0.residual?.scale ?? 1] }
        guard scales.allSatisfy({ $0.isFinite && $0 > 0 }) else { throw bad("non-finite or non-positive activation scales") }
        return QuantizedClassifier(description: description,
                                   graph: try makeGraph(plan, record, parameters, classes: description.classNames.count),
                                   record: record)
    }

    public static func load(from url: URL) throws -> QuantizedClassifier {
        try load(SafetensorsFile.read(url), path: url.path)
    }

    /// The int8 model in a Petal model file, or nil when the file is a float model.
    public static func loadIfQuantized(from url: URL) throws -> QuantizedClassifier? {
        let file = try SafetensorsFile.read(url)
        return isQuantized(file) ? try load(file, path: url.path) : nil
    }
}
