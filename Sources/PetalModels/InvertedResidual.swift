import PetalLayers

/// MobileNetV2's inverted residual block, which EfficientNet-Lite shares (without
/// squeeze-and-excitation): an optional 1x1 expansion, a depthwise convolution, a linear
/// 1x1 projection, and a residual Add when the shape is kept.
public struct InvertedResidual: Sendable {
    public var expandedChannels: Int
    public var outputChannels: Int
    public var kernel: Int
    public var stride: Int
    public var names: Names
    /// How the depthwise convolution pads at stride 2: Keras's ZeroPadding2D before a
    /// valid convolution (MobileNetV2), or TensorFlow's 'same' (EfficientNet-Lite).
    public var explicitPaddingAtStride2: Bool

    /// The layer names of one block in the family's own naming, so weights bind by name.
    public struct Names: Sendable {
        public var expand, expandBN, expandReLU: String
        public var pad, depthwise, depthwiseBN, depthwiseReLU: String
        public var project, projectBN, add: String

        /// Keras's `block_{id}_expand` ... (`expanded_conv_` for block 0).
        public static func keras(block id: Int) -> Names {
            let p = id == 0 ? "expanded_conv_" : "block_\(id)_"
            return Names(expand: p + "expand", expandBN: p + "expand_BN", expandReLU: p + "expand_relu",
                         pad: p + "pad", depthwise: p + "depthwise", depthwiseBN: p + "depthwise_BN",
                         depthwiseReLU: p + "depthwise_relu", project: p + "project", projectBN: p + "project_BN",
                         add: p + "add")
        }

        /// The PyTorch EfficientNet's `_blocks.{i}._expand_conv` ...
        public static func efficientNet(block i: Int) -> Names {
            let p = "_blocks.\(i)."
            return Names(expand: p + "_expand_conv", expandBN: p + "_bn0", expandReLU: p + "expand_relu",
                         pad: p + "pad", depthwise: p + "_depthwise_conv", depthwiseBN: p + "_bn1",
                         depthwiseReLU: p + "depthwise_relu", project: p + "_project_conv", projectBN: p + "_bn2",
                         add: p + "add")
        }
    }

    /// Builds the block on `builder`'s last layer; returns the index of its output.
    @discardableResult
    public func build(_ b: NetworkBuilder) throws -> Int {
        let input = b.last
        let inputShape = b.network.outputShape(of: input)
        if expandedChannels != inputShape[1] {
            try b.conv(names.expand, filters: expandedChannels, kernel: 1, padding: .valid)
            try b.batchNorm(names.expandBN)
            b.relu6(names.expandReLU)
        }
        if stride == 2 && explicitPaddingAtStride2 {
            // Keras's correct_pad: one more row/column at the bottom/right for even sizes.
            let (h, w) = (inputShape[2], inputShape[3])
            let k = kernel / 2
            b.zeroPadding(names.pad, [k - (1 - h % 2), k, k - (1 - w % 2), k])
            try b.depthwise(names.depthwise, kernel: kernel, stride: 2, padding: .valid)
        } else {
            try b.depthwise(names.depthwise, kernel: kernel, stride: stride, padding: .same)
        }
        try b.batchNorm(names.depthwiseBN)
        b.relu6(names.depthwiseReLU)
        try b.conv(names.project, filters: outputChannels, kernel: 1, padding: .valid)
        let projected = try b.batchNorm(names.projectBN)
        if stride == 1 && inputShape[1] == outputChannels {
            return b.add(names.add, input, projected)
        }
        return projected
    }
}
