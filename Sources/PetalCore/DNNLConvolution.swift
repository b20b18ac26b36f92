import CDNNL
import Foundation

/// What a 2-D convolution computes: shapes, stride, explicit padding and groups.
/// Padding is explicit on each side so that TensorFlow's 'same' padding (asymmetric at
/// stride 2) and Keras's ZeroPadding2D are exact.
public struct ConvolutionSpec: Hashable, Sendable {
    /// Input (N, C, H, W).
    public var input: [Int]
    public var outputChannels: Int
    public var kernelSize: [Int]
    public var stride: [Int]
    /// top, bottom, left, right
    public var padding: [Int]
    public var groups: Int
    public var hasBias: Bool

    public init(input: [Int], outputChannels: Int, kernel: [Int], stride: [Int], padding: [Int],
                groups: Int = 1, hasBias: Bool) {
        precondition(input.count == 4 && kernel.count == 2 && stride.count == 2 && padding.count == 4)
        self.input = input; self.outputChannels = outputChannels; self.kernelSize = kernel
        self.stride = stride; self.padding = padding; self.groups = groups; self.hasBias = hasBias
    }

    public var output: [Int] {
        let h = (input[2] + padding[0] + padding[1] - kernelSize[0]) / stride[0] + 1
        let w = (input[3] + padding[2] + padding[3] - kernelSize[1]) / stride[1] + 1
        return [input[0], outputChannels, h, w]
    }

    /// Logical weight shape: (O, I, kh, kw), or (G, O/G, I/G, kh, kw) when grouped.
    public var weightShape: [Int] {
        let inPerGroup = input[1] / groups
        if groups == 1 { return [outputChannels, inPerGroup, kernelSize[0], kernelSize[1]] }
        return [groups, outputChannels / groups, inPerGroup, kernelSize[0], kernelSize[1]]
    }

    /// Multiply-adds of one forward pass, for benchmarks.
    public var forwardFLOPs: Double {
        let o = output
        return 2.0 * Double(o[0] * o[1] * o[2] * o[3]) * Double(input[1] / groups * kernelSize[0] * kernelSize[1])
    }

    var numbers: [Double] {
        (input + [outputChannels] + kernelSize + stride + padding + [groups, hasBias ? 1 : 0]).map(Double.init)
    }
}

/// oneDNN's convolution for one spec: forward (optionally with a fused activation),
/// backward by data and by weights. The layouts of source, weights and destination are
/// the ones oneDNN prefers for speed (blocked); callers adopt them.
public final class ConvolutionKernel: @unchecked Sendable {  // unchecked: its scratch buffers are used by one thread at a time
    public let spec: ConvolutionSpec
    let forwardPrimitive: Primitive
    private lazy var backwardDataPrimitive: Primitive = makeBackwardData()
    private lazy var backwardWeightsPrimitive: Primitive = makeBackwardWeights()
    private let scratch = ReorderScratch()
    private let weightsGradientSlot = OutputSlot()
    /// Depthwise kernels larger than 3x3 compute their weight gradient in Swift (see there).
    private lazy var depthwiseWeightsGradient: DepthwiseWeightsGradient? =
        DepthwiseWeightsGradient.applies(to: spec) ? DepthwiseWeightsGradient(spec) : nil

    /// A kernel from the shared cache: creating one costs milliseconds, executing it is the work.
    public static func cached(_ spec: ConvolutionSpec, training: Bool, activation: FusedActivation? = nil)
        -> ConvolutionKernel {
        let key = PrimitiveKey("conv\(training ? "T" : "I")\(activation?.rawValue ?? "")", [], spec.numbers)
        return KernelCache.shared.kernel(key) { ConvolutionKernel(spec, training: training, activation: activation) }
    }

