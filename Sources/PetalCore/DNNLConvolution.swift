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
        // Conv2D builds every spec from its own fixed-size arrays: no input reaches this.
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
public final class ConvolutionKernel: @unchecked Sendable {  // unchecked: immutable but for its scratch and lazy primitives, both locked
    public let spec: ConvolutionSpec
    let forwardPrimitive: Primitive
    private let backwardDataPrimitive = LazyPrimitive()
    private let backwardWeightsPrimitive = LazyPrimitive()
    private let scratch = ReorderScratch()
    /// Depthwise kernels larger than 3x3 compute their weight gradient in Swift (see there).
    private let depthwiseWeightsGradient: DepthwiseWeightsGradient?

    /// A kernel from the shared cache: creating one costs milliseconds, executing it is the work.
    public static func cached(_ spec: ConvolutionSpec, training: Bool, activation: FusedActivation? = nil)
        throws -> ConvolutionKernel {
        let key = PrimitiveKey("conv\(training ? "T" : "I")\(activation?.rawValue ?? "")", [], spec.numbers)
        return try KernelCache.shared.kernel(key) {
            try ConvolutionKernel(spec, training: training, activation: activation)
        }
    }

    init(_ spec: ConvolutionSpec, training: Bool, activation: FusedActivation?) throws {
        // A convolution's output can be far larger than its input (a huge image size): say so
        // before oneDNN plans a primitive for it (its 32-bit arithmetic fails on such sizes).
        try Tensor.checkAllocatable(.rowMajor(spec.output))
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
        try check(status, "describing convolution \(spec)")
        guard let primitive = try makePrimitive(&desc, activation: activation) else {
            throw DNNLError(operation: "creating a convolution for \(spec)", status: "no implementation")
        }
        forwardPrimitive = primitive
        depthwiseWeightsGradient = training && DepthwiseWeightsGradient.applies(to: spec)
            ? DepthwiseWeightsGradient(spec) : nil
    }

    public var sourceLayout: TensorLayout { forwardPrimitive.layout(of: DNNL_ARG_SRC) }
    public var weightsLayout: TensorLayout { forwardPrimitive.layout(of: DNNL_ARG_WEIGHTS) }
    public var destinationLayout: TensorLayout { forwardPrimitive.layout(of: DNNL_ARG_DST) }
    public var implementation: String { forwardPrimitive.implementation }

    /// dst = conv(src, weights) + bias, activation applied if the kernel fuses one.
    public func forward(source: Tensor, weights: Tensor, bias: Tensor?, destination: Tensor) throws {
        var args: [(Int32, Tensor)] = [(DNNL_ARG_SRC, source), (DNNL_ARG_WEIGHTS, weights), (DNNL_ARG_DST, destination)]
        if let bias { args.append((DNNL_ARG_BIAS, bias)) }
        try forwardPrimitive.run(args, scratch: scratch)
    }

    private func backwardData() throws -> Primitive { try backwardDataPrimitive.get(makeBackwardData) }
    private func backwardWeights() throws -> Primitive { try backwardWeightsPrimitive.get(makeBackwardWeights) }

    /// The layout backward-by-data writes its input gradient in.
    public func sourceGradientLayout() throws -> TensorLayout { try backwardData().layout(of: DNNL_ARG_DIFF_SRC) }
    /// The weights layout backward-by-data reads: usually `weightsLayout`, see makeBackwardData.
    public func backwardDataWeightsLayout() throws -> TensorLayout { try backwardData().layout(of: DNNL_ARG_WEIGHTS) }

    /// diffSource = the gradient of the loss with respect to the source.
    public func backwardData(destinationGradient: Tensor, weights: Tensor, sourceGradient: Tensor) throws {
        try backwardData().run([(DNNL_ARG_DIFF_DST, destinationGradient), (DNNL_ARG_WEIGHTS, weights),
                                (DNNL_ARG_DIFF_SRC, sourceGradient)], scratch: scratch)
    }

