import PetalCore
import PetalLayers

/// Walks a network's layers in order and emits each as ONNX operations, following how
/// `Network.infer` runs them: a convolution followed by its only reader, a batch norm, is one
/// `Conv` with the batch norm folded in (`Conv2D.foldBatchNorm`, the weights inference uses);
/// a ZeroPadding2D is absorbed into the convolution after it (`Conv2D.spec`, whose padding
/// includes it); dropout is the identity.
struct NetworkWalk {
    let network: Network
    /// Each layer's readers (indices of later layers).
    let consumers: [[Int]]
    /// Each layer's output tensor in the graph.
    private(set) var tensors: [String?]
    /// The shape (N = 1) of the tensor each layer hands on: a ZeroPadding2D hands on its
    /// input unchanged (its convolution pads), unlike the padded shape the network reports.
    private(set) var shapes: [[Int]]

    init(network: Network) {
        self.network = network
        var consumers = [[Int]](repeating: [], count: network.nodes.count)
        for (i, node) in network.nodes.enumerated() { for s in node.inputs { consumers[s].append(i) } }
        self.consumers = consumers
        tensors = Array(repeating: nil, count: network.nodes.count)
        shapes = network.outputShapes(batch: 1)
    }

    /// Emits every layer after the input, reading `input`; returns the last layer's output.
    mutating func emit(into builder: inout ONNXGraphBuilder, input: String) throws -> String {
        tensors[0] = input
        var i = 1
        while i < network.nodes.count { i = try emit(layer: i, into: &builder) }
        return tensors[network.nodes.count - 1]!
    }

    /// The foldable batch norm after convolution `i`: its only reader, the next layer.
    private func foldableBatchNorm(after i: Int) -> BatchNormalization? {
        guard consumers[i] == [i + 1], let bn = network.nodes[i + 1].layer as? BatchNormalization else { return nil }
        return bn
    }

    /// Emits layer `i` (and a batch norm it absorbs); returns the next layer to emit.
    private mutating func emit(layer i: Int, into builder: inout ONNXGraphBuilder) throws -> Int {
        let node = network.nodes[i]
        let layer = node.layer
        func source(_ k: Int = 0) throws -> String {
            guard node.inputs.indices.contains(k), let name = tensors[node.inputs[k]] else {
                throw ExportError.unsupportedWiring(layer: layer.name, reason: "reads \(node.inputs.count) inputs")
            }
            return name
        }
        func single() throws -> String {
            guard node.inputs.count == 1 else {
                throw ExportError.unsupportedWiring(layer: layer.name, reason: "reads \(node.inputs.count) inputs, not 1")
            }
            return try source()
        }
        switch layer {
        case let conv as Conv2D:
            let input = try single()
            let spec = conv.spec(for: shapes[node.inputs[0]])
            let weightShape = [conv.filters, conv.inputChannels / conv.groups] + conv.kernelSize
            if let bn = foldableBatchNorm(after: i) {
                let (w, b) = try conv.foldBatchNorm(bn)
                tensors[i + 1] = builder.emitConv(conv.name, input: input, weights: try w.toArray(), weightShape: weightShape,
                                                  bias: try b.toArray(), strides: conv.strides, pads: spec.padding,
                                                  groups: conv.groups)
                return i + 2
            }
            tensors[i] = builder.emitConv(conv.name, input: input, weights: try conv.weight.value.rowMajor().toArray(),
                                          weightShape: weightShape, bias: try conv.bias?.value.toArray(),
                                          strides: conv.strides, pads: spec.padding, groups: conv.groups)
        case let bn as BatchNormalization:
            tensors[i] = builder.emitBatchNormalization(bn.name, input: try single(), gamma: try bn.gamma.value.toArray(),
                                                        beta: try bn.beta.value.toArray(),
                                                        mean: try bn.movingMean.value.toArray(),
                                                        variance: try bn.movingVariance.value.toArray(), epsilon: bn.epsilon)
        case let activation as Activation:
            tensors[i] = builder.emitReLU(activation.name, input: try single(), max: try Self.clipMax(activation.function, layer: activation.name))
        case let add as Add:
            tensors[i] = builder.emitAdd(add.name, try source(0), try source(1))
        case is ZeroPadding2D:
            // The convolution reading it pads (its spec includes the absorbed padding).
            tensors[i] = try single()
            shapes[i] = shapes[node.inputs[0]]
        case is Dropout:
            tensors[i] = try single()
        case let pool as GlobalAveragePooling2D:
            tensors[i] = builder.emitGlobalAveragePool(pool.name, input: try single())
        case let dense as Dense:
            let y = builder.emitGemm(dense.name, input: try single(), weights: try dense.weight.value.rowMajor().toArray(),
                                     outputs: dense.units, inputs: dense.inputs, bias: try dense.bias.value.toArray())
            if let function = dense.activation {
                tensors[i] = builder.emitReLU(dense.name + ".relu", input: y, max: try Self.clipMax(function, layer: dense.name))
            } else {
                tensors[i] = y
            }
        default:
            throw ExportError.unsupportedLayer(name: layer.name, type: layer.typeName)
        }
        return i + 1
    }

    /// ReLU's upper bound: none, or 6 for ReLU6 (other activations are not exported yet).
    static func clipMax(_ function: FusedActivation, layer: String) throws -> Float? {
        switch function {
        case .relu: return nil
        case .relu6: return 6
        default: throw ExportError.unsupportedLayer(name: layer, type: function.rawValue)
        }
    }
}
