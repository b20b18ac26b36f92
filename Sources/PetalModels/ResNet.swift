import Foundation
import PetalCore
import PetalLayers
import PetalWeights

extension Architecture.Family {
    public static let resNet50 = Self(rawValue: "resnet50")
}

extension Architecture {
    public static let resNet50 = Architecture(family: .resNet50)
}

extension BackboneFamily {
    /// torchvision's ResNet-50: 224 px, ImageNet mean/std, fine-tuning from `layer4` (the last
    /// stage); torchvision's ImageNet weights downloaded on request.
    public static let resNet50 = BackboneFamily(
        family: .resNet50, names: ["resnet50"],
        parse: { name, _ in ["resnet50", "resnet-50", "resnet_50"].contains(name) ? .resNet50 : nil },
        describe: { _ in "resnet50" },
        nativeInputSize: { _ in 224 },
        normalization: .imageNetMeanStd,
        featureChannels: { _ in ResNet.featureChannels(ResNet.resNet50) },
        convention: .pytorch,
        widthMultipliers: nil,
        defaultFineTuneAt: "layer4.",
        classifierPrefixes: ["fc."],
        // The outputs of every layer at 224 px, summed and divided by 224².
        activationsPerPixel: { _ in 750 },
        build: { try ResNet.build(stages: ResNet.resNet50, height: $1, width: $2, classes: $3, binder: $4) },
        pretrained: [],
        // torchvision 0.14's DEFAULT, ResNet50_Weights.IMAGENET1K_V2 (80.858% top-1; BSD-3-Clause).
        // torchvision publishes only the sha256 prefix in the name: checked as torch.hub does.
        imageNetDownload: { _, _, _ in TorchvisionWeights.download("resnet50-11ad3fa6.pth") })
}

/// torchvision's ResNet with Bottleneck blocks (ResNet v1.5: the stride on the 3x3
/// convolution), its layer names (`conv1`, `layer1.0.conv2`, `layer2.0.downsample.0`, `fc`),
/// symmetric padding, max pooling in the stem, plain ReLU, batch norm epsilon 1e-5 and
/// PyTorch's momentum 0.1 (Keras's rule: 0.9).
public enum ResNet {
    /// One stage (torchvision's `layerN`): Bottleneck blocks of `planes` inner channels
    /// (4x as many out), the first with `stride`.
    public struct Stage: Sendable, Equatable {
        public var blocks: Int
        public var planes: Int
        public var stride: Int
        public init(blocks: Int, planes: Int, stride: Int) { self.blocks = blocks; self.planes = planes; self.stride = stride }
    }

    /// Bottleneck's output channels per inner channel.
    public static let expansion = 4

    /// ResNet-50's config table: [3, 4, 6, 3] blocks.
    public static let resNet50: [Stage] = [
        Stage(blocks: 3, planes: 64, stride: 1),
        Stage(blocks: 4, planes: 128, stride: 2),
        Stage(blocks: 6, planes: 256, stride: 2),
        Stage(blocks: 3, planes: 512, stride: 2),
    ]

    public static func featureChannels(_ stages: [Stage]) -> Int { (stages.last?.planes ?? 16) * expansion }

    /// Builds the stem and `stages` on an (height, width) input; with `classes`, adds the top
    /// (global average pooling and `fc`, returning logits).
    public static func build(stages: [Stage], height: Int, width: Int, classes: Int? = nil,
                             binder: WeightBinder) throws -> Network {
        guard height >= 32 && width >= 32 else { throw ModelError.inputTooSmall(minimum: 32, height: height, width: width) }
        let network = Network(input: InputLayer(name: "input", shape: [3, height, width]))
        let b = NetworkBuilder(network: network, binder: binder, batchNormMomentum: 0.9, batchNormEpsilon: 1e-5)
        try b.conv("conv1", filters: 64, kernel: 7, stride: 2, padding: .explicit(top: 3, bottom: 3, left: 3, right: 3))
        try b.batchNorm("bn1")
        b.activation("relu", .relu)
        b.maxPool("maxpool", kernel: 3, stride: 2, padding: 1)
        for (s, stage) in stages.enumerated() {
            for i in 0..<stage.blocks {
                try bottleneck(b, name: "layer\(s + 1).\(i)", planes: stage.planes, stride: i == 0 ? stage.stride : 1)
            }
        }
        if let classes {
            b.globalAveragePooling("avgpool")
            try b.dense("fc", units: classes, seed: 1)
        }
        return network
    }

    /// torchvision's Bottleneck: 1x1, 3x3 (with the stride), 1x1 to 4 x `planes`, plus the
    /// input, through `downsample` (1x1 with the stride, batch norm) when the shape changes.
    @discardableResult
    public static func bottleneck(_ b: NetworkBuilder, name p: String, planes: Int, stride: Int) throws -> Int {
        let input = b.last
        let same = Padding.explicit(top: 1, bottom: 1, left: 1, right: 1)
        try b.conv(p + ".conv1", filters: planes, kernel: 1, padding: .valid)
        try b.batchNorm(p + ".bn1")
        b.activation(p + ".relu1", .relu)
        try b.conv(p + ".conv2", filters: planes, kernel: 3, stride: stride, padding: same)
        try b.batchNorm(p + ".bn2")
        b.activation(p + ".relu2", .relu)
        try b.conv(p + ".conv3", filters: planes * expansion, kernel: 1, padding: .valid)
        let main = try b.batchNorm(p + ".bn3")
        var shortcut = input
        if stride != 1 || b.channels(of: input) != planes * expansion {
            try b.conv(p + ".downsample.0", from: input, filters: planes * expansion, kernel: 1, stride: stride, padding: .valid)
            shortcut = try b.batchNorm(p + ".downsample.1")
        }
        b.add(p + ".add", main, shortcut)
        return b.activation(p + ".relu", .relu)
    }
}
