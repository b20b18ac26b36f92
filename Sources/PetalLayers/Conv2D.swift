import Foundation
import PetalCore

/// How a convolution pads its input.
public enum Padding: Hashable, Sendable {
    /// No padding (Keras 'valid').
    case valid
    /// TensorFlow's 'same': output = ceil(input / stride), the extra row and column at the
    /// bottom and right when the padding is odd.
    case same
    /// Explicit top, bottom, left, right.
    case explicit(top: Int, bottom: Int, left: Int, right: Int)

    /// [top, bottom, left, right] for an input of the given height and width.
    func amounts(height: Int, width: Int, kernel: [Int], stride: [Int]) -> [Int] {
        switch self {
        case .valid: return [0, 0, 0, 0]
        case let .explicit(t, b, l, r): return [t, b, l, r]
        case .same:
            func split(_ size: Int, _ k: Int, _ s: Int) -> (Int, Int) {
                let out = (size + s - 1) / s
                let total = max((out - 1) * s + k - size, 0)
                return (total / 2, total - total / 2)
            }
            let (t, b) = split(height, kernel[0], stride[0])
            let (l, r) = split(width, kernel[1], stride[1])
            return [t, b, l, r]
        }
    }
}

/// A 2-D convolution (Keras Conv2D, and DepthwiseConv2D with `groups == inputChannels`).
///
/// The weight is stored in oneDNN's logical order, (O, I, kh, kw), or (G, O/G, I/G, kh, kw)
/// when grouped, in whatever layout the convolution prefers once training starts.
public final class Conv2D: Layer, @unchecked Sendable {  // unchecked: as Layer
    public let inputChannels: Int
    public let filters: Int
    public let kernelSize: [Int]
    public let strides: [Int]
    public let padding: Padding
    public let groups: Int
    public let weight: Parameter
    public let bias: Parameter?
    /// Zero padding of a ZeroPadding2D layer just before this one, applied here instead
    /// (the network sets it); [top, bottom, left, right].
    public internal(set) var absorbedPadding = [0, 0, 0, 0]

    private var savedInput: Tensor?
    private var savedKernel: ConvolutionKernel?
    private let output = OutputSlot()
    private let inputGradient = OutputSlot()
    /// Copies of the weights in other layouts, shared by the training and inference paths:
    /// behind `cacheLock`, as `infer` may run on several threads at once.
    private var derivedWeights: (layout: TensorLayout, version: Int, tensor: Tensor)?
    private var folded: (key: [Int], layout: TensorLayout, weights: Tensor, bias: Tensor)?
    private let cacheLock = NSLock()

    public init(name: String, inputChannels: Int, filters: Int, kernelSize: [Int], strides: [Int] = [1, 1],
                padding: Padding = .valid, groups: Int = 1, useBias: Bool = true, seed: UInt64 = 0) throws {
        // The architectures choose channels and groups (not files or options): no input reaches this.
        precondition(inputChannels % groups == 0 && filters % groups == 0,
                     "Conv2D \(name): channels \(inputChannels) -> \(filters) not divisible by \(groups) groups")
        self.inputChannels = inputChannels
        self.filters = filters
        self.kernelSize = kernelSize
        self.strides = strides
        self.padding = padding
        self.groups = groups
        let shape = groups == 1
            ? [filters, inputChannels, kernelSize[0], kernelSize[1]]
            : [groups, filters / groups, inputChannels / groups, kernelSize[0], kernelSize[1]]
        let w = try Tensor(zeros: shape)
        var generator = SplitMix64(seed: seed)
        let receptive = kernelSize[0] * kernelSize[1]
        glorotUniform(w, fanIn: receptive * inputChannels / groups, fanOut: receptive * filters / groups,
                      generator: &generator)
        weight = Parameter(name: "\(name)/kernel", value: w)
        bias = useBias ? Parameter(name: "\(name)/bias", value: try Tensor(zeros: [filters])) : nil
        super.init(name: name)
    }

