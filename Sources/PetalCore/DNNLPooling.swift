import CDNNL

/// What a max pooling computes: input (N, C, H, W), square window, stride, symmetric padding
/// (PyTorch's MaxPool2d, floor mode: padded positions never win).
public struct MaxPoolSpec: Hashable, Sendable {
    public var input: [Int]
    public var kernel: Int
    public var stride: Int
    public var padding: Int

    public init(input: [Int], kernel: Int, stride: Int, padding: Int) {
        self.input = input; self.kernel = kernel; self.stride = stride; self.padding = padding
    }

    public var output: [Int] {
        let size = { (x: Int) in (x + 2 * self.padding - self.kernel) / self.stride + 1 }
        return [input[0], input[1], size(input[2]), size(input[3])]
    }

    var numbers: [Double] { (input + [kernel, stride, padding]).map(Double.init) }
}

/// oneDNN's max pooling over one source layout. Training keeps a workspace (where each
/// maximum came from) for the backward pass; inference needs none.
public final class MaxPoolKernel: @unchecked Sendable {  // unchecked: immutable but for its scratch and lazy primitives, both locked
    public let spec: MaxPoolSpec
    public let layout: TensorLayout
    public let training: Bool
    private let forwardPrimitive: Primitive
    private let backwardPrimitive = LazyPrimitive()
    private let scratch = ReorderScratch()

    public static func cached(_ spec: MaxPoolSpec, layout: TensorLayout, training: Bool) throws -> MaxPoolKernel {
        let key = PrimitiveKey("maxpool\(training ? "T" : "I")", [layout], spec.numbers)
        return try KernelCache.shared.kernel(key) { try MaxPoolKernel(spec, layout: layout, training: training) }
    }

    init(_ spec: MaxPoolSpec, layout: TensorLayout, training: Bool) throws {
        try Tensor.checkAllocatable(.rowMajor(spec.output))
        self.spec = spec
        self.layout = layout
        self.training = training
        var desc = dnnl_pooling_v2_desc_t()
        var src = layout.desc
        var dst = TensorLayout.any(spec.output).desc
        try check(dnnl_pooling_v2_forward_desc_init(&desc, training ? dnnl_forward_training : dnnl_forward_inference,
                                                    dnnl_pooling_max, &src, &dst, dims([spec.stride, spec.stride]),
                                                    dims([spec.kernel, spec.kernel]), dims([0, 0]),
                                                    dims([spec.padding, spec.padding]), dims([spec.padding, spec.padding])),
                  "describing max pooling over \(layout)")
        forwardPrimitive = try required(makePrimitive(&desc), "\(Self.self) over \(layout)")
    }

    public var destinationLayout: TensorLayout { forwardPrimitive.layout(of: DNNL_ARG_DST) }
    /// The workspace a training forward fills and its backward reads.
    public var workspaceLayout: TensorLayout { forwardPrimitive.layout(of: DNNL_ARG_WORKSPACE) }

    /// `workspace` (of `workspaceLayout`) is needed when the kernel was made for training.
    public func forward(source: Tensor, destination: Tensor, workspace: Tensor?) throws {
        var arguments = [(DNNL_ARG_SRC, source), (DNNL_ARG_DST, destination)]
        if training, let workspace { arguments.append((DNNL_ARG_WORKSPACE, workspace)) }
        try forwardPrimitive.run(arguments, scratch: scratch)
    }

    /// Routes each output's gradient to the input position that held its maximum.
    public func backward(destinationGradient: Tensor, workspace: Tensor, sourceGradient: Tensor) throws {
        try backwardPrimitive.get(makeBackward)
            .run([(DNNL_ARG_DIFF_DST, destinationGradient), (DNNL_ARG_WORKSPACE, workspace),
                  (DNNL_ARG_DIFF_SRC, sourceGradient)], scratch: scratch)
    }

    private func makeBackward() throws -> Primitive {
        var desc = dnnl_pooling_v2_desc_t()
        var diffSrc = layout.desc
        var diffDst = destinationLayout.desc
        let p = dims([spec.padding, spec.padding])
        try check(dnnl_pooling_v2_backward_desc_init(&desc, dnnl_pooling_max, &diffSrc, &diffDst,
                                                     dims([spec.stride, spec.stride]), dims([spec.kernel, spec.kernel]),
                                                     dims([0, 0]), p, p),
                  "describing max pooling backward")
        return try required(makePrimitive(&desc, hint: forwardPrimitive), "\(Self.self) backward")
    }
}

/// Channel-wise scaling, `x * s` with s of shape (N, C, 1, 1) broadcast over H and W
/// (squeeze-and-excitation's last step), on oneDNN's binary multiply.
public final class ChannelScaleKernel: @unchecked Sendable {  // unchecked: immutable but for its scratch, locked
    public let layout: TensorLayout
    private let primitive: Primitive
    private let scratch = ReorderScratch()

    public static func cached(layout: TensorLayout) throws -> ChannelScaleKernel {
        try KernelCache.shared.kernel(PrimitiveKey("channel-scale", [layout])) { try ChannelScaleKernel(layout: layout) }
    }

    init(layout: TensorLayout) throws {
        self.layout = layout
        var desc = dnnl_binary_desc_t()
        var a = layout.desc, c = layout.desc
        var b = TensorLayout.rowMajor(Self.scaleShape(layout.shape)).desc
        try check(dnnl_binary_desc_init(&desc, dnnl_binary_mul, &a, &b, &c), "describing channel scaling over \(layout)")
        primitive = try required(makePrimitive(&desc), "\(Self.self) over \(layout)")
    }

    /// (N, C, 1, 1) for an (N, C, H, W) tensor.
    public static func scaleShape(_ shape: [Int]) -> [Int] { [shape[0], shape[1], 1, 1] }

    /// destination = source * scale (scale converted to row-major if needed).
    public func forward(source: Tensor, scale: Tensor, destination: Tensor) throws {
        try primitive.run([(DNNL_ARG_SRC_0, source), (DNNL_ARG_SRC_1, scale), (DNNL_ARG_DST, destination)], scratch: scratch)
    }
}
