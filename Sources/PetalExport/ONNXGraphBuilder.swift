import Foundation

/// Builds an ONNX graph node by node: initializers (weights), nodes, unique tensor names.
///
/// The `emit…` functions each add one operation from plain weights (row-major floats and
/// shapes), not from Petal's layers, so another exporter (QDQ int8) reuses them with its own
/// weights and adds its own operations beside them (QuantizeLinear, DequantizeLinear).
/// Each returns the name of the tensor it produced, the input of the next.
public struct ONNXGraphBuilder {
    public private(set) var graph = Onnx_GraphProto()
    private var usedNames: Set<String> = []

    public init(name: String) { graph.name = name }

    /// A tensor name not used yet in the graph, from a layer's name (ONNX names are free text,
    /// but unique within the graph).
    public mutating func uniqueName(_ base: String) -> String {
        var name = base, k = 1
        while usedNames.contains(name) {
            k += 1
            name = "\(base)_\(k)"
        }
        usedNames.insert(name)
        return name
    }

    // MARK: - Graph inputs, outputs and constants

    /// A graph input or output; `nil` in `shape` is a dynamic dimension named `batch`.
    public static func valueInfo(_ name: String, elementType: Onnx_TensorProto.DataType, shape: [Int?]) -> Onnx_ValueInfoProto {
        var info = Onnx_ValueInfoProto()
        info.name = name
        var tensor = Onnx_TypeProto.Tensor()
        tensor.elemType = Int32(elementType.rawValue)
        tensor.shape.dim = shape.map { size in
            var dim = Onnx_TensorShapeProto.Dimension()
            if let size { dim.dimValue = Int64(size) } else { dim.dimParam = "batch" }
            return dim
        }
        info.type.tensorType = tensor
        return info
    }

    public mutating func addInput(_ name: String, elementType: Onnx_TensorProto.DataType, shape: [Int?]) -> String {
        let unique = uniqueName(name)
        graph.input.append(Self.valueInfo(unique, elementType: elementType, shape: shape))
        return unique
    }

    public mutating func addOutput(_ name: String, elementType: Onnx_TensorProto.DataType, shape: [Int?]) {
        graph.output.append(Self.valueInfo(name, elementType: elementType, shape: shape))
    }

    /// A float32 initializer (weights, constants), little-endian raw data.
    @discardableResult
    public mutating func addInitializer(_ name: String, shape: [Int], floats: [Float]) -> String {
        precondition(shape.reduce(1, *) == floats.count, "\(name): \(floats.count) values for shape \(shape)")  // exporter's own shapes
        // x86-64 and arm64: little-endian, as ONNX wants
        return addInitializer(name, shape: shape, elementType: .float, rawData: floats.withUnsafeBufferPointer { Data(buffer: $0) })
    }

    /// An initializer of any element type from its raw little-endian bytes (int8 weights, zero points).
    @discardableResult
    public mutating func addInitializer(_ name: String, shape: [Int], elementType: Onnx_TensorProto.DataType,
                                        rawData: Data) -> String {
        var tensor = Onnx_TensorProto()
        tensor.name = uniqueName(name)
        tensor.dataType = Int32(elementType.rawValue)
        tensor.dims = shape.map(Int64.init)
        tensor.rawData = rawData
        graph.initializer.append(tensor)
        return tensor.name
    }

    /// Adds a node; returns the name of its (single) output.
    @discardableResult
    public mutating func addNode(_ op: String, name: String, inputs: [String], attributes: [Onnx_AttributeProto] = [],
                                 output: String? = nil) -> String {
        var node = Onnx_NodeProto()
        node.opType = op
        node.name = uniqueName(name)
        node.input = inputs
        let out = output.map { name in usedNames.insert(name).inserted ? name : uniqueName(name) } ?? uniqueName(name + "_out")
        node.output = [out]
        node.attribute = attributes
        graph.node.append(node)
        return out
    }

    // MARK: - Attributes

