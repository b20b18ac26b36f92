import CDNNL
import Foundation

/// Clipping fused after an int8 primitive's output scaling, in destination units (ReLU6 on
/// an int8 destination is clip(0, 6 / scale)).
public struct Int8Clip: Hashable, Sendable {
    public var lower: Float
    public var upper: Float

    public init(lower: Float, upper: Float) {
        self.lower = lower
        self.upper = upper
    }
}

/// What an int8 convolution computes. Its source is u8 (after ReLU) or s8 (signed) and its
/// weights s8, channels-last (NHWC) as oneDNN's int8 kernels prefer; it accumulates in s32:
///
///     dst = clip(outputScales[oc] * (sum(src * weights) + bias[oc]) + sumScale * dst)
///
/// rounded to nearest-even and saturated to the destination type (u8, s8 or f32). The bias
/// is f32 in accumulator units (oneDNN 2.x adds it before scaling); the `sum` post-op adds
/// a residual already in the destination; scales per output channel go in as attributes.
public struct Int8ConvolutionSpec: Hashable, Sendable {
    public var convolution: ConvolutionSpec
    public var source: DataType
    public var destination: DataType
    public var outputScales: [Float]
    public var sumScale: Float?
    public var clip: Int8Clip?

    public init(convolution: ConvolutionSpec, source: DataType, destination: DataType, outputScales: [Float],
                sumScale: Float? = nil, clip: Int8Clip? = nil) {
        self.convolution = convolution; self.source = source; self.destination = destination
        self.outputScales = outputScales; self.sumScale = sumScale; self.clip = clip
    }

    var key: PrimitiveKey {
        PrimitiveKey("conv-int8-\(source.rawValue)-\(destination.rawValue)", [],
                     convolution.numbers + int8PostOpNumbers(sumScale: sumScale, clip: clip, relu: false)
                         + outputScales.map(Double.init))
    }
}

/// oneDNN's int8 convolution (including depthwise, as grouped) for one spec: inference only.
public final class Int8ConvolutionKernel: @unchecked Sendable {  // unchecked: immutable but for its locked scratch
    public let spec: Int8ConvolutionSpec
    private let primitive: Primitive
    private let scratch = ReorderScratch()

    /// A kernel from the shared cache (creating one costs milliseconds).
    public static func cached(_ spec: Int8ConvolutionSpec) throws -> Int8ConvolutionKernel {
        try KernelCache.shared.kernel(spec.key) { try Int8ConvolutionKernel(spec) }
    }

    init(_ spec: Int8ConvolutionSpec) throws {
        let conv = spec.convolution
        try Tensor.checkAllocatable(.rowMajor(conv.output))
        guard spec.outputScales.count == conv.outputChannels || spec.outputScales.count == 1 else {
            throw DNNLError(operation: "describing an int8 convolution \(conv)",
                            status: "\(spec.outputScales.count) output scales for \(conv.outputChannels) channels")
        }
        self.spec = spec
        var desc = dnnl_convolution_desc_t()
        var src = TensorLayout.nhwc(conv.input, spec.source).desc
        var weights = TensorLayout.any(conv.weightShape, .int8).desc
        var bias = TensorLayout.rowMajor([conv.outputChannels]).desc
        var dst = TensorLayout.nhwc(conv.output, spec.destination).desc
        try check(dnnl_convolution_forward_desc_init(
            &desc, dnnl_forward_inference, dnnl_convolution_direct, &src, &weights, &bias, &dst,
            dims(conv.stride), dims([conv.padding[0], conv.padding[2]]), dims([conv.padding[1], conv.padding[3]])),
                  "describing an int8 convolution \(conv)")
        let attributes = try Int8Attributes(outputScales: spec.outputScales, sumScale: spec.sumScale, clip: spec.clip)
        primitive = try required(attributes.primitive(&desc), "an int8 convolution for \(conv)")
    }

