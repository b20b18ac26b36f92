import PetalCore

/// What a forward pass is for.
public struct ForwardContext: Sendable {
    /// Training: batch statistics in trainable batch norms, dropout active.
    public var training: Bool
    /// The backward pass will reach this layer: keep what it needs (inputs, kernels).
    public var keepForBackward: Bool

    public init(training: Bool, keepForBackward: Bool) {
        self.training = training
        self.keepForBackward = keepForBackward
    }
}

/// What a backward pass must produce for one layer.
public struct BackwardContext: Sendable {
    /// Whether the gradient of the layer's inputs is needed (a trainable layer lies before it).
    public var needsInputGradient: Bool

    public init(needsInputGradient: Bool) { self.needsInputGradient = needsInputGradient }
}

/// A layer of a network: a training forward, an inference forward and a backward pass that
/// gives the gradient of its inputs and (when trainable) of its parameters.
///
/// Subclasses own their output tensors and reuse them from step to step; a tensor returned
/// by `forward` or `backward` is valid until the layer's next call.
open class Layer: @unchecked Sendable {  // unchecked: its mutable state is used by one thread at a time
    /// The layer's name, as Keras (or the reference implementation) names it.
    public let name: String
    /// False freezes the layer: no parameter gradients, batch norm on its moving statistics.
    open var trainable: Bool = true {
        didSet { for p in trainableParameters { p.trainable = trainable } }
    }

    public init(name: String) { self.name = name }

    /// A short type name for summaries (Keras's class name).
    open var typeName: String { String(describing: type(of: self)) }

    /// Parameters updated by optimizers (empty for layers without weights).
    open var trainableParameters: [Parameter] { [] }
    /// Every tensor saved with the model, in Keras's order (e.g. gamma, beta, moving mean,
    /// moving variance for batch norm).
    open var weights: [Parameter] { trainableParameters }

    /// The output shape for the given input shapes (N, C, H, W) or (N, features).
    open func outputShape(_ inputShapes: [[Int]]) -> [Int] { inputShapes[0] }

    open func forward(_ inputs: [Tensor], _ context: ForwardContext) -> Tensor {
        fatalError("\(typeName) must implement forward")
    }

    /// Gradients with respect to each input (nil where not needed). Parameter gradients are
    /// written into the parameters' gradient buffers when the layer is trainable.
    open func backward(_ outputGradient: Tensor, _ context: BackwardContext) -> [Tensor?] {
        fatalError("\(typeName) must implement backward")
    }

    /// Drops what the last forward kept for backward (memory between phases).
    open func releaseSavedState() {}
}

/// The model's input, Keras's InputLayer: counts as layer 0, as in Keras's numbering.
public final class InputLayer: Layer, @unchecked Sendable {  // unchecked: as Layer
    /// (C, H, W) of one image, or (features) of one vector.
    public let shape: [Int]

    public init(name: String = "input_1", shape: [Int]) {
        self.shape = shape
        super.init(name: name)
    }

    public override func forward(_ inputs: [Tensor], _ context: ForwardContext) -> Tensor { inputs[0] }
    public override func backward(_ g: Tensor, _ c: BackwardContext) -> [Tensor?] { [g] }
}

/// Glorot (Xavier) uniform initialisation, Keras's default for kernels, seeded.
func glorotUniform(_ tensor: Tensor, fanIn: Int, fanOut: Int, generator: inout SplitMix64) {
    let limit = (6.0 / Float(fanIn + fanOut)).squareRoot()
    let values = tensor.floats
    for i in 0..<tensor.count { values[i] = (generator.nextUnitFloat() * 2 - 1) * limit }
}