    /// Weight (and bias) gradients, written in the weights' own layout (overwritten, not accumulated).
    public func backwardWeights(source: Tensor, destinationGradient: Tensor, weightsGradient: Tensor,
                                biasGradient: Tensor?) throws {
        if let depthwise = depthwiseWeightsGradient {
            try depthwise.compute(source: source, destinationGradient: destinationGradient,
                                  weightsGradient: weightsGradient)
            return
        }
        // The primitive may write the gradient in its own layout (see makeBackwardWeights).
        let primitive = try backwardWeights()
        let own = primitive.layout(of: DNNL_ARG_DIFF_WEIGHTS)
        let written = weightsGradient.layout == own ? weightsGradient : try scratch.borrow(own, slot: Self.ownGradientSlot)
        defer { if written !== weightsGradient { scratch.giveBack(written, slot: Self.ownGradientSlot) } }
        var args: [(Int32, Tensor)] = [(DNNL_ARG_SRC, source), (DNNL_ARG_DIFF_DST, destinationGradient),
                                       (DNNL_ARG_DIFF_WEIGHTS, written)]
        if let biasGradient { args.append((DNNL_ARG_DIFF_BIAS, biasGradient)) }
        try primitive.run(args, scratch: scratch)
        if written !== weightsGradient { try DNNL.singleThreaded { try weightsGradient.assign(written) } }
    }

    /// The scratch slot of a weight gradient in the primitive's own layout (not an argument number).
    private static let ownGradientSlot: Int32 = -1

    /// Backward by data reads the weights in the forward layout when oneDNN has a fast
    /// kernel for it (no reorder per step). For some shapes it has none (the 3-channel stem's
    /// forward layout gets only "ref:any", ~100x slower); then it picks its own weights
    /// layout (`backwardDataWeightsLayout`) and the caller converts the (small) weights.
    private func makeBackwardData() throws -> Primitive {
        if let p = try makeBackwardData(weights: weightsLayout), !p.implementation.hasPrefix("ref") { return p }
        guard let p = try makeBackwardData(weights: .any(spec.weightShape)) else {
            throw DNNLError(operation: "creating a backward-data convolution for \(spec)", status: "no implementation")
        }
        return p
    }

    private func makeBackwardData(weights weightsLayout: TensorLayout) throws -> Primitive? {
        var desc = dnnl_convolution_desc_t()
        var diffSrc = TensorLayout.any(spec.input).desc
        var weights = weightsLayout.desc
        var diffDst = TensorLayout.any(spec.output).desc
        try check(dnnl_convolution_backward_data_desc_init(
            &desc, dnnl_convolution_direct, &diffSrc, &weights, &diffDst,
            dims(spec.stride), dims([spec.padding[0], spec.padding[2]]), dims([spec.padding[1], spec.padding[3]])),
                  "describing convolution backward data \(spec)")
        return try makePrimitive(&desc, hint: forwardPrimitive)
    }

    /// Backward by weights writes the gradient in the weights' own layout (optimizers update
    /// in place) and reads the source as forward does, when oneDNN has a fast kernel for that.
    /// For some shapes it has none (5x5 depthwise on AVX2: only "ref:any", ~30x slower than
    /// its gemm kernel on plain layouts); then it picks its layouts and `backwardWeights`
    /// converts the inputs and the gradient.
    private func makeBackwardWeights() throws -> Primitive {
        let candidates: [(TensorLayout, TensorLayout)] = [
            (sourceLayout, weightsLayout), (.any(spec.input), .any(spec.weightShape)),
        ]
        var chosen: Primitive?
        for (src, diffWeights) in candidates {
            guard let p = try makeBackwardWeights(source: src, weightsGradient: diffWeights) else { continue }
            chosen = chosen ?? p
            if !p.implementation.hasPrefix("ref") { return p }
        }
        guard let chosen else {
            throw DNNLError(operation: "creating a backward-weights convolution for \(spec)", status: "no implementation")
        }
        return chosen
    }

    private func makeBackwardWeights(source: TensorLayout, weightsGradient: TensorLayout) throws -> Primitive? {
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
        try check(status, "describing convolution backward weights \(spec)")
        return try makePrimitive(&desc, hint: forwardPrimitive)
    }

    /// Implementations chosen for forward, backward data and backward weights (for benchmarks).
    public func implementations() throws -> (forward: String, backwardData: String, backwardWeights: String) {
        (forwardPrimitive.implementation, try backwardData().implementation, try backwardWeights().implementation)
    }
}

/// Kernels (groups of primitives for one layer shape), keyed like primitives.
final class KernelCache: @unchecked Sendable {  // unchecked: state behind `lock`
    static let shared = KernelCache()
    private var entries: [PrimitiveKey: AnyObject] = [:]
    private let lock = NSLock()

    func kernel<K: AnyObject>(_ key: PrimitiveKey, create: () throws -> K) rethrows -> K {
        if let hit = lock.withLock({ entries[key] }) as? K { return hit }
        let made = try create()
        lock.withLock { entries[key] = made }
        return made
    }
}
