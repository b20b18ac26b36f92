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
    private lazy var discardedScaleGradient = Tensor(zeros: [channels])
    private lazy var discardedShiftGradient = Tensor(zeros: [channels])

    public init(name: String, channels: Int, momentum: Float = 0.99, epsilon: Float = 1e-3) {
        self.channels = channels
        self.momentum = momentum
        self.epsilon = epsilon
        gamma = Parameter(name: "\(name)/gamma", value: Tensor(layout: .rowMajor([channels]), repeating: 1))
        beta = Parameter(name: "\(name)/beta", value: Tensor(zeros: [channels]))
        movingMean = Parameter(name: "\(name)/moving_mean", value: Tensor(zeros: [channels]))
        movingVariance = Parameter(name: "\(name)/moving_variance",
                                   value: Tensor(layout: .rowMajor([channels]), repeating: 1))
        movingMean.trainable = false
        movingVariance.trainable = false
        batchMean = Tensor(zeros: [channels])
        batchVariance = Tensor(zeros: [channels])
        super.init(name: name)
    }

    public override var trainableParameters: [Parameter] { [gamma, beta] }
    public override var weights: [Parameter] { [gamma, beta, movingMean, movingVariance] }

    /// Whether a forward pass in this context uses the moving statistics.
    public func usesMovingStatistics(training: Bool) -> Bool { !training || !trainable || freezeStatistics }

    public override func forward(_ inputs: [Tensor], _ context: ForwardContext) -> Tensor {
        let x = inputs[0]
        let statistics: BatchNormKernel.Statistics = !usesMovingStatistics(training: context.training) ? .batch
            : context.keepForBackward ? .global : .inference
        let kernel = BatchNormKernel.cached(layout: x.layout, epsilon: epsilon, statistics: statistics)
        let y = output.tensor(x.layout)
        let (mean, variance) = statistics == .batch ? (batchMean, batchVariance)
            : (movingMean.value, movingVariance.value)
        kernel.forward(source: x, scale: gamma.value, shift: beta.value, mean: mean, variance: variance, destination: y)
        if statistics == .batch { updateMovingStatistics() }
        saved = context.keepForBackward ? (x, kernel, mean, variance) : nil
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

    public override func backward(_ g: Tensor, _ context: BackwardContext) -> [Tensor?] {
        guard let saved else { fatalError("BatchNormalization \(name): backward without a training forward") }
        let dx = inputGradient.tensor(saved.input.layout)
        saved.kernel.backward(source: saved.input, destinationGradient: g, scale: gamma.value, shift: beta.value,
                              mean: saved.mean,
                              variance: saved.variance, sourceGradient: dx,
                              scaleGradient: trainable ? gamma.gradientBuffer() : discardedScaleGradient,
                              shiftGradient: trainable ? beta.gradientBuffer() : discardedShiftGradient)
        return [context.needsInputGradient ? dx : nil]
    }

    public override func releaseSavedState() { saved = nil }
}
