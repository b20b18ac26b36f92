import PetalCore

/// A network as Keras's functional models hold it: an ordered list of layers, each with
/// the indices of the layers it reads. Layer 0 is the input, so indices match Keras's
/// numbering ("freeze the first 100 layers").
///
/// Forward runs the layers in order, fusing what oneDNN can fuse; backward runs them in
/// reverse and stops at the earliest trainable layer: nothing is back-propagated through a
/// frozen prefix. `forward` and `backward` keep state (a network being trained is used by
/// one thread); `infer` keeps none, so one network can serve several threads at once.
public final class Network: @unchecked Sendable {  // unchecked: training state is used by one thread; `infer` only reads
    public struct Node: Sendable {
        public let layer: Layer
        public let inputs: [Int]
    }

    public private(set) var nodes: [Node] = []
    /// Each layer's output shape for a batch of one, kept as layers are added.
    private var shapes: [[Int]]
    private var consumers: [[Int]] = []
    private var outputs: [Tensor?] = []
    private var gradients: [Tensor?] = []
    private var gradientSums: [OutputSlot] = []
    /// Buffers of `infer`'s intermediate outputs, reused by later layers and calls.
    private let activations = TensorPool()
    /// The last `forward`'s pooled result (its inference part), given back at the next call.
    private var pooledForwardOutput: Tensor?

    public init(input: InputLayer) {
        nodes = [Node(layer: input, inputs: [])]
        shapes = [[1] + input.shape]
        consumers = [[]]
    }

    public var input: InputLayer { nodes[0].layer as! InputLayer }
    public var layers: [Layer] { nodes.map(\.layer) }
    /// The index of the last layer added, the usual input of the next.
    public var last: Int { nodes.count - 1 }

    /// Appends a layer reading the given earlier layers (default: the last one) and
    /// returns its index.
    @discardableResult
    public func add(_ layer: Layer, inputs: [Int]? = nil) -> Int {
        let sources = inputs ?? [last]
        // Networks are wired by the architectures' code, not by files or options: no input reaches these.
        precondition(sources.allSatisfy { $0 >= 0 && $0 < nodes.count }, "Network: \(layer.name) reads a later layer")
        precondition(self.layer(named: layer.name) == nil, "Network: two layers named \(layer.name)")
        for s in sources {
            if let padding = nodes[s].layer as? ZeroPadding2D {
                guard let conv = layer as? Conv2D, consumers[s].isEmpty else {
                    preconditionFailure("Network: ZeroPadding2D \(padding.name) must feed one Conv2D")
                }
                conv.absorbedPadding = padding.padding
            }
            consumers[s].append(nodes.count)
        }
        nodes.append(Node(layer: layer, inputs: sources))
        shapes.append(layer.outputShape(sources.map { shapes[$0] }))
        consumers.append([])
        return nodes.count - 1
    }

    public func layer(named name: String) -> Layer? { nodes.first { $0.layer.name == name }?.layer }
    public func index(of name: String) -> Int? { nodes.firstIndex { $0.layer.name == name } }

    /// Output shapes of every layer for a batch of `batch`.
    public func outputShapes(batch: Int = 1) -> [[Int]] {
        shapes.map { [batch] + $0.dropFirst() }
    }

    /// The output shape (N = 1) of layer `index`.
    public func outputShape(of index: Int) -> [Int] { shapes[index] }

    /// Parameters updated by the optimizer: those of trainable layers.
    public var trainableParameters: [Parameter] {
        layers.filter(\.trainable).flatMap(\.trainableParameters)
    }

    /// Every saved tensor of every layer, in order.
    public var weights: [Parameter] { layers.flatMap(\.weights) }

    /// Sets `trainable` on the layers in `range` (Keras indices, the input included).
    public func setTrainable(_ trainable: Bool, layers range: Range<Int>) {
        for i in range.clamped(to: 0..<nodes.count) { nodes[i].layer.trainable = trainable }
    }

    // MARK: - Which layers take part in the backward pass

    /// For each layer: whether it has trainable parameters.
    private var hasTrainableParameters: [Bool] {
        nodes.map { $0.layer.trainable && !$0.layer.trainableParameters.isEmpty }
    }