    init(_ spec: ConvolutionSpec, training: Bool, activation: FusedActivation?) {
        self.spec = spec
        var desc = dnnl_convolution_desc_t()
        var src = TensorLayout.any(spec.input).desc
        var weights = TensorLayout.any(spec.weightShape).desc
        var bias = TensorLayout.rowMajor([spec.outputChannels]).desc
        var dst = TensorLayout.any(spec.output).desc
        let status = withUnsafePointer(to: &bias) { biasPointer in
            dnnl_convolution_forward_desc_init(
                &desc, training ? dnnl_forward_training : dnnl_forward_inference, dnnl_convolution_direct,
                &src, &weights, spec.hasBias ? biasPointer : nil, &dst,
                dims(spec.stride), dims([spec.padding[0], spec.padding[2]]), dims([spec.padding[1], spec.padding[3]]))
        }
        check(status, "describing convolution \(spec)")
        guard let primitive = makePrimitive(&desc, activation: activation) else {
            fatalError("oneDNN has no convolution for \(spec)")
        }
        forwardPrimitive = primitive
    }

    public var sourceLayout: TensorLayout { forwardPrimitive.layout(of: DNNL_ARG_SRC) }
    public var weightsLayout: TensorLayout { forwardPrimitive.layout(of: DNNL_ARG_WEIGHTS) }
    public var destinationLayout: TensorLayout { forwardPrimitive.layout(of: DNNL_ARG_DST) }
    public var implementation: String { forwardPrimitive.implementation }

    /// dst = conv(src, weights) + bias, activation applied if the kernel fuses one.
    public func forward(source: Tensor, weights: Tensor, bias: Tensor?, destination: Tensor) {
        var args: [(Int32, Tensor)] = [(DNNL_ARG_SRC, source), (DNNL_ARG_WEIGHTS, weights), (DNNL_ARG_DST, destination)]
        if let bias { args.append((DNNL_ARG_BIAS, bias)) }
        forwardPrimitive.run(args, scratch: scratch)
    }

    /// The layout backward-by-data writes its input gradient in.
    public var sourceGradientLayout: TensorLayout { backwardDataPrimitive.layout(of: DNNL_ARG_DIFF_SRC) }
    /// The weights layout backward-by-data reads: usually `weightsLayout`, see makeBackwardData.
    public var backwardDataWeightsLayout: TensorLayout { backwardDataPrimitive.layout(of: DNNL_ARG_WEIGHTS) }

    /// diffSource = the gradient of the loss with respect to the source.
    public func backwardData(destinationGradient: Tensor, weights: Tensor, sourceGradient: Tensor) {
        backwardDataPrimitive.run([(DNNL_ARG_DIFF_DST, destinationGradient), (DNNL_ARG_WEIGHTS, weights),
                                   (DNNL_ARG_DIFF_SRC, sourceGradient)], scratch: scratch)
    }

    /// Weight (and bias) gradients, written in the weights' own layout (overwritten, not accumulated).
    public func backwardWeights(source: Tensor, destinationGradient: Tensor, weightsGradient: Tensor,
                                biasGradient: Tensor?) {
        if let depthwise = depthwiseWeightsGradient {
            depthwise.compute(source: source, destinationGradient: destinationGradient, weightsGradient: weightsGradient)
            return
        }
        // The primitive may write the gradient in its own layout (see makeBackwardWeights).
        let own = backwardWeightsPrimitive.layout(of: DNNL_ARG_DIFF_WEIGHTS)
        let written = weightsGradient.layout == own ? weightsGradient : weightsGradientSlot.tensor(own)
        var args: [(Int32, Tensor)] = [(DNNL_ARG_SRC, source), (DNNL_ARG_DIFF_DST, destinationGradient),
                                       (DNNL_ARG_DIFF_WEIGHTS, written)]
        if let biasGradient { args.append((DNNL_ARG_DIFF_BIAS, biasGradient)) }
        backwardWeightsPrimitive.run(args, scratch: scratch)
        if written !== weightsGradient { DNNL.singleThreaded { weightsGradient.assign(written) } }
    }

