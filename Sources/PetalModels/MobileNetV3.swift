import Foundation
import PetalCore
import PetalLayers
import PetalWeights

extension Architecture.Family {
    public static let mobileNetV3Large = Self(rawValue: "mobilenetv3-large")
    public static let mobileNetV3Small = Self(rawValue: "mobilenetv3-small")
}

extension Architecture {
    public static let mobileNetV3Large = Architecture(family: .mobileNetV3Large)
    public static let mobileNetV3Small = Architecture(family: .mobileNetV3Small)
}

extension BackboneFamily {
    /// torchvision's MobileNetV3-Large: 224 px, ImageNet mean/std, fine-tuning from
    /// `features.13` (the last, 160-channel stage); torchvision 0.14's DEFAULT ImageNet weights,
    /// IMAGENET1K_V2 (75.274% top-1; BSD-3-Clause), downloaded on request and checked against
    /// the sha256 prefix in their name as torch.hub does (torchvision publishes no more of it).
    public static let mobileNetV3Large = mobileNetV3(
        .mobileNetV3Large, MobileNetV3.large, fineTuneAt: "features.13.", activationsPerPixel: 280,
        weights: "mobilenet_v3_large-5c1a4163.pth")

    /// torchvision's MobileNetV3-Small: as Large, fine-tuning from `features.9` (its last,
    /// 96-channel stage); DEFAULT weights IMAGENET1K_V1 (67.668% top-1).
    public static let mobileNetV3Small = mobileNetV3(
        .mobileNetV3Small, MobileNetV3.small, fineTuneAt: "features.9.", activationsPerPixel: 95,
        weights: "mobilenet_v3_small-047dcff4.pth")

    private static func mobileNetV3(_ family: Architecture.Family, _ config: MobileNetV3.Config, fineTuneAt: String,
                                    activationsPerPixel: Double, weights: String) -> BackboneFamily {
        let name = family.rawValue
        let aliases = [name, name.replacingOccurrences(of: "-", with: "_"), name.replacingOccurrences(of: "v3-", with: "_v3_")]
        return BackboneFamily(
            family: family, names: [name],
            parse: { text, _ in aliases.contains(text) ? Architecture(family: family) : nil },
            describe: { $0.alpha == 1 ? name : "\(name) (width \($0.alpha))" },
            nativeInputSize: { _ in 224 },
            normalization: .imageNetMeanStd,
            featureChannels: { MobileNetV3.featureChannels(config, width: $0.alpha) },
            convention: .pytorch,
            widthMultipliers: nil,
            defaultFineTuneAt: fineTuneAt,
            classifierPrefixes: ["classifier."],
            // The outputs of every layer at 224 px, summed and divided by 224².
            activationsPerPixel: { _ in activationsPerPixel },
            build: { try MobileNetV3.build(config, widthMultiplier: $0.alpha, height: $1, width: $2, classes: $3, binder: $4) },
            pretrained: [],
            imageNetDownload: { _, _, _ in TorchvisionWeights.download(weights) })
    }
}

/// torchvision's MobileNetV3 (Large and Small): inverted residual blocks with optional
/// squeeze-and-excitation (hard-sigmoid gate) and ReLU or hard-swish, symmetric padding,
/// batch norm epsilon 1e-3 and PyTorch momentum 0.01 (Keras's rule: 0.99), torchvision's
/// names (`features.4.block.2.fc1`, `classifier.3`). `width` is torchvision's `width_mult`
/// (its ImageNet weights are for 1.0; other widths serve tests and training from scratch).
public enum MobileNetV3 {
    /// One row of torchvision's `bneck_conf` table (channels before the width multiplier).
    public struct Block: Sendable {
        public var input, kernel, expanded, output: Int
        public var squeezeExcitation: Bool
        public var hardSwish: Bool
        public var stride: Int
    }

    public struct Config: Sendable {
        public var blocks: [Block]
        /// The classifier's hidden width (`last_channel`).
        public var lastChannel: Int
    }

    private static func row(_ i: Int, _ k: Int, _ e: Int, _ o: Int, _ se: Bool, _ activation: String, _ s: Int) -> Block {
        Block(input: i, kernel: k, expanded: e, output: o, squeezeExcitation: se, hardSwish: activation == "HS", stride: s)
    }

    /// torchvision's `_mobilenet_v3_conf("mobilenet_v3_large")`.
    public static let large = Config(blocks: [
        row(16, 3, 16, 16, false, "RE", 1),
        row(16, 3, 64, 24, false, "RE", 2), row(24, 3, 72, 24, false, "RE", 1),
        row(24, 5, 72, 40, true, "RE", 2), row(40, 5, 120, 40, true, "RE", 1), row(40, 5, 120, 40, true, "RE", 1),
        row(40, 3, 240, 80, false, "HS", 2), row(80, 3, 200, 80, false, "HS", 1), row(80, 3, 184, 80, false, "HS", 1),
        row(80, 3, 184, 80, false, "HS", 1), row(80, 3, 480, 112, true, "HS", 1), row(112, 3, 672, 112, true, "HS", 1),
        row(112, 5, 672, 160, true, "HS", 2), row(160, 5, 960, 160, true, "HS", 1), row(160, 5, 960, 160, true, "HS", 1),
    ], lastChannel: 1280)

