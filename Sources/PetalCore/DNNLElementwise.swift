import CDNNL

/// oneDNN's elementwise activations (ReLU, ReLU6 as clip(0, 6), hard-swish, hard-sigmoid as
/// linear then clip) over one layout: one primitive per step of the function.
public final class EltwiseKernel: @unchecked Sendable {  // unchecked: immutable but for its scratch and lazy primitives, both locked
    public let layout: TensorLayout
    public let activation: FusedActivation
    private let steps: [EltwiseStep]
    private let forwardPrimitives: [Primitive]
    private let backwardPrimitives: [LazyPrimitive]
    private let scratch = ReorderScratch()

    public static func cached(layout: TensorLayout, activation: FusedActivation) throws -> EltwiseKernel {
        let key = PrimitiveKey("eltwise-\(activation.rawValue)", [layout])
        return try KernelCache.shared.kernel(key) { try EltwiseKernel(layout: layout, activation: activation) }
    }

    init(layout: TensorLayout, activation: FusedActivation) throws {
        self.layout = layout
        self.activation = activation
        steps = activation.steps
        forwardPrimitives = try steps.map { step in
            var desc = dnnl_eltwise_desc_t()
            var data = layout.desc
            try check(dnnl_eltwise_forward_desc_init(&desc, dnnl_forward_training, step.algorithm, &data,
                                                     step.alpha, step.beta), "describing \(activation)")
            return try required(makePrimitive(&desc), "\(Self.self) \(activation) over \(layout)")
        }
        backwardPrimitives = steps.map { _ in LazyPrimitive() }
    }

    /// Later steps run in place on the destination.
    public func forward(source: Tensor, destination: Tensor) throws {
        for (i, primitive) in forwardPrimitives.enumerated() {
            try primitive.run([(DNNL_ARG_SRC, i == 0 ? source : destination), (DNNL_ARG_DST, destination)], scratch: scratch)
        }
    }

    /// The gradient passes where the activation is not saturated (0 < x < 6 for ReLU6). A
    /// function of several steps recomputes the intermediate values its backward needs.
    public func backward(source: Tensor, destinationGradient: Tensor, sourceGradient: Tensor) throws {
        var inputs = [source]
        var borrowed: [Tensor] = []
        defer { for (i, t) in borrowed.enumerated() { scratch.giveBack(t, slot: Int32(1000 + i)) } }
        for i in 0..<(steps.count - 1) {
            let next = try scratch.borrow(layout, slot: Int32(1000 + i))
            borrowed.append(next)
            try forwardPrimitives[i].run([(DNNL_ARG_SRC, inputs[i]), (DNNL_ARG_DST, next)], scratch: scratch)
            inputs.append(next)
        }
        var gradient = destinationGradient
        for i in stride(from: steps.count - 1, through: 0, by: -1) {
            try backwardPrimitives[i].get { try makeBackward(i) }
                .run([(DNNL_ARG_SRC, inputs[i]), (DNNL_ARG_DIFF_DST, gradient), (DNNL_ARG_DIFF_SRC, sourceGradient)],
                     scratch: scratch)
            gradient = sourceGradient
        }
    }

    private func makeBackward(_ i: Int) throws -> Primitive {
        var desc = dnnl_eltwise_desc_t()
        var data = layout.desc
        try check(dnnl_eltwise_backward_desc_init(&desc, steps[i].algorithm, &data, &data,
                                                  steps[i].alpha, steps[i].beta), "describing \(activation) backward")
        return try required(makePrimitive(&desc, hint: forwardPrimitives[i]), "\(Self.self) backward")
    }
}

/// Elementwise sum of two tensors (the residual Add), in the first one's layout.
public final class AddKernel: @unchecked Sendable {  // unchecked: immutable but for its scratch and lazy primitives, both locked
    public let layout: TensorLayout
    private let primitive: Primitive
    private let scratch = ReorderScratch()