    /// Backward by data reads the weights in the forward layout when oneDNN has a fast
    /// kernel for it (no reorder per step). For some shapes it has none (the 3-channel stem's
    /// forward layout gets only "ref:any", ~100x slower); then it picks its own weights
    /// layout (`backwardDataWeightsLayout`) and the caller converts the (small) weights.
    private func makeBackwardData() -> Primitive {
        if let p = makeBackwardData(weights: weightsLayout), !p.implementation.hasPrefix("ref") { return p }
        guard let p = makeBackwardData(weights: .any(spec.weightShape)) else {
            fatalError("oneDNN has no backward-data convolution for \(spec)")
        }
        return p
    }

    private func makeBackwardData(weights weightsLayout: TensorLayout) -> Primitive? {
        var desc = dnnl_convolution_desc_t()
        var diffSrc = TensorLayout.any(spec.input).desc
        var weights = weightsLayout.desc
        var diffDst = TensorLayout.any(spec.output).desc
        check(dnnl_convolution_backward_data_desc_init(
            &desc, dnnl_convolution_direct, &diffSrc, &weights, &diffDst,
            dims(spec.stride), dims([spec.padding[0], spec.padding[2]]), dims([spec.padding[1], spec.padding[3]])),
              "describing convolution backward data \(spec)")
        return makePrimitive(&desc, hint: forwardPrimitive)
    }

    /// Backward by weights writes the gradient in the weights' own layout (optimizers update
    /// in place) and reads the source as forward does, when oneDNN has a fast kernel for that.
    /// For some shapes it has none (5x5 depthwise on AVX2: only "ref:any", ~30x slower than
    /// its gemm kernel on plain layouts); then it picks its layouts and `backwardWeights`
    /// converts the inputs and the gradient.
    private func makeBackwardWeights() -> Primitive {
        let candidates: [(TensorLayout, TensorLayout)] = [
            (sourceLayout, weightsLayout), (.any(spec.input), .any(spec.weightShape)),
        ]
        var chosen: Primitive?
        for (src, diffWeights) in candidates {
            guard let p = makeBackwardWeights(source: src, weightsGradient: diffWeights) else { continue }
            chosen = chosen ?? p
            if !p.implementation.hasPrefix("ref") { return p }
        }
        guard let chosen else { fatalError("oneDNN has no backward-weights convolution for \(spec)") }
        return chosen
    }

    private func makeBackwardWeights(source: TensorLayout, weightsGradient: TensorLayout) -> Primitive? {
        var desc = dnnl_convolution_desc_t()
        var src = source.desc
        var diffWeights = weightsGradient.desc
        var diffBias = TensorLayout.rowMajor([spec.outputChannels]).desc
        var diffDst = TensorLayout.any(spec.output).desc
        let status = withUnsafePointer(to: &diffBias) { biasPointer in
            dnnl_convolution_backward_weights_desc_init(
                &desc, dnnl_convolution_direct, &src, &diffWeights, spec.hasBias ? biasPointer : nil, &diffDst,
                dims(spec.stride), dims([spec.padding[0], spec.padding[2]]), dims([spec.padding[1], spec.padding[3]]))
        }
        check(status, "describing convolution backward weights \(spec)")
        return makePrimitive(&desc, hint: forwardPrimitive)
    }

    /// Implementations chosen for forward, backward data and backward weights (for benchmarks).
    public var implementations: (forward: String, backwardData: String, backwardWeights: String) {
        (forwardPrimitive.implementation, backwardDataPrimitive.implementation, backwardWeightsPrimitive.implementation)
    }
}

/// Kernels (groups of primitives for one layer shape), keyed like primitives.
final class KernelCache: @unchecked Sendable {  // unchecked: state behind `lock`
    static let shared = KernelCache()
    private var entries: [PrimitiveKey: AnyObject] = [:]
    private let lock = NSLock()

    func kernel<K: AnyObject>(_ key: PrimitiveKey, create: () -> K) -> K {
        if let hit = lock.withLock({ entries[key] }) as? K { return hit }
        let made = create()
        lock.withLock { entries[key] = made }
        return made
    }
}