    public var sourceLayout: TensorLayout { primitive.layout(of: DNNL_ARG_SRC) }
    /// The s8 weights layout the kernel reads (with oneDNN's compensation for s8 sources).
    public var weightsLayout: TensorLayout { primitive.layout(of: DNNL_ARG_WEIGHTS) }
    /// The layout of the destination: with a `sum` post-op the caller fills it with the
    /// residual first, so it must be this one exactly.
    public var destinationLayout: TensorLayout { primitive.layout(of: DNNL_ARG_DST) }
    public var implementation: String { primitive.implementation }

    /// Logical s8 weights (row-major, `ConvolutionSpec.weightShape`) in the kernel's layout.
    public func prepareWeights(_ rowMajor: Tensor) throws -> Tensor {
        guard rowMajor.dataType == .int8, rowMajor.shape == spec.convolution.weightShape else {
            throw TensorError.shapeMismatch(operation: "preparing int8 convolution weights",
                                            expected: spec.convolution.weightShape, found: rowMajor.shape)
        }
        let prepared = try Tensor(layout: weightsLayout)
        try DNNL.singleThreaded { try prepared.assign(rowMajor) }
        return prepared
    }

    /// Runs the convolution; `destination` must be in `destinationLayout` (it holds the residual
    /// when the spec has a `sumScale`), `weights` from `prepareWeights`.
    public func forward(source: Tensor, weights: Tensor, bias: Tensor, destination: Tensor) throws {
        guard destination.layout == destinationLayout else {
            throw TensorError.shapeMismatch(operation: "int8 convolution into \(destination.layout)",
                                            expected: destinationLayout.shape, found: destination.shape)
        }
        try primitive.run([(DNNL_ARG_SRC, source), (DNNL_ARG_WEIGHTS, weights), (DNNL_ARG_BIAS, bias),
                           (DNNL_ARG_DST, destination)], scratch: scratch)
    }
}

/// A cache key's numbers for int8 post-ops (no NaN placeholders: NaN never equals itself).
func int8PostOpNumbers(sumScale: Float?, clip: Int8Clip?, relu: Bool) -> [Double] {
    [sumScale == nil ? 0 : 1, Double(sumScale ?? 0), clip == nil ? 0 : 1, Double(clip?.lower ?? 0),
     Double(clip?.upper ?? 0), relu ? 1 : 0]
}

/// Attributes of an int8 primitive: the user scratchpad (as every Petal primitive), output
/// scales (one, or one per output channel: mask on dimension 1), and post-ops.
final class Int8Attributes {
    private let attributes: PrimitiveAttributes

    init(outputScales: [Float], sumScale: Float?, clip: Int8Clip?, relu: Bool = false) throws {
        attributes = try PrimitiveAttributes()
        let attr = attributes.handle
        let mask: Int32 = outputScales.count == 1 ? 0 : 1 << 1
        try check(dnnl_primitive_attr_set_output_scales(attr, Int64(outputScales.count), mask, outputScales),
                  "setting \(outputScales.count) output scales")
        guard sumScale != nil || clip != nil || relu else { return }
        var postOps: dnnl_post_ops_t?
        try check(dnnl_post_ops_create(&postOps), "creating post-ops")
        defer { dnnl_post_ops_destroy(postOps) }
        if let sumScale { try check(dnnl_post_ops_append_sum(postOps, sumScale), "appending a sum post-op") }
        if let clip {
            try check(dnnl_post_ops_append_eltwise(postOps, 1, dnnl_eltwise_clip, clip.lower, clip.upper),
                      "appending a clip post-op")
        }
        if relu { try check(dnnl_post_ops_append_eltwise(postOps, 1, dnnl_eltwise_relu, 0, 0), "appending a ReLU post-op") }
        try check(dnnl_primitive_attr_set_post_ops(attr, postOps), "setting post-ops")
    }

    /// The primitive for an initialised operation descriptor, or nil without an implementation.
    func primitive(_ opDesc: UnsafeRawPointer) throws -> Primitive? {
        var pd: dnnl_primitive_desc_t?
        let status = dnnl_primitive_desc_create(&pd, opDesc, attributes.handle, try DNNL.engine(), nil)
        guard status == dnnl_success, let pd else { return nil }
        return try Primitive(descriptor: pd)
    }
}