    /// For each layer: whether the gradient of its inputs is needed, i.e. whether any layer
    /// before it (among its ancestors) has trainable parameters.
    public func needsInputGradient() -> [Bool] {
        let trainable = hasTrainableParameters
        var needs = [Bool](repeating: false, count: nodes.count)
        for (i, node) in nodes.enumerated() {
            needs[i] = node.inputs.contains { trainable[$0] || needs[$0] }
        }
        return needs
    }

    // MARK: - Forward

    /// Runs the network on a batch (N, C, H, W) and returns the last layer's output.
    /// The returned tensor is reused by the next call.
    /// `keepEverything` keeps every layer ready for a backward pass to the input; `through`
    /// stops after that layer and returns its output (e.g. a backbone's feature map).
    public func forward(_ x: Tensor, training: Bool, keepEverything: Bool = false, through end: Int? = nil) throws
        -> Tensor {
        try checkInput(x)
        let lastNode = end ?? nodes.count - 1
        let trainable = hasTrainableParameters
        let needs = needsInputGradient()
        let inBackward = nodes.indices.map { training && (trainable[$0] || needs[$0] || keepEverything) }
        outputs = Array(repeating: nil, count: nodes.count)
        outputs[0] = x
        var i = 1
        // What no backward pass reaches (all of an inference forward; a training forward's
        // frozen prefix) runs as `infer`: in pooled buffers handed back as soon as read, so
        // no layer keeps an activation for it (Network+Prefix.swift).
        if let previous = pooledForwardOutput { activations.giveBack(previous) }
        pooledForwardOutput = nil
        let prefixEnd = training ? inferencePrefixEnd(inBackward: inBackward, through: lastNode) : lastNode
        if prefixEnd > 0 {
            let y = try infer(x, through: prefixEnd)
            pooledForwardOutput = y
            outputs[prefixEnd] = y
            i = prefixEnd + 1
        }
        while i <= lastNode {
            if let fused = foldableGroup(at: i, training: training, inBackward: inBackward), fused.end <= lastNode {
                let y = try fused.conv.forwardFolded(outputs[nodes[i].inputs[0]]!, batchNorm: fused.batchNorm,
                                                     activation: fused.activation)
                for j in i...fused.end { nodes[j].layer.releaseSavedState() }
                outputs[fused.end] = y
                i = fused.end + 1
                continue
            }
            let node = nodes[i]
            let context = ForwardContext(training: training, keepForBackward: inBackward[i])
            outputs[i] = try node.layer.forward(node.inputs.map { outputs[$0]! }, context)
            if !inBackward[i] { node.layer.releaseSavedState() }
            i += 1
        }
        // Free intermediate references early: only the final output is handed out.
        let result = outputs[lastNode]!
        if !training { outputs = [] }
        return result
    }

    /// The inference forward pass (moving statistics, no dropout, batch norms folded into
    /// their convolutions) without any effect on the network or its layers: each call makes
    /// its own tensors and keeps none, so several threads may run it at once on one network,
    /// as long as none trains it or loads weights into it meanwhile. Results are the same as
    /// `forward(x, training: false)`'s. `through` stops after that layer.
    public func infer(_ x: Tensor, through end: Int? = nil) throws -> Tensor {
        try checkInput(x)
        let lastNode = end ?? nodes.count - 1
        let noBackward = [Bool](repeating: false, count: nodes.count)
        var outputs = [Tensor?](repeating: nil, count: nodes.count)
        // Reads still to come of each tensor (layers such as Dropout pass their input on, so
        // one tensor can be several layers' output); at zero it goes back to the pool for the
        // next layers and calls. The input and the result are never given back.
        var readsLeft: [ObjectIdentifier: Int] = [:]
        func produced(_ y: Tensor, by i: Int) {
            outputs[i] = y
            readsLeft[ObjectIdentifier(y), default: 0] += consumers[i].count + (i == lastNode || i == 0 ? 1 : 0)
        }
        func read(_ sources: [Int]) {
            for s in sources {
                guard let tensor = outputs[s] else { continue }
                let id = ObjectIdentifier(tensor)
                readsLeft[id, default: 0] -= 1
                if readsLeft[id] == 0 { activations.giveBack(tensor) }
            }
        }
        produced(x, by: 0)
        var i = 1
        while i <= lastNode {
            if let fused = foldableGroup(at: i, training: false, inBackward: noBackward), fused.end <= lastNode {
                produced(try fused.conv.inferFolded(outputs[nodes[i].inputs[0]]!, batchNorm: fused.batchNorm,
                                                    activation: fused.activation, buffers: activations), by: fused.end)
                read(nodes[i].inputs)
                i = fused.end + 1
                continue
            }
            let node = nodes[i]
            produced(try node.layer.infer(node.inputs.map { outputs[$0]! }, buffers: activations), by: i)
            read(node.inputs)
            i += 1
        }
        return outputs[lastNode]!
    }