    public static func attribute(_ name: String, ints: [Int]) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .ints
        a.ints = ints.map(Int64.init)
        return a
    }

    public static func attribute(_ name: String, float: Float) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .float
        a.f = float
        return a
    }

    public static func attribute(_ name: String, int: Int) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .int
        a.i = Int64(int)
        return a
    }

    // MARK: - Operations

    /// A 2-D convolution. `weights`: (O, I/groups, kh, kw) row-major; `pads`: top, bottom,
    /// left, right (Petal's order; written in ONNX's begin-then-end order).
    public mutating func emitConv(_ name: String, input: String, weights: [Float], weightShape: [Int], bias: [Float]?,
                                  strides: [Int], pads: [Int], groups: Int) -> String {
        let w = addInitializer(name + ".weight", shape: weightShape, floats: weights)
        let b = bias.map { addInitializer(name + ".bias", shape: [$0.count], floats: $0) }
        return emitConv(name, input: input, weights: w, bias: b, kernel: Array(weightShape[2...]), strides: strides,
                        pads: pads, groups: groups)
    }

    /// A convolution whose weights (and bias) are already tensors of the graph (e.g. a
    /// DequantizeLinear's output).
    public mutating func emitConv(_ name: String, input: String, weights: String, bias: String?, kernel: [Int],
                                  strides: [Int], pads: [Int], groups: Int) -> String {
        addNode("Conv", name: name, inputs: [input, weights] + (bias.map { [$0] } ?? []), attributes: [
            Self.attribute("kernel_shape", ints: kernel),
            Self.attribute("strides", ints: strides),
            Self.attribute("pads", ints: [pads[0], pads[2], pads[1], pads[3]]),
            Self.attribute("dilations", ints: [1, 1]),
            Self.attribute("group", int: groups),
        ])
    }

    /// Batch normalization in inference mode (for a batch norm that no convolution absorbs).
    public mutating func emitBatchNormalization(_ name: String, input: String, gamma: [Float], beta: [Float],
                                                mean: [Float], variance: [Float], epsilon: Float) -> String {
        let c = gamma.count
        let inputs = [input,
                      addInitializer(name + ".gamma", shape: [c], floats: gamma),
                      addInitializer(name + ".beta", shape: [c], floats: beta),
                      addInitializer(name + ".mean", shape: [c], floats: mean),
                      addInitializer(name + ".variance", shape: [c], floats: variance)]
        return addNode("BatchNormalization", name: name, inputs: inputs, attributes: [Self.attribute("epsilon", float: epsilon)])
    }

    /// ReLU, or ReLU6 as `Clip` with min 0 and max 6 given as inputs (opset 11 on).
    public mutating func emitReLU(_ name: String, input: String, max: Float?) -> String {
        guard let max else { return addNode("Relu", name: name, inputs: [input]) }
        let low = addInitializer(name + ".min", shape: [], floats: [0])
        let high = addInitializer(name + ".max", shape: [], floats: [max])
        return addNode("Clip", name: name, inputs: [input, low, high])
    }

    /// torchvision's Hardsigmoid, relu6(x + 3) / 6: ONNX's HardSigmoid with alpha 1/6, beta 1/2.
    public mutating func emitHardSigmoid(_ name: String, input: String) -> String {
        addNode("HardSigmoid", name: name, inputs: [input],
                attributes: [Self.attribute("alpha", float: 1 / 6), Self.attribute("beta", float: 0.5)])
    }

    /// Hardswish, x * hardsigmoid(x), as two nodes (ONNX's HardSwish needs opset 14).
    public mutating func emitHardSwish(_ name: String, input: String) -> String {
        addNode("Mul", name: name, inputs: [input, emitHardSigmoid(name + ".hardsigmoid", input: input)])
    }

    /// Symmetric-padding max pooling, floor mode (PyTorch's MaxPool2d).
    public mutating func emitMaxPool(_ name: String, input: String, kernel: Int, stride: Int, padding: Int) -> String {
        addNode("MaxPool", name: name, inputs: [input], attributes: [
            Self.attribute("kernel_shape", ints: [kernel, kernel]), Self.attribute("strides", ints: [stride, stride]),
            Self.attribute("pads", ints: [padding, padding, padding, padding]),
        ])
    }

    /// (N, C, H, W) times a per-image, per-channel (N, C, 1, 1) factor (squeeze-and-excitation).
    public mutating func emitScaleChannels(_ name: String, input: String, scale: String) -> String {
        addNode("Mul", name: name, inputs: [input, scale])
    }

    public mutating func emitAdd(_ name: String, _ a: String, _ b: String) -> String {
        addNode("Add", name: name, inputs: [a, b])
    }

    /// (N, C, H, W) to (N, C): `GlobalAveragePool` then `Flatten`; or to (N, C, 1, 1) alone.
    public mutating func emitGlobalAveragePool(_ name: String, input: String, keepsDimensions: Bool = false) -> String {
        let pooled = addNode("GlobalAveragePool", name: name, inputs: [input])
        if keepsDimensions { return pooled }
        return addNode("Flatten", name: name + ".flatten", inputs: [pooled], attributes: [Self.attribute("axis", int: 1)])
    }

    /// A fully connected layer: `weights` (outputs, inputs) row-major, as Petal's Dense holds them.
    public mutating func emitGemm(_ name: String, input: String, weights: [Float], outputs: Int, inputs: Int,
                                  bias: [Float]) -> String {
        let w = addInitializer(name + ".weight", shape: [outputs, inputs], floats: weights)
        let b = addInitializer(name + ".bias", shape: [outputs], floats: bias)
        return emitGemm(name, input: input, weights: w, bias: b)
    }

    /// `Gemm` with weights (outputs, inputs) and bias already in the graph.
    public mutating func emitGemm(_ name: String, input: String, weights: String, bias: String) -> String {
        addNode("Gemm", name: name, inputs: [input, weights, bias], attributes: [Self.attribute("transB", int: 1)])
    }

    public mutating func emitSoftmax(_ name: String, input: String, output: String) -> String {
        addNode("Softmax", name: name, inputs: [input], attributes: [Self.attribute("axis", int: 1)], output: output)
    }

    /// [N, H, W, 3] 0-255 pixels (uint8) to the backbone's normalised [N, 3, H, W] float input:
    /// `Cast`, `Mul` by the per-channel scales, `Add` the offsets (Petal's `pixel * scale + offset`),
    /// `Transpose`.
    public mutating func emitPreprocessing(input: String, scales: [Float], offsets: [Float]) -> String {
        var to = Onnx_AttributeProto()
        to.name = "to"
        to.type = .int
        to.i = Int64(Onnx_TensorProto.DataType.float.rawValue)
        let floats = addNode("Cast", name: "preprocess.cast", inputs: [input], attributes: [to])
        let scaled = addNode("Mul", name: "preprocess.scale", inputs: [
            floats, addInitializer("preprocess.scale_value", shape: [scales.count], floats: scales)])
        let shifted = addNode("Add", name: "preprocess.offset", inputs: [
            scaled, addInitializer("preprocess.offset_value", shape: [offsets.count], floats: offsets)])
        return addNode("Transpose", name: "preprocess.nhwc_to_nchw", inputs: [shifted],
                       attributes: [Self.attribute("perm", ints: [0, 3, 1, 2])])
    }
}
