import Foundation
import PetalCore
import PetalLayers

/// What can go wrong quantizing a model or loading an int8 model.
public enum QuantizationError: Error, Equatable, CustomStringConvertible, LocalizedError {
    case alreadyQuantized(path: String)
    case unsupportedLayer(layer: String, type: String)
    case noCalibrationImages(source: String)
    case invalidOption(option: String, value: String, reason: String)
    case malformedModel(path: String, reason: String)

    public var description: String {
        switch self {
        case let .alreadyQuantized(path): return "\(path) is already an int8 model; quantize the float model it came from"
        case let .unsupportedLayer(layer, type):
            return "layer \(layer) (\(type)) cannot be quantized: only convolutions with batch norm, ReLU/ReLU6 and a residual Add, pooling and Dense layers can"
        case let .noCalibrationImages(source): return "\(source): no images to calibrate on (.jpg, .jpeg or .png)"
        case let .invalidOption(option, value, reason): return "\(option) \(value): \(reason)"
        case let .malformedModel(path, reason): return "\(path): not a readable int8 Petal model: \(reason)"
        }
    }

    public var errorDescription: String? { description }
}

/// The int8 model's steps read off the float network: each convolution with the batch norm,
/// activation and residual Add after it, pooling, and Dense layers. Zero padding and dropout
/// vanish (folded into the convolution's padding; identity at inference). Quantizing and
/// loading derive the same plan from the same architecture, so the file stores only numbers.
struct QuantizationPlan {
    enum Kind {
        case convolution(Conv2D, batchNorm: BatchNormalization?, activation: FusedActivation?, residual: Int?)
        case dense(Dense)
        case pooling(GlobalAveragePooling2D)
    }

    struct Step {
        var kind: Kind
        /// Float node whose output the step reads (0: the network's input).
        var input: Int
        /// Float node whose output the step produces.
        var output: Int

        var name: String {
            switch kind {
            case .convolution(let conv, _, _, _): return conv.name
            case .dense(let dense): return dense.name
            case .pooling(let pool): return pool.name
            }
        }

        var reads: [Int] {
            if case .convolution(_, _, _, let residual?) = kind { return [input, residual] }
            return [input]
        }
    }

    let network: Network
    let steps: [Step]

    init(_ network: Network) throws {
        self.network = network
        let nodes = network.nodes
        var consumers = [[Int]](repeating: [], count: nodes.count)
        for (i, node) in nodes.enumerated() { for s in node.inputs { consumers[s].append(i) } }
        // Layers that pass their input through at inference stand for that input.
        var alias = Array(nodes.indices)
        var steps: [Step] = []
        var i = 1
        func only(_ index: Int) -> Int? { consumers[index].count == 1 ? consumers[index][0] : nil }
        while i < nodes.count {
            let layer = nodes[i].layer
            let source = nodes[i].inputs.first.map { alias[$0] } ?? 0
            switch layer {
            case is ZeroPadding2D, is Dropout:
                alias[i] = source
                i += 1
            case let conv as Conv2D:
                var end = i
                var bn: BatchNormalization?
                var activation: FusedActivation?
                if let next = only(end), next == end + 1, let b = nodes[next].layer as? BatchNormalization {
                    bn = b; end = next
                }
                if let next = only(end), next == end + 1, let a = nodes[next].layer as? Activation {
                    activation = a.function; end = next
                }
                var residual: Int?
                if activation == nil, let next = only(end), next == end + 1, nodes[next].layer is Add {
                    let other = nodes[next].inputs.first { $0 != end }.map { alias[$0] }
                    guard let other, other < i else {
                        throw QuantizationError.unsupportedLayer(layer: nodes[next].layer.name, type: "Add")
                    }
                    residual = other; end = next
                }
                steps.append(Step(kind: .convolution(conv, batchNorm: bn, activation: activation, residual: residual),
                                  input: source, output: end))
                i = end + 1
            case let dense as Dense:
                steps.append(Step(kind: .dense(dense), input: source, output: i))
                i += 1
            case let pool as GlobalAveragePooling2D:
                steps.append(Step(kind: .pooling(pool), input: source, output: i))
                i += 1
            default:
                throw QuantizationError.unsupportedLayer(layer: layer.name, type: layer.typeName)
            }
        }
        self.steps = steps
    }

    /// The float nodes whose outputs steps read (their inputs and residuals) and produce.
    var values: Set<Int> { Set(steps.flatMap { $0.reads + [$0.output] }) }

    /// Whether a value stays int8 between steps: every step that reads it is an int8
    /// convolution (pooling and Dense read f32; the last output is f32).
    func staysQuantized(_ node: Int) -> Bool {
        guard node != 0, node != steps.last?.output else { return false }
        let readers = steps.filter { $0.reads.contains(node) }
        return !readers.isEmpty && readers.allSatisfy { if case .convolution = $0.kind { return true } else { return false } }
    }
}
