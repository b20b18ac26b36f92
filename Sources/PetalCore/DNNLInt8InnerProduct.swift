import CDNNL
import Foundation

/// oneDNN's int8 inner product (a quantized Dense): (N, I) u8 or s8 source, (O, I) s8
/// weights, s32 accumulation, f32 destination (N, O):
///
///     dst = relu?(outputScales[o] * (sum(src * weights) + bias[o]))
///
/// with the bias f32 in accumulator units, as for `Int8ConvolutionKernel`.
public final class Int8InnerProductKernel: @unchecked Sendable {  // unchecked: immutable but for its locked scratch
    public let batch: Int, inputs: Int, outputs: Int
    public let source: DataType
    private let primitive: Primitive
    private let scratch = ReorderScratch()

    public static func cached(batch: Int, inputs: Int, outputs: Int, source: DataType, outputScales: [Float],
                              relu: Bool) throws -> Int8InnerProductKernel {
        let key = PrimitiveKey("ip-int8-\(source.rawValue)", [],
                               [batch, inputs, outputs].map(Double.init)
                                   + int8PostOpNumbers(sumScale: nil, clip: nil, relu: relu) + outputScales.map(Double.init))
        return try KernelCache.shared.kernel(key) {
            try Int8InnerProductKernel(batch: batch, inputs: inputs, outputs: outputs, source: source,
                                       outputScales: outputScales, relu: relu)
        }
    }

    init(batch: Int, inputs: Int, outputs: Int, source: DataType, outputScales: [Float], relu: Bool) throws {
        try Tensor.checkAllocatable(.rowMajor([batch, outputs]))
        guard outputScales.count == outputs || outputScales.count == 1 else {
            throw DNNLError(operation: "describing an int8 inner product \(inputs) -> \(outputs)",
                            status: "\(outputScales.count) output scales for \(outputs) outputs")
        }
        self.batch = batch; self.inputs = inputs; self.outputs = outputs; self.source = source
        var desc = dnnl_inner_product_desc_t()
        var src = TensorLayout.rowMajor([batch, inputs], source).desc
        var weights = TensorLayout.any([outputs, inputs], .int8).desc
        var bias = TensorLayout.rowMajor([outputs]).desc
        var dst = TensorLayout.rowMajor([batch, outputs]).desc
        try check(dnnl_inner_product_forward_desc_init(&desc, dnnl_forward_inference, &src, &weights, &bias, &dst),
                  "describing an int8 inner product \(inputs) -> \(outputs)")
        let attributes = try Int8Attributes(outputScales: outputScales, sumScale: nil, clip: nil, relu: relu)
        primitive = try required(attributes.primitive(&desc), "an int8 inner product \(batch)x\(inputs) -> \(outputs)")
    }

    public var weightsLayout: TensorLayout { primitive.layout(of: DNNL_ARG_WEIGHTS) }
    public var implementation: String { primitive.implementation }

    /// Row-major s8 (O, I) weights in the kernel's layout.
    public func prepareWeights(_ rowMajor: Tensor) throws -> Tensor {
        guard rowMajor.dataType == .int8, rowMajor.shape == [outputs, inputs] else {
            throw TensorError.shapeMismatch(operation: "preparing int8 inner-product weights",
                                            expected: [outputs, inputs], found: rowMajor.shape)
        }
        let prepared = try Tensor(layout: weightsLayout)
        try DNNL.singleThreaded { try prepared.assign(rowMajor) }
        return prepared
    }

    public func forward(source: Tensor, weights: Tensor, bias: Tensor, destination: Tensor) throws {
        try primitive.run([(DNNL_ARG_SRC, source), (DNNL_ARG_WEIGHTS, weights), (DNNL_ARG_BIAS, bias),
                           (DNNL_ARG_DST, destination)], scratch: scratch)
    }
}

/// Quantizes (f32 to u8/s8: round(x / scale), saturated) or converts between layouts with a
/// scale, through oneDNN's reorder with an output scale of 1 / scale.
public enum Int8Reorder {
    /// Writes `source` scaled by `multiplier` into `destination` (any types and layouts of one shape).
    public static func run(from source: Tensor, to destination: Tensor, multiplier: Float) throws {
        let key = PrimitiveKey("reorder-scaled", [source.layout, destination.layout], [Double(multiplier)])
        let primitive = try PrimitiveCache.shared.primitive(key) {
            var pd: dnnl_primitive_desc_t?
            var src = source.layout.desc, dst = destination.layout.desc
            let engine = try DNNL.engine()
            let attributes = try PrimitiveAttributes()
            try check(dnnl_primitive_attr_set_output_scales(attributes.handle, 1, 0, [multiplier]),
                      "setting a reorder's scale")
            try check(dnnl_reorder_primitive_desc_create(&pd, &src, engine, &dst, engine, attributes.handle),
                      "describing a scaled reorder \(source.layout) -> \(destination.layout)")
            return try Primitive(descriptor: pd!)
        }
        try primitive.execute([(DNNL_ARG_FROM, source), (DNNL_ARG_TO, destination)])
    }
}
