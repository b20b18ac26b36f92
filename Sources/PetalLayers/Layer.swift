import Foundation
import PetalCore

/// What can go wrong in a layer or network that its input (a batch, labels, a head's
/// configuration) can cause.
public enum LayerError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// A layer's settings cannot work (e.g. a dropout rate of 1, a Dense with no units).
    case invalidConfiguration(layer: String, reason: String)
    /// A tensor given to the network does not have the shape it takes.
    case shapeMismatch(what: String, expected: [Int], found: [Int])
    /// Labels that do not fit the logits (count or class index).
    case invalidLabels(reason: String)
    /// `backward` called without a training forward before it.
    case backwardWithoutForward(layer: String)

    public var description: String {
        switch self {
        case let .invalidConfiguration(layer, reason): return "layer \(layer): \(reason)"
        case let .shapeMismatch(what, expected, found):
            return "\(what) has shape \(found) but the network takes \(expected)"
        case let .invalidLabels(reason): return "labels do not fit the model: \(reason)"
        case let .backwardWithoutForward(layer): return "layer \(layer): backward pass without a training forward"
        }
    }

    public var errorDescription: String? { description }
}

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
/// by `forward` or `backward` is valid until the layer's next call. `forward` and `backward`
/// are the training path: they keep state, so a layer being trained is used by one thread.
/// `infer` keeps nothing and returns a tensor of its own, so one (trained) layer can serve
/// several threads at once.
open class Layer: @unchecked Sendable {  // unchecked: training state is used by one thread; `infer` only reads
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

    // Every layer overrides forward and backward: no input reaches the failures below.
    open func forward(_ inputs: [Tensor], _ context: ForwardContext) throws -> Tensor {
        preconditionFailure("\(typeName) must implement forward")
    }

    /// Gradients with respect to each input (nil where not needed). Parameter gradients are
    /// written into the parameters' gradient buffers when the layer is trainable.
    open func backward(_ outputGradient: Tensor, _ context: BackwardContext) throws -> [Tensor?] {
        preconditionFailure("\(typeName) must implement backward")
    }

    /// The inference forward pass (moving statistics, no dropout) without any effect on the
    /// layer: the output is a new tensor (from `buffers` when given) and nothing is kept, so
    /// several threads may call it at once on one layer, as long as none trains or loads it
    /// meanwhile.
    open func infer(_ inputs: [Tensor], buffers: TensorPool? = nil) throws -> Tensor {
        preconditionFailure("\(typeName) must implement infer")
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

    public override func forward(_ inputs: [Tensor], _ context: ForwardContext) throws -> Tensor { inputs[0] }
    public override func backward(_ g: Tensor, _ c: BackwardContext) throws -> [Tensor?] { [g] }
    public override func infer(_ inputs: [Tensor], buffers: TensorPool? = nil) throws -> Tensor { inputs[0] }
}

/// A tensor for an inference output: from the pool when there is one, else a new one.
func newTensor(_ layout: TensorLayout, _ buffers: TensorPool?) throws -> Tensor {
    try buffers?.tensor(layout) ?? Tensor(layout: layout)
}

/// Glorot (Xavier) uniform initialisation, Keras's default for kernels, seeded.
func glorotUniform(_ tensor: Tensor, fanIn: Int, fanOut: Int, generator: inout SplitMix64) {
    let limit = (6.0 / Float(fanIn + fanOut)).squareRoot()
    let values = tensor.floats
    for i in 0..<tensor.count { values[i] = (generator.nextUnitFloat() * 2 - 1) * limit }
}