    /// A depthwise convolution (Keras DepthwiseConv2D, depth multiplier 1).
    public static func depthwise(name: String, channels: Int, kernelSize: [Int], strides: [Int] = [1, 1],
                                 padding: Padding = .valid, useBias: Bool = false) throws -> Conv2D {
        try Conv2D(name: name, inputChannels: channels, filters: channels, kernelSize: kernelSize, strides: strides,
               padding: padding, groups: channels, useBias: useBias)
    }

    public override var typeName: String { groups > 1 && groups == inputChannels ? "DepthwiseConv2D" : "Conv2D" }
    public override var trainableParameters: [Parameter] { [weight] + (bias.map { [$0] } ?? []) }

    /// The oneDNN spec for an input of this shape (absorbed padding included).
    public func spec(for input: [Int]) -> ConvolutionSpec {
        let own = padding.amounts(height: input[2] + absorbedPadding[0] + absorbedPadding[1],
                                  width: input[3] + absorbedPadding[2] + absorbedPadding[3],
                                  kernel: kernelSize, stride: strides)
        let pad = zip(own, absorbedPadding).map { $0 + $1 }
        return ConvolutionSpec(input: input, outputChannels: filters, kernel: kernelSize, stride: strides,
                               padding: pad, groups: groups, hasBias: bias != nil)
    }

    public override func outputShape(_ inputShapes: [[Int]]) -> [Int] {
        let x = inputShapes[0]
        let pad = padding.amounts(height: x[2], width: x[3], kernel: kernelSize, stride: strides)
        return ConvolutionSpec(input: x, outputChannels: filters, kernel: kernelSize, stride: strides,
                               padding: pad, groups: groups, hasBias: false).output
    }

    public override func forward(_ inputs: [Tensor], _ context: ForwardContext) throws -> Tensor {
        let x = inputs[0]
        let kernel = try ConvolutionKernel.cached(spec(for: x.shape), training: context.keepForBackward)
        let y = try output.tensor(kernel.destinationLayout)
        try kernel.forward(source: x, weights: weights(in: kernel.weightsLayout, adopt: context.keepForBackward),
                           bias: bias?.value, destination: y)
        if context.keepForBackward {
            savedInput = x
            savedKernel = kernel
        }
        return y
    }

    public override func infer(_ inputs: [Tensor], buffers: TensorPool? = nil) throws -> Tensor {
        let x = inputs[0]
        let kernel = try ConvolutionKernel.cached(spec(for: x.shape), training: false)
        let y = try newTensor(kernel.destinationLayout, buffers)
        try kernel.forward(source: x, weights: weights(in: kernel.weightsLayout, adopt: false), bias: bias?.value,
                           destination: y)
        return y
    }

    public override func backward(_ g: Tensor, _ context: BackwardContext) throws -> [Tensor?] {
        guard let x = savedInput, let kernel = savedKernel else { throw LayerError.backwardWithoutForward(layer: name) }
        if trainable {
            try kernel.backwardWeights(source: x, destinationGradient: g, weightsGradient: weight.gradientBuffer(),
                                       biasGradient: bias?.gradientBuffer())
        }
        guard context.needsInputGradient else { return [nil] }
        let dx = try inputGradient.tensor(kernel.sourceGradientLayout())
        try kernel.backwardData(destinationGradient: g,
                                weights: weights(in: kernel.backwardDataWeightsLayout(), adopt: false), sourceGradient: dx)
        return [dx]
    }

    public override func releaseSavedState() {
        savedInput = nil
        savedKernel = nil
    }

