import Foundation
import PetalLayers

/// `--class-weight`: how much each class counts in the training loss, as Keras's
/// `class_weight` and PyTorch's `CrossEntropyLoss(weight=...)`. In config.json: the string
/// "balanced", or an object of class name → weight.
public enum ClassWeight: Sendable, Equatable, Codable, CustomStringConvertible {
    /// scikit-learn's `compute_class_weight("balanced")`: n_samples / (n_classes · count_c),
    /// counted on the training split.
    case balanced
    /// Weights by class name; classes not named weigh 1.
    case explicit([String: Double])

    /// Parses the command line's `balanced` or `daisy=2,rose=1`; the values' ranges and the
    /// class names are checked by `TransferLearningConfig.validate`.
    public init(parsing text: String) throws(ConfigError) {
        if text.lowercased() == "balanced" { self = .balanced; return }
        var weights: [String: Double] = [:]
        for pair in text.split(separator: ",", omittingEmptySubsequences: false) {
            let kv = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard kv.count == 2, !kv[0].isEmpty, let value = Double(kv[1]) else {
                throw .invalid(option: "--class-weight", reason: "'\(pair)' is not class=weight; give 'balanced' or e.g. daisy=2,rose=1")
            }
            guard weights[kv[0]] == nil else { throw .invalid(option: "--class-weight", reason: "class '\(kv[0])' given twice") }
            weights[kv[0]] = value
        }
        self = .explicit(weights)
    }

    /// As the command line writes it (names sorted).
    public var description: String {
        switch self {
        case .balanced: return "balanced"
        case .explicit(let weights):
            return weights.sorted { $0.key < $1.key }.map { "\($0.key)=\(TransferLearningConfig.number($0.value))" }
                .joined(separator: ",")
        }
    }

    /// The weights' own checks (positive, finite), before the classes are known.
    func validate() throws(ConfigError) {
        guard case .explicit(let weights) = self else { return }
        if weights.isEmpty { throw .invalid(option: "--class-weight", reason: "no weights given; give 'balanced' or e.g. daisy=2,rose=1") }
        for (name, value) in weights.sorted(by: { $0.key < $1.key }) {
            let allowed = "a finite number above 0"
            if !value.isFinite { throw .notFinite(option: "--class-weight \(name)", value: TransferLearningConfig.number(value), allowed: allowed) }
            if value <= 0 { throw .outOfRange(option: "--class-weight \(name)", value: TransferLearningConfig.number(value), allowed: allowed) }
        }
    }

    /// Checks that every named class exists.
    func validate(classNames: [String]) throws(ConfigError) {
        guard case .explicit(let weights) = self else { return }
        if let unknown = weights.keys.sorted().first(where: { !classNames.contains($0) }) {
            throw .invalid(option: "--class-weight", reason: "no class '\(unknown)' in the data; its classes are \(classNames.joined(separator: ", "))")
        }
    }

    /// One weight per class, in the order of `classNames`; `trainingCounts` are the training
    /// split's images per class (for `balanced`).
    public func weights(classNames: [String], trainingCounts: [Int]) throws(ConfigError) -> [Double] {
        try validate()
        try validate(classNames: classNames)
        switch self {
        case .explicit(let weights):
            return classNames.map { weights[$0] ?? 1 }
        case .balanced:
            let total = trainingCounts.reduce(0, +)
            if let empty = trainingCounts.firstIndex(of: 0) {
                throw .invalid(option: "--class-weight balanced", reason: "class '\(classNames[empty])' has no training images, so no balanced weight; give explicit weights or more images")
            }
            return trainingCounts.map { Double(total) / (Double(classNames.count) * Double($0)) }
        }
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            guard text == "balanced" else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "class_weight is '\(text)'; expected \"balanced\" or an object of class name to weight")
            }
            self = .balanced
        } else {
            self = .explicit(try container.decode([String: Double].self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .balanced: try container.encode("balanced")
        case .explicit(let weights): try container.encode(weights)
        }
    }
}

extension TransferLearningConfig {
    /// Checks `--class-weight` and `--label-smoothing` (called by `validate()`); with the
    /// data's class names, that every class the weights name exists.
    func validateLossOptions(classNames: [String]?) throws(ConfigError) {
        if let labelSmoothing {
            let allowed = "at least 0 and below 1"
            if !labelSmoothing.isFinite { throw .notFinite(option: "--label-smoothing", value: Self.number(labelSmoothing), allowed: allowed) }
            if !(labelSmoothing >= 0 && labelSmoothing < 1) {
                throw .outOfRange(option: "--label-smoothing", value: Self.number(labelSmoothing), allowed: allowed)
            }
        }
        try classWeight?.validate()
        if let classNames { try classWeight?.validate(classNames: classNames) }
    }

    /// The training loss's weighting for these classes and training-split counts.
    public func lossWeighting(classNames: [String], trainingCounts: [Int]) throws(ConfigError) -> LossWeighting {
        let weights = try classWeight?.weights(classNames: classNames, trainingCounts: trainingCounts)
        return LossWeighting(classWeights: weights?.map { Float($0) }, labelSmoothing: Float(labelSmoothing ?? 0))
    }
}
