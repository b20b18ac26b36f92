import CDNNL

/// oneDNN's batch normalization over one data layout.
public final class BatchNormKernel: @unchecked Sendable {  // unchecked: its scratch buffers are used by one thread at a time
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
    private lazy var backwardPrimitive: Primitive = makeBackward()
    private let scratch = ReorderScratch()

    public static func cached(layout: TensorLayout, epsilon: Float, statistics: Statistics) -> BatchNormKernel {
        let key = PrimitiveKey("bn-\(statistics.rawValue)", [layout], [Double(epsilon)])
        return KernelCache.shared.kernel(key) { BatchNormKernel(layout: layout, epsilon: epsilon, statistics: statistics) }
    }

    init(layout: TensorLayout, epsilon: Float, statistics: Statistics) {
        self.layout = layout
        self.statistics = statistics
        self.epsilon = epsilon
        var desc = dnnl_batch_normalization_desc_t()
        var data = layout.desc
        check(dnnl_batch_normalization_forward_desc_init(
            &desc, statistics == .inference ? dnnl_forward_inference : dnnl_forward_training,
            &data, epsilon, Self.flags(statistics)), "describing batch normalization over \(layout)")
        guard let p = makePrimitive(&desc) else { fatalError("oneDNN has no batch normalization for \(layout)") }
        forwardPrimitive = p
    }

    private static func flags(_ statistics: Statistics) -> UInt32 {
        var f = dnnl_use_scale.rawValue | dnnl_use_shift.rawValue
        if statistics != .batch { f |= dnnl_use_global_stats.rawValue }
        return f
    }

    /// dst = scale * (src - mean) / sqrt(variance + eps) + shift. With `.batch` statistics,
    /// `mean` and `variance` are outputs (the batch's, variance biased as in Keras).
    public func forward(source: Tensor, scale: Tensor, shift: Tensor, mean: Tensor, variance: Tensor,
                        destination: Tensor) {
        forwardPrimitive.run([(DNNL_ARG_SRC, source), (DNNL_ARG_SCALE, scale), (DNNL_ARG_SHIFT, shift),
                              (DNNL_ARG_MEAN, mean), (DNNL_ARG_VARIANCE, variance), (DNNL_ARG_DST, destination)],
                             scratch: scratch)
    }

    /// Gradients of source, and of scale and shift when given (else backward by data only).
    /// (oneDNN 2.6 counts the shift among the backward pass's inputs although it does not read it.)
    public func backward(source: Tensor, destinationGradient: Tensor, scale: Tensor, shift: Tensor, mean: Tensor,
                         variance: Tensor, sourceGradient: Tensor, scaleGradient: Tensor, shiftGradient: Tensor) {
        backwardPrimitive.run([(DNNL_ARG_SRC, source), (DNNL_ARG_DIFF_DST, destinationGradient),
                               (DNNL_ARG_SCALE, scale), (DNNL_ARG_SHIFT, shift),
                               (DNNL_ARG_MEAN, mean), (DNNL_ARG_VARIANCE, variance),
                               (DNNL_ARG_DIFF_SRC, sourceGradient), (DNNL_ARG_DIFF_SCALE, scaleGradient),
                               (DNNL_ARG_DIFF_SHIFT, shiftGradient)], scratch: scratch)
    }

    private func makeBackward() -> Primitive {
        precondition(statistics != .inference, "batch normalization: no backward pass in inference mode")
        var desc = dnnl_batch_normalization_desc_t()
        var data = layout.desc
        check(dnnl_batch_normalization_backward_desc_init(&desc, dnnl_backward, &data, &data, epsilon, Self.flags(statistics)),
              "describing batch normalization backward over \(layout)")
        guard let p = makePrimitive(&desc, hint: forwardPrimitive) else {
            fatalError("oneDNN has no batch normalization backward for \(layout)")
        }
        return p
    }
}
