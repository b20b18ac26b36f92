import Foundation
import PetalCore

/// How a tensor between quantized layers is stored: `real = scale * q` with zero point 0
/// (symmetric s8 where values can be negative, u8 after ReLU), or plain f32 (scale 1).
public struct QuantizedType: Codable, Hashable, Sendable {
    public var dataType: DataType
    public var scale: Float

    public init(_ dataType: DataType, scale: Float) {
        self.dataType = dataType
        self.scale = scale
    }

    public static let float32 = QuantizedType(.float32, scale: 1)
    public var isQuantized: Bool { dataType != .float32 }
}

/// Per-output-channel symmetric int8 weights: `real[o, ...] = scales[o] * q[o, ...]`.
public struct Int8Weights: Sendable {
    /// Row-major s8 values in the float layer's logical shape.
    public let values: Tensor
    public let scales: [Float]

    public init(values: Tensor, scales: [Float]) {
        self.values = values
        self.scales = scales
    }

    /// Quantizes row-major float weights whose first axis (or first two, grouped) is the
    /// output channel: scale = max |w| / 127 per channel, round to nearest even.
    public init(quantizing weights: [Float], shape: [Int], outputChannels: Int) throws {
        let per = weights.count / outputChannels
        var scales = [Float](repeating: 1, count: outputChannels)
        let tensor = try Tensor(layout: .rowMajor(shape, .int8))
        let bytes = tensor.bytes
        for o in 0..<outputChannels {
            let slice = weights[(o * per)..<((o + 1) * per)]
            let largest = slice.reduce(0) { max($0, abs($1)) }
            let scale = largest > 0 ? largest / 127 : 1
            scales[o] = scale
            for (i, w) in slice.enumerated() {
                let q = min(max((w / scale).rounded(.toNearestOrEven), -127), 127)
                bytes[o * per + i] = UInt8(bitPattern: Int8(q))
            }
        }
        self.init(values: tensor, scales: scales)
    }

    /// The dequantized weights (for references and exports).
    public func dequantized() -> [Float] {
        let per = values.count / scales.count
        return withExtendedLifetime(values) {
            values.bytes.prefix(values.count).enumerated().map { i, b in Float(Int8(bitPattern: b)) * scales[i / per] }
        }
    }
}

/// Weights converted once per kernel layout (batch sizes share one), for any thread.
final class PreparedWeights: @unchecked Sendable {  // unchecked: `byLayout` behind `lock`
    private let lock = NSLock()
    private var byLayout: [[UInt8]: Tensor] = [:]

    func tensor(_ layout: TensorLayout, prepare: () throws -> Tensor) throws -> Tensor {
        try lock.withLock {
            if let hit = byLayout[layout.key] { return hit }
            let made = try prepare()
            byLayout[layout.key] = made
            return made
        }
    }
}

/// A convolution with its batch norm folded in, an optional ReLU/ReLU6 and an optional
/// residual Add, on oneDNN's int8 kernels (`Int8ConvolutionKernel`): one primitive for
/// what is up to four float layers. Keeps no state per call (thread-safe inference).
public final class QuantizedConv2D: Sendable {
    public let name: String
    /// The convolution for a batch of one (explicit padding, bias).
    public let spec: ConvolutionSpec
    public let weights: Int8Weights
    /// The folded float bias.
    public let bias: [Float]
    public let activation: FusedActivation?
    public let input: QuantizedType
    public let output: QuantizedType
    /// The type of the residual added to the output, when there is one.
    public let residual: QuantizedType?
    private let accumulatorBias: Tensor
    private let prepared = PreparedWeights()

    public init(name: String, spec: ConvolutionSpec, weights: Int8Weights, bias: [Float], activation: FusedActivation?,
                input: QuantizedType, output: QuantizedType, residual: QuantizedType?) throws {
        guard input.isQuantized, bias.count == spec.outputChannels, weights.scales.count == spec.outputChannels,
              weights.values.shape == spec.weightShape else {
            throw LayerError.invalidConfiguration(layer: name, reason: "int8 weights, scales or bias do not fit \(spec)")
        }
        guard activation == nil || activation == .relu || activation == .relu6 else {
            throw LayerError.invalidConfiguration(layer: name, reason: "activation \(activation!.rawValue) cannot be quantized (only ReLU and ReLU6)")
        }
        self.name = name; self.spec = spec; self.weights = weights; self.bias = bias
        self.activation = activation; self.input = input; self.output = output; self.residual = residual
        // oneDNN 2.x adds the bias before the output scale: in accumulator units.
        accumulatorBias = try Tensor(shape: [spec.outputChannels],
                                     values: bias.indices.map { bias[$0] / (input.scale * weights.scales[$0]) })
    }

    /// The oneDNN spec for a batch of `n`.
    func kernelSpec(batch n: Int) -> Int8ConvolutionSpec {
        var conv = spec
        conv.input[0] = n
        let upper: Float? = switch activation {
        case .relu6: 6 / output.scale
        case .relu: .greatestFiniteMagnitude
        default: nil  // no other activation passes init
        }
        return Int8ConvolutionSpec(
            convolution: conv, source: input.dataType, destination: output.dataType,
            outputScales: weights.scales.map { input.scale * $0 / output.scale },
            sumScale: residual.map { sameStorage($0) ? $0.scale / output.scale : 1 },
            clip: upper.map { Int8Clip(lower: 0, upper: $0) })
    }

