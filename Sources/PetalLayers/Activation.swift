import PetalCore

/// ReLU, ReLU6 (Keras ReLU(max_value=6)), hard-swish or hard-sigmoid, on oneDNN's eltwise kernels.
public final class Activation: Layer, @unchecked Sendable {  // unchecked: as Layer
    public let function: FusedActivation
    private var saved: (input: Tensor, kernel: EltwiseKernel)?
    private let output = OutputSlot()
    private let inputGradient = OutputSlot()

    public init(name: String, _ function: FusedActivation) {
        self.function = function
        super.init(name: name)
    }

    public override var typeName: String {
        switch function {
        case .relu, .relu6: return "ReLU"
        case .hardSwish: return "Hardswish"
        case .hardSigmoid: return "Hardsigmoid"
        }
    }

    public override func forward(_ inputs: [Tensor], _ context: ForwardContext) throws -> Tensor {
        let x = inputs[0]
        let kernel = try EltwiseKernel.cached(layout: x.layout, activation: function)
        let y = try output.tensor(x.layout)
        try kernel.forward(source: x, destination: y)
        saved = context.keepForBackward ? (x, kernel) : nil
        return y
    }

    public override func infer(_ inputs: [Tensor], buffers: TensorPool? = nil) throws -> Tensor {
        let x = inputs[0]
        let y = try newTensor(x.layout, buffers)
        try EltwiseKernel.cached(layout: x.layout, activation: function).forward(source: x, destination: y)
        return y
    }

    public override func backward(_ g: Tensor, _ context: BackwardContext) throws -> [Tensor?] {
        guard context.needsInputGradient else { return [nil] }
        guard let saved else { throw LayerError.backwardWithoutForward(layer: name) }
        let dx = try inputGradient.tensor(saved.input.layout)
        try saved.kernel.backward(source: saved.input, destinationGradient: g, sourceGradient: dx)
        return [dx]
    }

    public override func releaseSavedState() { saved = nil }
}

/// The residual connection: the elementwise sum of two inputs of one shape.
public final class Add: Layer, @unchecked Sendable {  // unchecked: as Layer
    private let output = OutputSlot()

    public override func outputShape(_ inputShapes: [[Int]]) -> [Int] {
        // The model builders join blocks of equal shape: no input reaches this.
        precondition(inputShapes.count == 2 && inputShapes[0] == inputShapes[1],
                     "Add \(name): inputs \(inputShapes) differ")
        return inputShapes[0]
    }

    public override func forward(_ inputs: [Tensor], _ context: ForwardContext) throws -> Tensor {
        let kernel = try AddKernel.cached(layout: inputs[0].layout)
        let y = try output.tensor(inputs[0].layout)
        try kernel.forward(inputs[0], inputs[1], destination: y)
        return y
    }

    public override func infer(_ inputs: [Tensor], buffers: TensorPool? = nil) throws -> Tensor {
        let y = try newTensor(inputs[0].layout, buffers)
        try AddKernel.cached(layout: inputs[0].layout).forward(inputs[0], inputs[1], destination: y)
        return y
    }

    /// The sum's gradient flows unchanged to both inputs.
    public override func backward(_ g: Tensor, _ context: BackwardContext) throws -> [Tensor?] {
        context.needsInputGradient ? [g, g] : [nil, nil]
    }
}

/// Keras's ZeroPadding2D. The network folds it into the convolution that follows, whose
/// padding then covers it exactly, so forward and backward pass tensors through unchanged.
public final class ZeroPadding2D: Layer, @unchecked Sendable {  // unchecked: as Layer
    /// [top, bottom, left, right]
    public let padding: [Int]

    public init(name: String, padding: [Int]) {
        precondition(padding.count == 4)  // the model builders pass four amounts: no input reaches this
        self.padding = padding
        super.init(name: name)
    }

    public override func outputShape(_ s: [[Int]]) -> [Int] {
        [s[0][0], s[0][1], s[0][2] + padding[0] + padding[1], s[0][3] + padding[2] + padding[3]]
    }

    public override func forward(_ inputs: [Tensor], _ context: ForwardContext) throws -> Tensor { inputs[0] }
    public override func infer(_ inputs: [Tensor], buffers: TensorPool? = nil) throws -> Tensor { inputs[0] }
    public override func backward(_ g: Tensor, _ context: BackwardContext) throws -> [Tensor?] {
        [context.needsInputGradient ? g : nil]
    }
}

/// Keras's GlobalAveragePooling2D: (N, C, H, W) to (N, C), row-major; or to (N, C, 1, 1)
/// with `keepsDimensions` (PyTorch's AdaptiveAvgPool2d(1), as squeeze-and-excitation uses it).
public final class GlobalAveragePooling2D: Layer, @unchecked Sendable {  // unchecked: as Layer
    public let keepsDimensions: Bool
    private var savedKernel: GlobalAveragePoolKernel?
    private var pooled = OutputSlot()
    private var output = OutputSlot()
    private let inputGradient = OutputSlot()

    public init(name: String, keepsDimensions: Bool = false) {
        self.keepsDimensions = keepsDimensions
        super.init(name: name)
    }

    public override func outputShape(_ s: [[Int]]) -> [Int] { [s[0][0], s[0][1]] + (keepsDimensions ? [1, 1] : []) }

    public override func forward(_ inputs: [Tensor], _ context: ForwardContext) throws -> Tensor {
        let x = inputs[0]
        let (n, c) = (x.shape[0], x.shape[1])
        let kernel = try GlobalAveragePoolKernel.cached(layout: x.layout)
        let p = try pooled.tensor(kernel.destinationLayout)
        try kernel.forward(source: x, destination: p)
        let y = try output.tensor(.rowMajor([n, c, 1, 1]))
        try y.assign(p)
        savedKernel = context.keepForBackward ? kernel : nil
        return keepsDimensions ? y : try y.reshaped([n, c])
    }

    public override func infer(_ inputs: [Tensor], buffers: TensorPool? = nil) throws -> Tensor {
        let x = inputs[0]
        let (n, c) = (x.shape[0], x.shape[1])
        let kernel = try GlobalAveragePoolKernel.cached(layout: x.layout)
        let p = try newTensor(kernel.destinationLayout, buffers)
        try kernel.forward(source: x, destination: p)
        let y = try newTensor(.rowMajor(keepsDimensions ? [n, c, 1, 1] : [n, c]), buffers)
        try y.reshaped([n, c, 1, 1]).assign(p)
        buffers?.giveBack(p)
        return y
    }

    public override func backward(_ g: Tensor, _ context: BackwardContext) throws -> [Tensor?] {
        guard context.needsInputGradient else { return [nil] }
        guard let kernel = savedKernel else { throw LayerError.backwardWithoutForward(layer: name) }
        let dx = try inputGradient.tensor(kernel.layout)
        try kernel.backward(destinationGradient: keepsDimensions ? g : g.reshaped([g.shape[0], g.shape[1], 1, 1]),
                            sourceGradient: dx)
        return [dx]
    }

    public override func releaseSavedState() { savedKernel = nil }
}