    public static func cached(layout: TensorLayout) throws -> AddKernel {
        try KernelCache.shared.kernel(PrimitiveKey("add", [layout])) { try AddKernel(layout: layout) }
    }

    init(layout: TensorLayout) throws {
        self.layout = layout
        var desc = dnnl_binary_desc_t()
        var a = layout.desc, b = layout.desc, c = layout.desc
        try check(dnnl_binary_desc_init(&desc, dnnl_binary_add, &a, &b, &c), "describing add over \(layout)")
        primitive = try required(makePrimitive(&desc), "\(Self.self) over \(layout)")
    }

    /// destination = a + b (b converted to a's layout if needed; destination may be a).
    public func forward(_ a: Tensor, _ b: Tensor, destination: Tensor) throws {
        try primitive.run([(DNNL_ARG_SRC_0, a), (DNNL_ARG_SRC_1, b), (DNNL_ARG_DST, destination)], scratch: scratch)
    }
}

/// Average pooling over the whole spatial extent (GlobalAveragePooling2D):
/// (N, C, H, W) to (N, C, 1, 1).
public final class GlobalAveragePoolKernel: @unchecked Sendable {  // unchecked: immutable but for its scratch and lazy primitives, both locked
    public let layout: TensorLayout
    private let forwardPrimitive: Primitive
    private let backwardPrimitive = LazyPrimitive()
    private let scratch = ReorderScratch()

    public static func cached(layout: TensorLayout) throws -> GlobalAveragePoolKernel {
        try KernelCache.shared.kernel(PrimitiveKey("gap", [layout])) { try GlobalAveragePoolKernel(layout: layout) }
    }

    private var window: [Int] { Array(layout.shape[2...]) }
    private var outputShape: [Int] { [layout.shape[0], layout.shape[1], 1, 1] }

    init(layout: TensorLayout) throws {
        self.layout = layout
        var desc = dnnl_pooling_v2_desc_t()
        var src = layout.desc
        var dst = TensorLayout.any([layout.shape[0], layout.shape[1], 1, 1]).desc
        let w = Array(layout.shape[2...])
        try check(dnnl_pooling_v2_forward_desc_init(&desc, dnnl_forward_training, dnnl_pooling_avg_exclude_padding,
                                                &src, &dst, dims(w), dims(w), dims([0, 0]), dims([0, 0]), dims([0, 0])),
                  "describing global average pooling over \(layout)")
        forwardPrimitive = try required(makePrimitive(&desc), "\(Self.self) over \(layout)")
    }

    public var destinationLayout: TensorLayout { forwardPrimitive.layout(of: DNNL_ARG_DST) }

    public func forward(source: Tensor, destination: Tensor) throws {
        try forwardPrimitive.run([(DNNL_ARG_SRC, source), (DNNL_ARG_DST, destination)], scratch: scratch)
    }

    /// Spreads each channel's gradient evenly over its H x W positions.
    public func backward(destinationGradient: Tensor, sourceGradient: Tensor) throws {
        try backwardPrimitive.get(makeBackward)
            .run([(DNNL_ARG_DIFF_DST, destinationGradient), (DNNL_ARG_DIFF_SRC, sourceGradient)], scratch: scratch)
    }

    private func makeBackward() throws -> Primitive {
        var desc = dnnl_pooling_v2_desc_t()
        var diffSrc = layout.desc
        var diffDst = destinationLayout.desc
        try check(dnnl_pooling_v2_backward_desc_init(&desc, dnnl_pooling_avg_exclude_padding, &diffSrc, &diffDst,
                                                 dims(window), dims(window), dims([0, 0]), dims([0, 0]), dims([0, 0])),
                  "describing global average pooling backward")
        return try required(makePrimitive(&desc, hint: forwardPrimitive), "\(Self.self) backward")
    }
}

/// oneDNN's inner product (Dense): (N, I) x (O, I)ᵀ + bias, all row-major.
public final class InnerProductKernel: @unchecked Sendable {  // unchecked: immutable but for its scratch and lazy primitives, both locked
    public let batch: Int, inputs: Int, outputs: Int
    private let forwardPrimitive: Primitive
    private let backwardDataPrimitive = LazyPrimitive()
    private let backwardWeightsPrimitive = LazyPrimitive()
    private let scratch = ReorderScratch()