    /// torchvision's `_mobilenet_v3_conf("mobilenet_v3_small")`.
    public static let small = Config(blocks: [
        row(16, 3, 16, 16, true, "RE", 2),
        row(16, 3, 72, 24, false, "RE", 2), row(24, 3, 88, 24, false, "RE", 1),
        row(24, 5, 96, 40, true, "HS", 2), row(40, 5, 240, 40, true, "HS", 1), row(40, 5, 240, 40, true, "HS", 1),
        row(40, 5, 120, 48, true, "HS", 1), row(48, 5, 144, 48, true, "HS", 1),
        row(48, 5, 288, 96, true, "HS", 2), row(96, 5, 576, 96, true, "HS", 1), row(96, 5, 576, 96, true, "HS", 1),
    ], lastChannel: 1024)

    /// torchvision's `_make_divisible(channels * width_mult, 8)` (the same rule as Keras's).
    static func adjust(_ channels: Int, _ width: Double) -> Int { MobileNetV2.makeDivisible(Double(channels) * width) }

    /// Channels of the final feature map: 6 x the last block's output (960 for Large, 576 for Small).
    public static func featureChannels(_ config: Config, width: Double) -> Int {
        6 * adjust(config.blocks.last?.output ?? 16, width)
    }

    public static func build(_ config: Config, widthMultiplier width: Double = 1, height: Int, width inputWidth: Int,
                             classes: Int? = nil, binder: WeightBinder) throws -> Network {
        guard width > 0 && width <= 4 else {
            throw ModelError.invalidArchitecture("MobileNetV3: width multiplier must be in (0, 4], got \(width)")
        }
        guard height >= 32 && inputWidth >= 32 else {
            throw ModelError.inputTooSmall(minimum: 32, height: height, width: inputWidth)
        }
        let network = Network(input: InputLayer(name: "input", shape: [3, height, inputWidth]))
        let b = NetworkBuilder(network: network, binder: binder, batchNormMomentum: 0.99, batchNormEpsilon: 1e-3)
        try convNormActivation(b, "features.0", filters: adjust(config.blocks[0].input, width), kernel: 3, stride: 2,
                               activation: .hardSwish)
        for (i, block) in config.blocks.enumerated() {
            try invertedResidual(b, name: "features.\(i + 1)", block, width: width)
        }
        try convNormActivation(b, "features.\(config.blocks.count + 1)", filters: featureChannels(config, width: width),
                               kernel: 1, activation: .hardSwish)
        if let classes {
            b.globalAveragePooling("avgpool")
            try b.dense("classifier.0", units: adjust(config.lastChannel, width), seed: 1)
            b.activation("classifier.1", .hardSwish)
            try b.dropout("classifier.2", rate: 0.2, seed: 1)
            try b.dense("classifier.3", units: classes, seed: 1)
        }
        return network
    }

    /// torchvision's Conv2dNormActivation: `name.0` convolution (padding (k - 1) / 2), `name.1`
    /// batch norm, `name.2` activation.
    @discardableResult
    static func convNormActivation(_ b: NetworkBuilder, _ name: String, filters: Int, kernel: Int, stride: Int = 1,
                                   groups: Bool = false, activation: FusedActivation?) throws -> Int {
        let p = (kernel - 1) / 2
        let padding = Padding.explicit(top: p, bottom: p, left: p, right: p)
        if groups {
            try b.depthwise(name + ".0", kernel: kernel, stride: stride, padding: padding)
        } else {
            try b.conv(name + ".0", filters: filters, kernel: kernel, stride: stride, padding: padding)
        }
        let normalized = try b.batchNorm(name + ".1")
        return activation.map { b.activation(name + ".2", $0) } ?? normalized
    }

    /// torchvision's InvertedResidual: expansion (when widened), depthwise, optional
    /// squeeze-and-excitation, linear projection, and the residual sum when the shape is kept.
    @discardableResult
    public static func invertedResidual(_ b: NetworkBuilder, name: String, _ block: Block, width: Double) throws -> Int {
        let input = b.last
        let (inputChannels, expanded) = (b.channels(of: input), adjust(block.expanded, width))
        let output = adjust(block.output, width)
        let activation: FusedActivation = block.hardSwish ? .hardSwish : .relu
        var j = 0
        if expanded != inputChannels {
            try convNormActivation(b, "\(name).block.\(j)", filters: expanded, kernel: 1, activation: activation)
            j += 1
        }
        try convNormActivation(b, "\(name).block.\(j)", filters: expanded, kernel: block.kernel, stride: block.stride,
                               groups: true, activation: activation)
        j += 1
        if block.squeezeExcitation {
            try squeezeExcitation(b, name: "\(name).block.\(j)", squeezeChannels: MobileNetV2.makeDivisible(Double(expanded / 4)))
            j += 1
        }
        let projected = try convNormActivation(b, "\(name).block.\(j)", filters: output, kernel: 1, activation: nil)
        if block.stride == 1 && inputChannels == output {
            return b.add("\(name).add", input, projected)
        }
        return projected
    }

    /// torchvision's SqueezeExcitation with a hard-sigmoid gate: average pool, `fc1` (1x1,
    /// bias), ReLU, `fc2`, hard-sigmoid, times the input.
    @discardableResult
    public static func squeezeExcitation(_ b: NetworkBuilder, name: String, squeezeChannels: Int) throws -> Int {
        let input = b.last
        b.globalAveragePooling(name + ".avgpool", keepsDimensions: true)
        try b.conv(name + ".fc1", filters: squeezeChannels, kernel: 1, padding: .valid, bias: true)
        b.activation(name + ".activation", .relu)
        try b.conv(name + ".fc2", filters: b.channels(of: input), kernel: 1, padding: .valid, bias: true)
        let scale = b.activation(name + ".scale_activation", .hardSigmoid)
        return b.scaleChannels(name + ".mul", input, by: scale)
    }
}