    /// A residual of the output's own type is copied into the destination and scaled by the
    /// sum post-op (exact); of another type, it is converted with the scale first.
    private func sameStorage(_ residual: QuantizedType) -> Bool { residual.dataType == output.dataType }

    /// The convolution of `source` (f32 is quantized first) plus `residualValue` if the
    /// layer has a residual; a new tensor (from `buffers`) in the kernel's NHWC layout.
    public func infer(_ source: Tensor, residual residualValue: Tensor? = nil, buffers: TensorPool? = nil) throws -> Tensor {
        let kernel = try Int8ConvolutionKernel.cached(kernelSpec(batch: source.shape[0]))
        let w = try prepared.tensor(kernel.weightsLayout) { try kernel.prepareWeights(weights.values) }
        let x = try quantize(source, to: kernel.sourceLayout, type: input, buffers: buffers)
        defer { if x !== source { buffers?.giveBack(x) } }
        let y = try newTensor(kernel.destinationLayout, buffers)
        if let residual, let residualValue {
            if sameStorage(residual) {
                try y.assign(residualValue)
            } else {
                try Int8Reorder.run(from: residualValue, to: y, multiplier: residual.scale / output.scale)
            }
        }
        try kernel.forward(source: x, weights: w, bias: accumulatorBias, destination: y)
        return y
    }
}

/// A Dense layer on oneDNN's int8 inner product: its float input quantized with a
/// calibrated scale, s8 weights per output, f32 output (optionally ReLU). Thread-safe.
public final class QuantizedDense: Sendable {
    public let name: String
    public let weights: Int8Weights
    public let bias: [Float]
    public let relu: Bool
    public let input: QuantizedType
    private let accumulatorBias: Tensor
    private let prepared = PreparedWeights()

    public init(name: String, weights: Int8Weights, bias: [Float], relu: Bool, input: QuantizedType) throws {
        guard input.isQuantized, weights.values.shape.count == 2, weights.scales.count == weights.values.shape[0],
              bias.count == weights.scales.count else {
            throw LayerError.invalidConfiguration(layer: name, reason: "int8 weights, scales or bias do not fit")
        }
        self.name = name; self.weights = weights; self.bias = bias; self.relu = relu; self.input = input
        accumulatorBias = try Tensor(shape: [bias.count],
                                     values: bias.indices.map { bias[$0] / (input.scale * weights.scales[$0]) })
    }

    public var units: Int { weights.values.shape[0] }
    public var inputs: Int { weights.values.shape[1] }

    public func infer(_ source: Tensor, buffers: TensorPool? = nil) throws -> Tensor {
        let n = source.shape[0]
        guard source.shape == [n, inputs] else {
            throw LayerError.shapeMismatch(what: "input of \(name)", expected: [n, inputs], found: source.shape)
        }
        let kernel = try Int8InnerProductKernel.cached(batch: n, inputs: inputs, outputs: units, source: input.dataType,
                                                       outputScales: weights.scales.map { input.scale * $0 }, relu: relu)
        let w = try prepared.tensor(kernel.weightsLayout) { try kernel.prepareWeights(weights.values) }
        let x = try quantize(source, to: .rowMajor([n, inputs], input.dataType), type: input, buffers: buffers)
        defer { if x !== source { buffers?.giveBack(x) } }
        let y = try newTensor(.rowMajor([n, units]), buffers)
        try kernel.forward(source: x, weights: w, bias: accumulatorBias, destination: y)
        return y
    }
}

/// `source` in `layout` as `type`: itself when it already is; else quantized (from f32) or
/// converted (another layout of the same type) into a tensor from `buffers`.
func quantize(_ source: Tensor, to layout: TensorLayout, type: QuantizedType, buffers: TensorPool?) throws -> Tensor {
    if source.layout == layout { return source }
    let x = try newTensor(layout, buffers)
    if source.dataType == .float32 {
        try Int8Reorder.run(from: source, to: x, multiplier: 1 / type.scale)
    } else {
        guard source.dataType == layout.dataType else {
            throw LayerError.shapeMismatch(what: "a \(source.dataType) tensor given as \(layout.dataType)",
                                           expected: layout.shape, found: source.shape)
        }
        try x.assign(source)
    }
    return x
}

extension Conv2D {
    /// Row-major weights and bias with a following batch norm folded in (the inference
    /// path's own folding), as the quantizer takes them.
    public func foldedWeights(batchNorm: BatchNormalization?) throws -> (weights: [Float], bias: [Float]) {
        if let batchNorm {
            let (w, b) = try foldBatchNorm(batchNorm)
            return (try w.toArray(), try b.toArray())
        }
        return (try weight.value.toArray(), try bias?.value.toArray() ?? Array(repeating: 0, count: filters))
    }
}
