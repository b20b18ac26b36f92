import PetalCore

/// A fully connected layer on (N, features), Keras's Dense. The kernel is stored as
/// PyTorch and oneDNN hold it, (outputs, inputs); Keras files (inputs, outputs) are
/// transposed when loaded. An optional ReLU is applied after the bias.
public final class Dense: Layer, @unchecked Sendable {  // unchecked: as Layer
    public let inputs: Int
    public let units: Int
    public let activation: FusedActivation?
    public let weight: Parameter
    public let bias: Parameter

    private var saved: (input: Tensor, kernel: InnerProductKernel)?
    private let output = OutputSlot()
    private let activated = OutputSlot()
    private let inputGradient = OutputSlot()
    private let preActivationGradient = OutputSlot()

    public init(name: String, inputs: Int, units: Int, activation: FusedActivation? = nil, seed: UInt64 = 0) throws {
        guard inputs > 0, units > 0 else {
            throw LayerError.invalidConfiguration(layer: name, reason: "\(inputs) inputs and \(units) units; both must be at least 1")
        }
        self.inputs = inputs
        self.units = units
        self.activation = activation
        let w = try Tensor(zeros: [units, inputs])
        var generator = SplitMix64(seed: seed)
        glorotUniform(w, fanIn: inputs, fanOut: units, generator: &generator)
        weight = Parameter(name: "\(name)/kernel", value: w)
        bias = Parameter(name: "\(name)/bias", value: try Tensor(zeros: [units]))
        super.init(name: name)
    }

    public override var trainableParameters: [Parameter] { [weight, bias] }
    public override func outputShape(_ s: [[Int]]) -> [Int] { [s[0][0], units] }

    public override func forward(_ inputsTensors: [Tensor], _ context: ForwardContext) throws -> Tensor {
        let x = try inputsTensors[0].rowMajor()
        let kernel = try InnerProductKernel.cached(batch: x.shape[0], inputs: inputs, outputs: units)
        let y = try output.tensor(.rowMajor([x.shape[0], units]))
        try kernel.forward(source: x, weights: weight.value, bias: bias.value, destination: y)
        saved = context.keepForBackward ? (x, kernel) : nil
        guard let activation else { return y }
        let a = try activated.tensor(y.layout)
        try EltwiseKernel.cached(layout: y.layout, activation: activation).forward(source: y, destination: a)
        return a
    }

    public override func infer(_ inputs: [Tensor], buffers: TensorPool? = nil) throws -> Tensor {
        let x = try inputs[0].rowMajor()
        let kernel = try InnerProductKernel.cached(batch: x.shape[0], inputs: self.inputs, outputs: units)
        let y = try newTensor(.rowMajor([x.shape[0], units]), buffers)
        try kernel.forward(source: x, weights: weight.value, bias: bias.value, destination: y)
        guard let activation else { return y }
        let a = try newTensor(y.layout, buffers)
        try EltwiseKernel.cached(layout: y.layout, activation: activation).forward(source: y, destination: a)
        buffers?.giveBack(y)
        return a
    }

    public override func backward(_ g: Tensor, _ context: BackwardContext) throws -> [Tensor?] {
        guard let saved else { throw LayerError.backwardWithoutForward(layer: name) }
        var dy = try g.rowMajor()
        if let activation {
            let pre = try preActivationGradient.tensor(dy.layout)
            try EltwiseKernel.cached(layout: dy.layout, activation: activation)
                .backward(source: output.tensor(dy.layout), destinationGradient: dy, sourceGradient: pre)
            dy = pre
        }
        if trainable {
            try saved.kernel.backwardWeights(source: saved.input, destinationGradient: dy,
                                             weightsGradient: weight.gradientBuffer(), biasGradient: bias.gradientBuffer())
        }
        guard context.needsInputGradient else { return [nil] }
        let dx = try inputGradient.tensor(saved.input.layout)
        try saved.kernel.backwardData(destinationGradient: dy, weights: weight.value, sourceGradient: dx)
        return [dx]
    }

    public override func releaseSavedState() { saved = nil }
}

/// Keras's Dropout: in training, zeroes each value with probability `rate` and scales the
/// rest by 1 / (1 - rate); in inference, the identity. Seeded, so runs repeat.
public final class Dropout: Layer, @unchecked Sendable {  // unchecked: as Layer
    public let rate: Float
    private var generator: SplitMix64
    private var mask: [Float] = []
    private let output = OutputSlot()
    private let inputGradient = OutputSlot()

    public init(name: String, rate: Float, seed: UInt64 = 0) throws {
        guard rate >= 0 && rate < 1 else {
            throw LayerError.invalidConfiguration(layer: name, reason: "dropout rate \(rate) must be in [0, 1)")
        }
        self.rate = rate
        generator = SplitMix64(seed: seed)
        super.init(name: name)
    }

    public override func forward(_ inputs: [Tensor], _ context: ForwardContext) throws -> Tensor {
        guard context.training, rate > 0 else { return inputs[0] }
        let x = try inputs[0].rowMajor()
        let y = try output.tensor(x.layout)
        let keep = 1 / (1 - rate)
        if mask.count != x.count { mask = [Float](repeating: 0, count: x.count) }
        withExtendedLifetime(x) {
            let src = x.floats, dst = y.floats
            for i in 0..<x.count {
                mask[i] = generator.nextUnitFloat() < rate ? 0 : keep
                dst[i] = src[i] * mask[i]
            }
        }
        return y
    }

    /// The identity: dropout is active in training only.
    public override func infer(_ inputs: [Tensor], buffers: TensorPool? = nil) throws -> Tensor { inputs[0] }

    public override func backward(_ g: Tensor, _ context: BackwardContext) throws -> [Tensor?] {
        guard context.needsInputGradient else { return [nil] }
        guard rate > 0, mask.count == g.count else { return [g] }
        let gRow = try g.rowMajor()
        let dx = try inputGradient.tensor(gRow.layout)
        withExtendedLifetime(gRow) {
            let src = gRow.floats, dst = dx.floats
            for i in 0..<g.count { dst[i] = src[i] * mask[i] }
        }
        return [dx]
    }

    /// The generator's state, so that a resumed run draws the same masks.
    public var randomState: UInt64 {
        get { generator.state }
        set { generator.state = newValue }
    }
}
