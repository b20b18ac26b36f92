import Foundation
import PetalCore
import PetalLayers
import PetalModels
import SwiftProtobuf

/// An int8 model (`petal quantize`) as QDQ ONNX: the float graph of `ONNXExporter` with each
/// quantization made explicit, as ONNX Runtime's quantization tools write it. Every int8
/// tensor Petal computes on is a `QuantizeLinear` + `DequantizeLinear` pair with Petal's scale
/// (zero point 0, u8 or s8 as Petal stores it); weights are s8 initializers with per-channel
/// scales (`DequantizeLinear` on axis 0); biases stay float, as Petal adds them.
public struct QDQExporter {
    public let model: QuantizedClassifier
    public let options: ONNXExportOptions

    public init(model: QuantizedClassifier, options: ONNXExportOptions = ONNXExportOptions()) {
        self.model = model
        self.options = options
    }

    /// The serialized ONNX model.
    public func export() throws -> Data { try onnxModel().serializedData() }

    public func onnxModel() throws -> Onnx_ModelProto {
        guard let graph = model.network.layers.last as? QuantizedGraph else {
            throw ExportError.unsupportedWiring(layer: "int8", reason: "no quantized graph")
        }
        let facts = ONNXModelFacts(classNames: model.classNames, inputSize: model.inputSize,
                                   normalization: model.normalization, backbone: model.architecture.description + " int8")
        return try ONNXExporter(network: model.network, facts: facts, options: options).model { builder, input in
            var walk = QDQWalk(graph: graph)
            return try walk.emit(into: &builder, input: input)
        }
    }
}

/// Emits a `QuantizedGraph`'s steps in order; each value's float tensor name and, when it
/// already went through a Quantize/Dequantize pair, its type (so a reader with that very type
/// does not add another).
struct QDQWalk {
    let graph: QuantizedGraph
    private var names: [String] = []
    private var types: [QuantizedType?] = []

    init(graph: QuantizedGraph) { self.graph = graph }

    mutating func emit(into b: inout ONNXGraphBuilder, input: String) throws -> String {
        names = [input]
        types = [nil]
        for step in graph.steps {
            let (name, type) = try emit(step, into: &b)
            names.append(name)
            types.append(type)
        }
        return names.last!
    }

    private mutating func emit(_ step: QuantizedGraph.Step, into b: inout ONNXGraphBuilder) throws -> (String, QuantizedType?) {
        switch step.operation {
        case .convolution(let conv):
            let x = quantized(step.inputs[0], conv.input, conv.name + ".input", into: &b)
            let spec = conv.spec
            let shape = [spec.outputChannels, spec.input[1] / spec.groups] + spec.kernelSize
            let w = Self.weights(conv.weights, shape: shape, name: conv.name, into: &b)
            let bias = b.addInitializer(conv.name + ".bias", shape: [conv.bias.count], floats: conv.bias)
            var y = b.emitConv(conv.name, input: x, weights: w, bias: bias, kernel: spec.kernelSize, strides: spec.stride,
                               pads: spec.padding, groups: spec.groups)
            if step.inputs.count > 1 { y = b.emitAdd(conv.name + ".add", y, names[step.inputs[1]]) }
            switch conv.activation {
            case .relu6: y = b.emitReLU(conv.name + ".relu6", input: y, max: 6)
            case .relu: y = b.emitReLU(conv.name + ".relu", input: y, max: nil)
            case nil: break
            case let other?:
                throw ExportError.unsupportedWiring(layer: conv.name, reason: "activation \(other.rawValue) in an int8 model")
            }
            guard conv.output.isQuantized else { return (y, nil) }
            return (Self.quantizeDequantize(y, conv.output, conv.name + ".output", into: &b), conv.output)
        case .dense(let dense):
            let x = quantized(step.inputs[0], dense.input, dense.name + ".input", into: &b)
            let w = Self.weights(dense.weights, shape: [dense.units, dense.inputs], name: dense.name, into: &b)
            let bias = b.addInitializer(dense.name + ".bias", shape: [dense.bias.count], floats: dense.bias)
            let y = b.emitGemm(dense.name, input: x, weights: w, bias: bias)
            return (dense.relu ? b.emitReLU(dense.name + ".relu", input: y, max: nil) : y, nil)
        case .float(let layer):
            guard layer is GlobalAveragePooling2D else {
                throw ExportError.unsupportedWiring(layer: layer.name, reason: "\(layer.typeName) in an int8 model")
            }
            return (b.emitGlobalAveragePool(layer.name, input: names[step.inputs[0]]), nil)
        }
    }

    /// Value `index` as a step reads it: quantized to `type` (unless it already is).
    private func quantized(_ index: Int, _ type: QuantizedType, _ name: String, into b: inout ONNXGraphBuilder) -> String {
        types[index] == type ? names[index] : Self.quantizeDequantize(names[index], type, name, into: &b)
    }

    static func quantizeDequantize(_ input: String, _ type: QuantizedType, _ name: String,
                                   into b: inout ONNXGraphBuilder) -> String {
        let scale = b.addInitializer(name + ".scale", shape: [], floats: [type.scale])
        let zero = b.addInitializer(name + ".zero_point", shape: [], elementType: type.dataType == .uint8 ? .uint8 : .int8,
                                    rawData: Data([0]))
        let q = b.addNode("QuantizeLinear", name: name + ".quantize", inputs: [input, scale, zero])
        return b.addNode("DequantizeLinear", name: name + ".dequantize", inputs: [q, scale, zero])
    }

    /// s8 weights with one scale per output channel (axis 0), dequantized in the graph.
    static func weights(_ weights: Int8Weights, shape: [Int], name: String, into b: inout ONNXGraphBuilder) -> String {
        let values = weights.values
        let raw = withExtendedLifetime(values) { Data(values.bytes.prefix(values.count)) }
        let q = b.addInitializer(name + ".weight_int8", shape: shape, elementType: .int8, rawData: raw)
        let scale = b.addInitializer(name + ".weight_scale", shape: [weights.scales.count], floats: weights.scales)
        let zero = b.addInitializer(name + ".weight_zero_point", shape: [weights.scales.count], elementType: .int8,
                                    rawData: Data(count: weights.scales.count))
        return b.addNode("DequantizeLinear", name: name + ".weight", inputs: [q, scale, zero],
                         attributes: [ONNXGraphBuilder.attribute("axis", int: 0)])
    }
}
