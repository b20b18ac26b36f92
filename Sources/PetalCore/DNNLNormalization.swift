import CDNNL

/// oneDNN's batch normalization over one data layout.
public final class BatchNormKernel: @unchecked Sendable {  // unchecked: immutable but for its scratch and lazy primitives, both locked
    /// Where the mean and variance come from.
    public enum Statistics: String, Sendable {
        /// Computed from the batch (training); the kernel writes them out.
        case batch
        /// Given (moving statistics), with gradients still flowing to the data, scale and shift.
        case global
        /// Given, forward only (inference).
        case inference
    }

    public let layout: TensorLayout
    public let statistics: Statistics
    let epsilon: Float
    private let forwardPrimitive: Primitive
    private let backwardPrimitive = LazyPrimitive()
    private let scratch = ReorderScratch()

    public static func cached(layout: TensorLayout, epsilon: Float, statistics: Statistics) throws -> BatchNormKernel {
        let key = PrimitiveKey("bn-\(statistics.rawValue)", [layout], [Double(epsilon)])
        return try KernelCache.shared.kernel(key) {
            try BatchNormKernel(layout: layout, epsilon: epsilon, statistics: statistics)
        }
    }

    init(layout: TensorLayout, epsilon: Float, statistics: Statistics) throws {
        self.layout = layout
        self.statistics = statistics
        self.epsilon = epsilon
        var desc = dnnl_batch_normalization_desc_t()
        var data = layout.desc
        try check(dnnl_batch_normalization_forward_desc_init(
            &desc, statistics == .inference ? dnnl_forward_inference : dnnl_forward_training,
            &data, epsilon, Self.flags(statistics)), "describing batch normalization over \(layout)")
        forwardPrimitive = try required(makePrimitive(&desc), "batch normalization over \(layout)")
    }

    private static func flags(_ statistics: Statistics) -> UInt32 {
        var f = dnnl_use_scale.rawValue | dnnl_use_shift.rawValue
        if statistics != .batch { f |= dnnl_use_global_stats.rawValue }
        return f
    }

    /// dst = scale * (src - mean) / sqrt(variance + eps) + shift. With `.batch` statistics,
    /// `mean` and `variance` are outputs (the batch's, variance biased as in Keras).
    public func forward(source: Tensor, scale: Tensor, shift: Tensor, mean: Tensor, variance: Tensor,
                        destination: Tensor) throws {
        try forwardPrimitive.run([(DNNL_ARG_SRC, source), (DNNL_ARG_SCALE, scale), (DNNL_ARG_SHIFT, shift),
                              (DNNL_ARG_MEAN, mean), (DNNL_ARG_VARIANCE, variance), (DNNL_ARG_DST, destination)],
                             scratch: scratch)
    }

    /// Gradients of source, and of scale and shift when given (else backward by data only).
    /// (oneDNN 2.6 counts the shift among the backward pass's inputs although it does not read it.)
    public func backward(source: Tensor, destinationGradient: Tensor, scale: Tensor, shift: Tensor, mean: Tensor,
                         variance: Tensor, sourceGradient: Tensor, scaleGradient: Tensor, shiftGradient: Tensor) throws {
        try backwardPrimitive.get(makeBackward).run([(DNNL_ARG_SRC, source), (DNNL_ARG_DIFF_DST, destinationGradient),
                               (DNNL_ARG_SCALE, scale), (DNNL_ARG_SHIFT, shift),
                               (DNNL_ARG_MEAN, mean), (DNNL_ARG_VARIANCE, variance),
                               (DNNL_ARG_DIFF_SRC, sourceGradient), (DNNL_ARG_DIFF_SCALE, scaleGradient),
                               (DNNL_ARG_DIFF_SHIFT, shiftGradient)], scratch: scratch)
    }

    private func makeBackward() throws -> Primitive {
        // Layers ask for an `.inference` kernel only when nothing is kept for backward: no input reaches this.
        precondition(statistics != .inference, "batch normalization: no backward pass in inference mode")
        var desc = dnnl_batch_normalization_desc_t()
        var data = layout.desc
        try check(dnnl_batch_normalization_backward_desc_init(&desc, dnnl_backward, &data, &data, epsilon,
                                                              Self.flags(statistics)),
                  "describing batch normalization backward over \(layout)")
        return try required(makePrimitive(&desc, hint: forwardPrimitive), "batch normalization backward over \(layout)")
    }
}
