import PetalCore
import PetalLayers

/// Adds layers to a network and binds their weights as it goes, so that a model's
/// definition reads as a list of layers (Keras's functional style).
public struct NetworkBuilder {
    public let network: Network
    public let binder: WeightBinder
    /// Batch norm settings of the family (Keras MobileNetV2: 0.999 and 1e-3).
    public var batchNormMomentum: Float
    public var batchNormEpsilon: Float

    public init(network: Network, binder: WeightBinder, batchNormMomentum: Float, batchNormEpsilon: Float) {
        self.network = network
        self.binder = binder
        self.batchNormMomentum = batchNormMomentum
        self.batchNormEpsilon = batchNormEpsilon
    }

    public var last: Int { network.last }

    /// Channels of a layer's output (from the network's shapes).
    public func channels(of index: Int) -> Int { network.outputShape(of: index)[1] }

    @discardableResult
    public func conv(_ name: String, from input: Int? = nil, filters: Int, kernel: Int, stride: Int = 1,
                     padding: Padding, groups: Int = 1, bias: Bool = false) throws -> Int {
        let source = input ?? last
        let channels = channels(of: source)
        let layer = try Conv2D(name: name, inputChannels: channels, filters: filters, kernelSize: [kernel, kernel],
                           strides: [stride, stride], padding: padding, groups: groups, useBias: bias,
                           seed: UInt64(network.nodes.count))
        try binder.bind(layer)
        return network.add(layer, inputs: [source])
    }

    @discardableResult
    public func depthwise(_ name: String, kernel: Int, stride: Int = 1, padding: Padding) throws -> Int {
        let c = channels(of: last)
        return try conv(name, filters: c, kernel: kernel, stride: stride, padding: padding, groups: c)
    }

    @discardableResult
    public func batchNorm(_ name: String) throws -> Int {
        let layer = try BatchNormalization(name: name, channels: channels(of: last), momentum: batchNormMomentum,
                                       epsilon: batchNormEpsilon)
        try binder.bind(layer)
        return network.add(layer)
    }

    @discardableResult
    public func relu6(_ name: String) -> Int { network.add(Activation(name: name, .relu6)) }

    @discardableResult
    public func activation(_ name: String, _ function: FusedActivation) -> Int {
        network.add(Activation(name: name, function))
    }

    @discardableResult
    public func maxPool(_ name: String, kernel: Int, stride: Int, padding: Int) -> Int {
        network.add(MaxPool2D(name: name, kernel: kernel, stride: stride, padding: padding))
    }

    /// Multiplies layer `input` by the per-channel factors `scale` (N, C, 1, 1).
    @discardableResult
    public func scaleChannels(_ name: String, _ input: Int, by scale: Int) -> Int {
        network.add(ScaleChannels(name: name), inputs: [input, scale])
    }

    @discardableResult
    public func zeroPadding(_ name: String, _ padding: [Int]) -> Int {
        network.add(ZeroPadding2D(name: name, padding: padding))
    }

    @discardableResult
    public func add(_ name: String, _ a: Int, _ b: Int) -> Int { network.add(Add(name: name), inputs: [a, b]) }

    @discardableResult
    public func globalAveragePooling(_ name: String, from input: Int? = nil, keepsDimensions: Bool = false) -> Int {
        network.add(GlobalAveragePooling2D(name: name, keepsDimensions: keepsDimensions), inputs: input.map { [$0] })
    }

    @discardableResult
    public func dropout(_ name: String, rate: Float, seed: UInt64) throws -> Int {
        network.add(try Dropout(name: name, rate: rate, seed: seed))
    }

    @discardableResult
    public func dense(_ name: String, units: Int, activation: FusedActivation? = nil, seed: UInt64) throws -> Int {
        let layer = try Dense(name: name, inputs: channels(of: last), units: units, activation: activation, seed: seed)
        try binder.bind(layer)
        return network.add(layer)
    }
}
