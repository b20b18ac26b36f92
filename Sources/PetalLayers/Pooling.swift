import PetalCore

/// PyTorch's MaxPool2d (square window, symmetric padding, floor mode), as ResNet's stem uses
/// it (3x3, stride 2, padding 1). Training keeps oneDNN's workspace for the backward pass;
/// `infer` keeps nothing.
public final class MaxPool2D: Layer, @unchecked Sendable {  // unchecked: as Layer
    public let kernel: Int
    public let stride: Int
    public let padding: Int
    private var saved: (kernel: MaxPoolKernel, workspace: Tensor)?
    private let output = OutputSlot()
    private let workspace = OutputSlot()
    private let inputGradient = OutputSlot()

    public init(name: String, kernel: Int, stride: Int, padding: Int) {
        // The architectures choose these (not files or options): no input reaches this.
        precondition(kernel > 0 && stride > 0 && padding >= 0 && padding <= kernel / 2,
                     "MaxPool2D \(name): kernel \(kernel), stride \(stride), padding \(padding)")
        self.kernel = kernel; self.stride = stride; self.padding = padding
        super.init(name: name)
    }

    public override var typeName: String { "MaxPool2d" }

    private func spec(_ shape: [Int]) -> MaxPoolSpec { MaxPoolSpec(input: shape, kernel: kernel, stride: stride, padding: padding) }

    public override func outputShape(_ inputShapes: [[Int]]) -> [Int] { spec(inputShapes[0]).output }

    public override func forward(_ inputs: [Tensor], _ context: ForwardContext) throws -> Tensor {
        let x = inputs[0]
        let k = try MaxPoolKernel.cached(spec(x.shape), layout: x.layout, training: context.keepForBackward)
        let y = try output.tensor(k.destinationLayout)
        let w = context.keepForBackward ? try workspace.tensor(k.workspaceLayout) : nil
        try k.forward(source: x, destination: y, workspace: w)
        saved = w.map { (k, $0) }
        return y
    }

    public override func infer(_ inputs: [Tensor], buffers: TensorPool? = nil) throws -> Tensor {
        let x = inputs[0]
        let k = try MaxPoolKernel.cached(spec(x.shape), layout: x.layout, training: false)
        let y = try newTensor(k.destinationLayout, buffers)
        try k.forward(source: x, destination: y, workspace: nil)
        return y
    }

    public override func backward(_ g: Tensor, _ context: BackwardContext) throws -> [Tensor?] {
        guard context.needsInputGradient else { return [nil] }
        guard let saved else { throw LayerError.backwardWithoutForward(layer: name) }
        let dx = try inputGradient.tensor(saved.kernel.layout)
        try saved.kernel.backward(destinationGradient: g, workspace: saved.workspace, sourceGradient: dx)
        return [dx]
    }

    public override func releaseSavedState() { saved = nil }
}
