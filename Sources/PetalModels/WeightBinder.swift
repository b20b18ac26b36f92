import PetalCore
import PetalLayers
import PetalWeights

/// How a weights file names and shapes a layer's tensors.
public enum WeightConvention: String, Codable, Sendable {
    /// Keras: `layer/kernel` in HWIO [kh, kw, in, out] (depthwise [kh, kw, C, 1], named
    /// `depthwise_kernel` by Keras 2), Dense [in, out], batch norm gamma, beta,
    /// moving_mean, moving_variance.
    case keras
    /// PyTorch state dicts: `layer.weight` in OIHW (depthwise [C, 1, kh, kw]), Linear
    /// [out, in], batch norm weight, bias, running_mean, running_var.
    case pytorch
    /// Petal's own files: each parameter under its own name, in its logical shape.
    case petal
}

/// Binds each layer's parameters to tensors of a store while the model is built (Candle's
/// VarBuilder): construction and loading are one walk, and a missing tensor or a wrong
/// shape is an error naming the tensor and both shapes. Without a store, layers keep
/// their own initial values.
public struct WeightBinder: Sendable {
    public let store: WeightStore?
    public let convention: WeightConvention
    /// Prefix of every name in the file (e.g. a nested Keras base model's name).
    public var prefix: String

    public init(store: WeightStore?, convention: WeightConvention, prefix: String = "") {
        self.store = store
        self.convention = convention
        self.prefix = prefix
    }

    /// A binder that leaves every layer as it was initialised.
    public static let none = WeightBinder(store: nil, convention: .petal)

    public func bind(_ conv: Conv2D) throws {
        guard let store else { return }
        let name = prefix + conv.name
        let (kh, kw) = (conv.kernelSize[0], conv.kernelSize[1])
        switch convention {
        case .petal:
            try load(conv.weight, store.take(conv.weight.name, shape: conv.weight.shape))
        case .pytorch:
            let torchShape = [conv.filters, conv.inputChannels / conv.groups, kh, kw]
            try load(conv.weight, store.take(name + ".weight", shape: torchShape).reshaped(conv.weight.shape))
        case .keras:
            let depthwise = conv.groups > 1
            let kerasShape = depthwise ? [kh, kw, conv.inputChannels, conv.filters / conv.groups]
                                       : [kh, kw, conv.inputChannels, conv.filters]
            let key = depthwise && !store.contains(name + "/kernel") ? name + "/depthwise_kernel" : name + "/kernel"
            let hwio = try store.take(key, shape: kerasShape)
            // HWIO -> OIHW; for depthwise (kh, kw, C, 1) -> (C, 1, 1, kh, kw).
            let out = try transpose(hwio, permutation: depthwise ? [2, 3, 0, 1] : [3, 2, 0, 1])
            try load(conv.weight, out.reshaped(conv.weight.shape))
        }
        if let bias = conv.bias { try bindVector(bias, layer: conv.name, keras: "bias", torch: "bias") }
    }

    public func bind(_ bn: BatchNormalization) throws {
        guard store != nil else { return }
        try bindVector(bn.gamma, layer: bn.name, keras: "gamma", torch: "weight")
        try bindVector(bn.beta, layer: bn.name, keras: "beta", torch: "bias")
        try bindVector(bn.movingMean, layer: bn.name, keras: "moving_mean", torch: "running_mean")
        try bindVector(bn.movingVariance, layer: bn.name, keras: "moving_variance", torch: "running_var")
    }

    public func bind(_ dense: Dense) throws {
        guard let store else { return }
        switch convention {
        case .petal: try load(dense.weight, store.take(dense.weight.name, shape: dense.weight.shape))
        case .pytorch: try load(dense.weight, store.take(prefix + dense.name + ".weight", shape: [dense.units, dense.inputs]))
        case .keras:
            let kernel = try store.take(prefix + dense.name + "/kernel", shape: [dense.inputs, dense.units])
            try load(dense.weight, transpose(kernel, permutation: [1, 0]))
        }
        try bindVector(dense.bias, layer: dense.name, keras: "bias", torch: "bias")
    }

    private func bindVector(_ p: Parameter, layer: String, keras: String, torch: String) throws {
        guard let store else { return }
        let name: String
        switch convention {
        case .petal: name = p.name
        case .keras: name = prefix + layer + "/" + keras
        case .pytorch: name = prefix + layer + "." + torch
        }
        try load(p, store.take(name, shape: p.shape))
    }

    private func load(_ p: Parameter, _ t: Tensor) throws { try p.load(t) }
}

/// A row-major transpose of a tensor's axes (used once per weight when loading).
func transpose(_ t: Tensor, permutation: [Int]) throws -> Tensor {
    let shape = t.shape
    let outShape = permutation.map { shape[$0] }
    var inStrides = [Int](repeating: 1, count: shape.count)
    for i in stride(from: shape.count - 2, through: 0, by: -1) { inStrides[i] = inStrides[i + 1] * shape[i + 1] }
    let src = try t.rowMajor()
    let out = try Tensor(zeros: outShape)
    withExtendedLifetime(src) {
        let s = src.floats, d = out.floats
        var index = [Int](repeating: 0, count: shape.count)
        for o in 0..<out.count {
            var offset = 0
            for axis in 0..<outShape.count { offset += index[axis] * inStrides[permutation[axis]] }
            d[o] = s[offset]
            var axis = outShape.count - 1
            while axis >= 0 {
                index[axis] += 1
                if index[axis] < outShape[axis] { break }
                index[axis] = 0
                axis -= 1
            }
        }
    }
    return out
}
