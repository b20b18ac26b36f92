import PetalCore

/// Where a network can be cut: the frozen part below the layers being trained, which a
/// training forward computes as inference does (and which need not be computed again while
/// nothing changes it: `CachedFeatures` in PetalTraining).
extension Network {
    /// Whether the layer computes the same in a training forward as in inference when no
    /// backward pass reaches it. Dropout (random in training) and batch norms on batch
    /// statistics do not; a new layer kind that is random or uses batch statistics in training
    /// must be listed here.
    static func trainsAsInference(_ layer: Layer) -> Bool {
        switch layer {
        case let batchNorm as BatchNormalization: return batchNorm.usesMovingStatistics(training: true)
        case is Dropout: return false
        case is QuantizedGraph: return false  // refuses a training forward: int8 models are not trained
        default: return true
        }
    }

    /// Whether layer `j`'s output is the only tensor that layers after it read from layers up
    /// to it, so the network can be split there into a prefix and a remainder reading `j`'s
    /// output alone. A zero padding absorbed by its convolution is no place to cut (its
    /// output is its unpadded input).
    public func isCut(at j: Int) -> Bool {
        guard j > 0, j < nodes.count, !(nodes[j].layer is ZeroPadding2D) else { return false }
        return nodes[(j + 1)...].allSatisfy { $0.inputs.allSatisfy { $0 >= j } }
    }

    /// The last cut below the first layer with trainable parameters whose whole prefix
    /// computes as in inference: its output can be computed by `infer` (or cached); 0 when
    /// there is none.
    public func frozenPrefixEnd() -> Int {
        let firstTrainable = nodes.firstIndex { $0.layer.trainable && !$0.layer.trainableParameters.isEmpty } ?? nodes.count
        return inferencePrefixEnd(inBackward: nodes.indices.map { $0 >= firstTrainable }, through: nodes.count - 1)
    }

    /// The last cut `j <= end` such that layers 1...j take no part in the backward pass and
    /// compute as in inference; 0 when there is none.
    func inferencePrefixEnd(inBackward: [Bool], through end: Int) -> Int {
        var last = 0
        for i in 1..<min(end + 1, nodes.count) {
            guard !inBackward[i], Self.trainsAsInference(nodes[i].layer) else { break }
            last = i
        }
        while last > 0 && !isCut(at: last) { last -= 1 }
        return last
    }

    /// A network of the layers after cut `j` (the same layer objects, so training it trains
    /// this network), reading `j`'s output as its input. Its layer k + 1 is this network's j + 1 + k.
    public func remainder(after j: Int) -> Network {
        precondition(isCut(at: j), "Network.remainder: layer \(j) is not a cut")  // callers check isCut
        let shape = Array(outputShape(of: j).dropFirst())
        let rest = Network(input: InputLayer(name: "\(nodes[j].layer.name)_features", shape: shape))
        for node in nodes[(j + 1)...] {
            rest.add(node.layer, inputs: node.inputs.map { $0 - j })
        }
        return rest
    }
}