    public static func cached(batch: Int, inputs: Int, outputs: Int) throws -> InnerProductKernel {
        let key = PrimitiveKey("ip", [], [batch, inputs, outputs].map(Double.init))
        return try KernelCache.shared.kernel(key) { try InnerProductKernel(batch: batch, inputs: inputs, outputs: outputs) }
    }

    init(batch: Int, inputs: Int, outputs: Int) throws {
        try Tensor.checkAllocatable(.rowMajor([batch, outputs]))  // as for a convolution's output
        self.batch = batch; self.inputs = inputs; self.outputs = outputs
        var desc = dnnl_inner_product_desc_t()
        var src = TensorLayout.rowMajor([batch, inputs]).desc
        var weights = TensorLayout.rowMajor([outputs, inputs]).desc
        var bias = TensorLayout.rowMajor([outputs]).desc
        var dst = TensorLayout.rowMajor([batch, outputs]).desc
        try check(dnnl_inner_product_forward_desc_init(&desc, dnnl_forward_training, &src, &weights, &bias, &dst),
                  "describing inner product")
        forwardPrimitive = try required(makePrimitive(&desc), "inner product \(batch)x\(inputs) -> \(outputs)")
    }

    public func forward(source: Tensor, weights: Tensor, bias: Tensor, destination: Tensor) throws {
        try forwardPrimitive.run([(DNNL_ARG_SRC, source), (DNNL_ARG_WEIGHTS, weights), (DNNL_ARG_BIAS, bias),
                              (DNNL_ARG_DST, destination)], scratch: scratch)
    }

    public func backwardData(destinationGradient: Tensor, weights: Tensor, sourceGradient: Tensor) throws {
        try backwardDataPrimitive.get(makeBackwardData)
            .run([(DNNL_ARG_DIFF_DST, destinationGradient), (DNNL_ARG_WEIGHTS, weights), (DNNL_ARG_DIFF_SRC, sourceGradient)],
                 scratch: scratch)
    }

    public func backwardWeights(source: Tensor, destinationGradient: Tensor, weightsGradient: Tensor,
                                biasGradient: Tensor) throws {
        try backwardWeightsPrimitive.get(makeBackwardWeights)
            .run([(DNNL_ARG_SRC, source), (DNNL_ARG_DIFF_DST, destinationGradient),
                  (DNNL_ARG_DIFF_WEIGHTS, weightsGradient), (DNNL_ARG_DIFF_BIAS, biasGradient)], scratch: scratch)
    }

    private func makeBackwardData() throws -> Primitive {
        var desc = dnnl_inner_product_desc_t()
        var diffSrc = TensorLayout.rowMajor([batch, inputs]).desc
        var weights = TensorLayout.rowMajor([outputs, inputs]).desc
        var diffDst = TensorLayout.rowMajor([batch, outputs]).desc
        try check(dnnl_inner_product_backward_data_desc_init(&desc, &diffSrc, &weights, &diffDst), "inner product bwd data")
        return try required(makePrimitive(&desc, hint: forwardPrimitive), "\(Self.self) backward")
    }

    private func makeBackwardWeights() throws -> Primitive {
        var desc = dnnl_inner_product_desc_t()
        var src = TensorLayout.rowMajor([batch, inputs]).desc
        var diffWeights = TensorLayout.rowMajor([outputs, inputs]).desc
        var diffBias = TensorLayout.rowMajor([outputs]).desc
        var diffDst = TensorLayout.rowMajor([batch, outputs]).desc
        try check(dnnl_inner_product_backward_weights_desc_init(&desc, &src, &diffWeights, &diffBias, &diffDst),
                  "inner product bwd weights")
        return try required(makePrimitive(&desc, hint: forwardPrimitive), "\(Self.self) backward")
    }
}
