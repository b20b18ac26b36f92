import PetalCore

/// Keras's BatchNormalization over the channel axis.
///
/// Training uses the batch's mean and (biased) variance and updates the moving statistics
/// with Keras's rule, `moving = moving * momentum + batch * (1 - momentum)`; inference uses
/// the moving statistics. A frozen layer (`trainable == false`) runs in inference mode, as in
/// Keras; `freezeStatistics` keeps the statistics fixed while gamma and beta still train
/// (fine-tuning a pretrained base).
public final class BatchNormalization: Layer, @unchecked Sendable {  // unchecked: as Layer
    public let channels: Int
    public let momentum: Float
    public let epsilon: Float
    public let gamma: Parameter
    public let beta: Parameter
    public let movingMean: Parameter
    public let movingVariance: Parameter
    /// Use the moving statistics even when training (gradients still flow to gamma, beta
    /// and the input).
    public var freezeStatistics = false

    private var saved: (input: Tensor, kernel: BatchNormKernel, mean: Tensor, variance: Tensor)?
    private let batchMean: Tensor
    private let batchVariance: Tensor
    private let output = OutputSlot()
    private let inputGradient = OutputSlot()
    private let discardedScaleGradient: Tensor
    private let discardedShiftGradient: Tensor

    public init(name: String, channels: Int, momentum: Float = 0.99, epsilon: Float = 1e-3) throws {
        self.channels = channels
        self.momentum = momentum
        self.epsilon = epsilon
        gamma = Parameter(name: "\(name)/gamma", value: try Tensor(layout: .rowMajor([channels]), repeating: 1))
        beta = Parameter(name: "\(name)/beta", value: try Tensor(zeros: [channels]))
        movingMean = Parameter(name: "\(name)/moving_mean", value: try Tensor(zeros: [channels]))
        movingVariance = Parameter(name: "\(name)/moving_variance",
                                   value: try Tensor(layout: .rowMajor([channels]), repeating: 1))
        movingMean.trainable = false
        movingVariance.trainable = false
        batchMean = try Tensor(zeros: [channels])
        batchVariance = try Tensor(zeros: [channels])
        discardedScaleGradient = try Tensor(zeros: [channels])
        discardedShiftGradient = try Tensor(zeros: [channels])
        super.init(name: name)
    }

    public override var trainableParameters: [Parameter] { [gamma, beta] }
    public override var weights: [Parameter] { [gamma, beta, movingMean, movingVariance] }

    /// Whether a forward pass in this context uses the moving statistics.
    public func usesMovingStatistics(training: Bool) -> Bool { !training || !trainable || freezeStatistics }

    public override func forward(_ inputs: [Tensor], _ context: ForwardContext) throws -> Tensor {
        let x = inputs[0]
        let statistics: BatchNormKernel.Statistics = !usesMovingStatistics(training: context.training) ? .batch
            : context.keepForBackward ? .global : .inference
        let kernel = try BatchNormKernel.cached(layout: x.layout, epsilon: epsilon, statistics: statistics)
        let y = try output.tensor(x.layout)
        let (mean, variance) = statistics == .batch ? (batchMean, batchVariance)
            : (movingMean.value, movingVariance.value)
        try kernel.forward(source: x, scale: gamma.value, shift: beta.value, mean: mean, variance: variance, destination: y)
        if statistics == .batch { updateMovingStatistics() }
        saved = context.keepForBackward ? (x, kernel, mean, variance) : nil
        return y
    }

    public override func infer(_ inputs: [Tensor], buffers: TensorPool? = nil) throws -> Tensor {
        let x = inputs[0]
        let kernel = try BatchNormKernel.cached(layout: x.layout, epsilon: epsilon, statistics: .inference)
        let y = try newTensor(x.layout, buffers)
        try kernel.forward(source: x, scale: gamma.value, shift: beta.value, mean: movingMean.value,
                           variance: movingVariance.value, destination: y)
        return y
    }

    private func updateMovingStatistics() {
        let m = movingMean.value.floats, v = movingVariance.value.floats
        let bm = batchMean.floats, bv = batchVariance.floats
        for c in 0..<channels {
            m[c] = m[c] * momentum + bm[c] * (1 - momentum)
            v[c] = v[c] * momentum + bv[c] * (1 - momentum)
        }
        movingMean.markUpdated()
        movingVariance.markUpdated()
    }

    public override func backward(_ g: Tensor, _ context: BackwardContext) throws -> [Tensor?] {
        guard let saved else { throw LayerError.backwardWithoutForward(layer: name) }
        let dx = try inputGradient.tensor(saved.input.layout)
        try saved.kernel.backward(source: saved.input, destinationGradient: g, scale: gamma.value, shift: beta.value,
                                  mean: saved.mean,
                                  variance: saved.variance, sourceGradient: dx,
                                  scaleGradient: trainable ? try gamma.gradientBuffer() : discardedScaleGradient,
                                  shiftGradient: trainable ? try beta.gradientBuffer() : discardedShiftGradient)
        return [context.needsInputGradient ? dx : nil]
    }

    public override func releaseSavedState() { saved = nil }
}