    /// A batch for this network: (N, C, H, W) or (N, features) with the input layer's shape after N.
    private func checkInput(_ x: Tensor) throws {
        guard x.shape.count == input.shape.count + 1, x.shape[0] > 0, Array(x.shape.dropFirst()) == input.shape else {
            throw LayerError.shapeMismatch(what: "the input batch", expected: [x.shape.first ?? 1] + input.shape,
                                           found: x.shape)
        }
    }

    /// A Conv2D at `i` followed by its only consumer, a BatchNormalization on moving
    /// statistics, and optionally that one's only consumer, a ReLU/ReLU6: computed as one
    /// convolution with the batch norm folded in and the activation as post-op, when none of
    /// them takes part in a backward pass.
    private func foldableGroup(at i: Int, training: Bool, inBackward: [Bool])
        -> (conv: Conv2D, batchNorm: BatchNormalization, activation: FusedActivation?, end: Int)? {
        guard let conv = nodes[i].layer as? Conv2D, consumers[i].count == 1 else { return nil }
        let b = consumers[i][0]
        guard b == i + 1, let bn = nodes[b].layer as? BatchNormalization,
              bn.usesMovingStatistics(training: training), !inBackward[i], !inBackward[b] else { return nil }
        if consumers[b].count == 1, consumers[b][0] == b + 1, let activation = nodes[b + 1].layer as? Activation,
           !inBackward[b + 1] {
            return (conv, bn, activation.function, b + 1)
        }
        return (conv, bn, nil, b)
    }

    // MARK: - Backward

    /// Back-propagates the gradient of the loss with respect to the network's output,
    /// filling the gradients of trainable parameters. Stops at the earliest layer that
    /// takes part (has trainable parameters or a trainable layer before it).
    /// With `inputGradient`, every layer passes its gradient on and the gradient with
    /// respect to the network's input is returned (for gradient checks and saliency).
    @discardableResult
    public func backward(_ outputGradient: Tensor, inputGradient: Bool = false) throws -> Tensor? {
        let trainable = hasTrainableParameters
        let needs = inputGradient ? Array(repeating: true, count: nodes.count) : needsInputGradient()
        gradients = Array(repeating: nil, count: nodes.count)
        if gradientSums.count != nodes.count { gradientSums = nodes.map { _ in OutputSlot() } }
        gradients[nodes.count - 1] = outputGradient
        for i in stride(from: nodes.count - 1, through: 1, by: -1) {
            guard trainable[i] || needs[i], let g = gradients[i] else { continue }
            let node = nodes[i]
            let inputGradients = try node.layer.backward(g, BackwardContext(needsInputGradient: needs[i]))
            gradients[i] = nil
            for (source, gradient) in zip(node.inputs, inputGradients) {
                guard let gradient else { continue }
                try accumulate(gradient, into: source)
            }
        }
        let result = gradients[0]
        gradients = []
        return result
    }

    private func accumulate(_ gradient: Tensor, into index: Int) throws {
        guard let existing = gradients[index] else {
            gradients[index] = gradient
            return
        }
        let sum = try gradientSums[index].tensor(existing.layout)
        try AddKernel.cached(layout: existing.layout).forward(existing, gradient, destination: sum)
        gradients[index] = sum
    }

    /// Forgets what the last training forward kept (between phases, before saving).
    public func releaseSavedState() {
        for node in nodes { node.layer.releaseSavedState() }
        outputs = []
        if let previous = pooledForwardOutput { activations.giveBack(previous) }
        pooledForwardOutput = nil
    }
}
