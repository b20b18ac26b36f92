import PetalCore

/// Squeeze-and-excitation's last step (torchvision's `scale * input`): the first input
/// (N, C, H, W) times the second, one factor per image and channel (N, C, 1, 1). The rest of
/// the block (global average pooling, two 1x1 convolutions, ReLU, hard-sigmoid) is made of
/// ordinary layers, so their weights bind by name.
public final class ScaleChannels: Layer, @unchecked Sendable {  // unchecked: as Layer
    private var saved: (input: Tensor, scale: Tensor)?
    private let output = OutputSlot()
    private let inputGradient = OutputSlot()
    private let scaleGradient = OutputSlot()

    public override var typeName: String { "Multiply" }

    public override func outputShape(_ inputShapes: [[Int]]) -> [Int] {
        // The model builders wire a block's scale to its own input: no input reaches this.
        precondition(inputShapes.count == 2 && inputShapes[1] == ChannelScaleKernel.scaleShape(inputShapes[0]),
                     "ScaleChannels \(name): inputs \(inputShapes) do not fit")
        return inputShapes[0]
    }

    public override func forward(_ inputs: [Tensor], _ context: ForwardContext) throws -> Tensor {
        let (x, s) = (inputs[0], inputs[1])
        let y = try output.tensor(x.layout)
        try ChannelScaleKernel.cached(layout: x.layout).forward(source: x, scale: s, destination: y)
        saved = context.keepForBackward ? (x, s) : nil
        return y
    }

    public override func infer(_ inputs: [Tensor], buffers: TensorPool? = nil) throws -> Tensor {
        let (x, s) = (inputs[0], inputs[1])
        let y = try newTensor(x.layout, buffers)
        try ChannelScaleKernel.cached(layout: x.layout).forward(source: x, scale: s, destination: y)
        return y
    }

    /// d input = g * s (the same broadcast multiply); d scale[n, c] = sum over H, W of g * x.
    public override func backward(_ g: Tensor, _ context: BackwardContext) throws -> [Tensor?] {
        guard context.needsInputGradient else { return [nil, nil] }
        guard let (x, s) = saved else { throw LayerError.backwardWithoutForward(layer: name) }
        let dx = try inputGradient.tensor(g.layout)
        try ChannelScaleKernel.cached(layout: g.layout).forward(source: g, scale: s, destination: dx)
        let ds = try scaleGradient.tensor(.rowMajor(ChannelScaleKernel.scaleShape(x.shape)))
        let (plainG, plainX) = (try g.rowMajor(), try x.rowMajor())
        withExtendedLifetime((plainG, plainX)) {
            let gv = plainG.floats, xv = plainX.floats, out = ds.floats
            let area = x.shape[2] * x.shape[3]
            for nc in 0..<(x.shape[0] * x.shape[1]) {
                var sum: Float = 0
                let base = nc * area
                for i in 0..<area { sum += gv[base + i] * xv[base + i] }
                out[nc] = sum
            }
        }
        return [dx, ds]
    }

    public override func releaseSavedState() { saved = nil }
}