    /// The weights in the layout a kernel wants. A trainable layer adopts that layout once,
    /// so optimizers update it in place; otherwise a converted copy is kept until the weights change.
    private func weights(in layout: TensorLayout, adopt: Bool) throws -> Tensor {
        if weight.layout == layout { return weight.value }
        if adopt && trainable {
            try weight.adopt(layout: layout)
            return weight.value
        }
        return try cacheLock.withLock {
            if let d = derivedWeights, d.layout == layout, d.version == weight.version { return d.tensor }
            // Weights are small: one thread converts them faster than waking OpenMP's team, and
            // the copy's storage is reused from step to step (training: the weights change
            // only between steps, when no inference runs).
            let converted = derivedWeights?.layout == layout ? derivedWeights!.tensor : try Tensor(layout: layout)
            try DNNL.singleThreaded { try converted.assign(weight.value) }
            derivedWeights = (layout, weight.version, converted)
            return converted
        }
    }

    /// Inference forward with a following batch norm folded into the weights and bias, and
    /// an activation as oneDNN post-op: one primitive instead of three.
    public func forwardFolded(_ x: Tensor, batchNorm bn: BatchNormalization, activation: FusedActivation?) throws -> Tensor {
        let (kernel, weights, bias) = try foldedKernel(for: x, batchNorm: bn, activation: activation)
        let y = try output.tensor(kernel.destinationLayout)
        try kernel.forward(source: x, weights: weights, bias: bias, destination: y)
        return y
    }

    /// `forwardFolded` as `infer` does it: a new output tensor, nothing kept (thread-safe).
    public func inferFolded(_ x: Tensor, batchNorm bn: BatchNormalization, activation: FusedActivation?,
                            buffers: TensorPool? = nil) throws -> Tensor {
        let (kernel, weights, bias) = try foldedKernel(for: x, batchNorm: bn, activation: activation)
        let y = try newTensor(kernel.destinationLayout, buffers)
        try kernel.forward(source: x, weights: weights, bias: bias, destination: y)
        return y
    }

    /// The fused kernel and the folded weights and bias, refolded when any weight changed.
    private func foldedKernel(for x: Tensor, batchNorm bn: BatchNormalization, activation: FusedActivation?)
        throws -> (ConvolutionKernel, Tensor, Tensor) {
        let spec = spec(for: x.shape)
        let foldedSpec = ConvolutionSpec(input: spec.input, outputChannels: spec.outputChannels, kernel: spec.kernelSize,
                                         stride: spec.stride, padding: spec.padding, groups: spec.groups, hasBias: true)
        let kernel = try ConvolutionKernel.cached(foldedSpec, training: false, activation: activation)
        let key = [weight.version, bias?.version ?? -1] + bn.weights.map(\.version)
        return try cacheLock.withLock {
            if let folded, folded.key == key, folded.layout == kernel.weightsLayout {
                return (kernel, folded.weights, folded.bias)
            }
            let (w, b) = try foldBatchNorm(bn)
            let made = (key: key, layout: kernel.weightsLayout, weights: try w.reordered(to: kernel.weightsLayout), bias: b)
            folded = made
            return (kernel, made.weights, made.bias)
        }
    }

    /// W' = W * gamma / sqrt(var + eps) per output channel; b' = beta + (b - mean) * gamma / sqrt(var + eps).
    /// Row-major, the weight's logical shape; public so that ONNX export writes the very weights inference uses.
    public func foldBatchNorm(_ bn: BatchNormalization) throws -> (Tensor, Tensor) {
        let w = try weight.value.rowMajor().toArray()
        let gamma = try bn.gamma.value.toArray(), beta = try bn.beta.value.toArray()
        let mean = try bn.movingMean.value.toArray(), variance = try bn.movingVariance.value.toArray()
        let oldBias = try bias?.value.toArray() ?? Array(repeating: 0, count: filters)
        let perFilter = w.count / filters
        var folded = w
        var newBias = [Float](repeating: 0, count: filters)
        for o in 0..<filters {
            let s = gamma[o] / (variance[o] + bn.epsilon).squareRoot()
            for i in 0..<perFilter { folded[o * perFilter + i] *= s }
            newBias[o] = beta[o] + (oldBias[o] - mean[o]) * s
        }
        return (try Tensor(shape: weight.shape, values: folded), try Tensor(shape: [filters], values: newBias))
    }
}
