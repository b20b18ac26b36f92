import Foundation
import PetalCore
import PetalData
import PetalModels

/// Finds the images of a dataset folder that are likely mislabeled, as cleanlab's confident
/// learning does, for about one pass of inference over the data:
///
/// 1. features of every image from the frozen pretrained base (`FrozenFeatures`: no
///    augmentation, the inference pass, the backbone's native size unless told);
/// 2. out-of-fold probabilities from `folds` stratified folds of a softmax head on those
///    features (`StratifiedFolds`, `SoftmaxHead`);
/// 3. `ConfidentLearning`'s label issues, ranked, each with the class the head suggests;
/// 4. images under different classes that are the same picture: byte-identical files, and
///    near-duplicates whose features' cosine similarity reaches `nearDuplicateThreshold`.
public struct LabelAudit: Sendable {
    public var data: URL
    /// A registered backbone name (`Backbones.names`).
    public var backbone = "efficientnet-lite0"
    /// MobileNetV2's width multiplier.
    public var alpha = 1.0
    /// A weights file; nil for the installed default.
    public var weights: URL?
    /// Square input size; nil for the backbone's native size.
    public var imageSize: Int?
    public var folds = 5
    public var seed: UInt64 = 42
    public var batchSize = 32
    public var nearDuplicateThreshold = NearDuplicates.defaultThreshold
    public var head = SoftmaxHead()

    public enum Limits {
        public static let folds = 2...50
        public static let batchSize = 1...4096
    }

    public init(data: URL) { self.data = data }

    public var architecture: Architecture? { Architecture(name: backbone, alpha: alpha) }

    /// Checks the settings, naming the option at fault.
    public func validate() throws(AuditError) {
        guard let architecture else {
            throw .badOption(option: "--backbone", reason: "unknown backbone '\(backbone)'; use one of \(Backbones.nameList)")
        }
        if let alphas = architecture.facts.widthMultipliers, !alphas.contains(alpha) {
            throw .badOption(option: "--alpha", reason: "\(alpha) is not one of \(alphas.map { String($0) }.joined(separator: ", "))")
        }
        if !Limits.folds.contains(folds) {
            throw .badOption(option: "--folds", reason: "\(folds) is not between \(Limits.folds.lowerBound) and \(Limits.folds.upperBound)")
        }
        if let imageSize, !TransferLearningConfig.Limits.imageSize.contains(imageSize) {
            let range = TransferLearningConfig.Limits.imageSize
            throw .badOption(option: "--image-size", reason: "\(imageSize) is not between \(range.lowerBound) and \(range.upperBound)")
        }
        if !Limits.batchSize.contains(batchSize) {
            throw .badOption(option: "--batch-size", reason: "\(batchSize) is not between \(Limits.batchSize.lowerBound) and \(Limits.batchSize.upperBound)")
        }
        if !(nearDuplicateThreshold > 0 && nearDuplicateThreshold <= 1) {
            throw .badOption(option: "--duplicate-threshold", reason: "\(nearDuplicateThreshold) is not above 0 and at most 1")
        }
    }

    /// Runs the audit. `message` gets one line per stage; `featureProgress` (done, total)
    /// after each batch of feature extraction.
    public func callAsFunction(message: (String) -> Void = { _ in },
                               featureProgress: (Int, Int) -> Void = { _, _ in }) throws -> LabelAuditResult {
        try validate()
        let started = Date()
        let folder = try ImageFolder(data)
        let counts = folder.countsPerClass
        guard counts.filter({ $0 > 0 }).count >= 2 else {
            throw AuditError.tooLittleData(path: folder.root.path, reason: "images in fewer than two classes (\(folder.classNames.joined(separator: ", "))); an audit compares classes")
        }
        guard folder.count >= folds else {
            throw AuditError.tooLittleData(path: folder.root.path, reason: "\(folder.count) images for --folds \(folds); use fewer folds")
        }
        let architecture = architecture!
        let side = imageSize ?? architecture.nativeInputSize
        let binder: WeightBinder
        if let weights {
            binder = try PretrainedWeights.binder(for: architecture, url: weights)
        } else {
            guard let installed = PretrainedWeights.installedDefault(for: architecture) else {
                throw TrainingError.noInstalledWeights(architecture.description)
            }
            binder = try PretrainedWeights.binder(for: architecture, url: installed)
        }
        let model = try TransferClassifier(architecture: architecture, classNames: folder.classNames, inputSize: side,
                                           head: HeadConfig(hiddenUnits: [], dropout: 0), base: binder, seed: seed)
        message("Features: \(folder.count) images in \(folder.classCount) classes through \(architecture) at \(side)x\(side)")
        // The head's first layer is the global average pooling: one feature vector per image.
        let features = try FrozenFeatures.compute(folder.items, network: model.network, through: model.baseLayerCount,
                                                  side: side, normalization: model.normalization,
                                                  batchSize: batchSize, progress: featureProgress)
        let featureSeconds = Date().timeIntervalSince(started)
        for failure in features.failures { message("skipped \(failure)") }
        let labels = features.files.map(\.label)
        guard Set(labels).count >= 2, labels.count >= folds else {
            throw AuditError.tooLittleData(path: folder.root.path, reason: "only \(labels.count) images decode, in \(Set(labels).count) classes")
        }

        message("Cross-validation: \(folds) folds of a softmax head on \(features.dimension) features")
        let crossValidationStart = Date()
        let probabilities = try StratifiedFolds.outOfFoldProbabilities(
            rows: features.values, dimension: features.dimension, labels: labels, classCount: folder.classCount,
            folds: folds, seed: seed, head: head)
        let crossValidationSeconds = Date().timeIntervalSince(crossValidationStart)

        let learning = try ConfidentLearning(labels: labels, probabilities: probabilities)
        let path = { (i: Int) in folder.relativePath(features.files[i].url) }
        let issues = learning.labelIssues().map { i -> LabelIssue in
            let suggestion = learning.suggestion(for: i)
            return LabelIssue(path: path(i), givenLabel: folder.classNames[labels[i]],
                              suggestedLabel: folder.classNames[suggestion.label],
                              suggestedProbability: suggestion.probability,
                              givenLabelProbability: learning.probabilities[i][labels[i]])
        }
        let correct = labels.indices.filter { ConfidentLearning.argmax(learning.probabilities[$0]) == labels[$0] }.count

        let near = try NearDuplicates.find(rows: features.values, dimension: features.dimension, labels: labels,
                                           threshold: nearDuplicateThreshold)
        let exact = IdenticalFiles.groups(features.files.map(\.url))
            .filter { Set($0.map { labels[$0] }).count > 1 }
            .map { $0.map(path) }
        return LabelAuditResult(
            data: folder.root.path, classNames: folder.classNames, backbone: architecture.description,
            imageSize: side, folds: folds, seed: seed, imageCount: labels.count,
            decodeFailures: features.failures, outOfFoldAccuracy: Double(correct) / Double(labels.count),
            thresholds: learning.thresholds, issues: issues,
            nearDuplicateThreshold: nearDuplicateThreshold,
            nearDuplicates: near.map {
                DuplicatePair(paths: [path($0.first), path($0.second)],
                              labels: [folder.classNames[labels[$0.first]], folder.classNames[labels[$0.second]]],
                              similarity: $0.similarity)
            },
            identicalFiles: exact,
            seconds: .init(features: featureSeconds, crossValidation: crossValidationSeconds,
                           total: Date().timeIntervalSince(started)))
    }
}

/// What an audit found; `petal data audit --json` prints it, `audit.json` holds it.
public struct LabelAuditResult: Codable, Sendable, Equatable {
    /// The dataset folder; every path below is relative to it.
    public var data: String
    public var classNames: [String]
    public var backbone: String
    public var imageSize: Int
    public var folds: Int
    public var seed: UInt64
    /// Images audited (those that decode).
    public var imageCount: Int
    public var decodeFailures: [DecodeFailure]
    /// How often the out-of-fold head agrees with the given label.
    public var outOfFoldAccuracy: Double
    /// Confident learning's per-class thresholds, in class order.
    public var thresholds: [Double]
    /// Likely mislabeled images, most likely first (lowest probability of the given label).
    public var issues: [LabelIssue]
    public var nearDuplicateThreshold: Double
    /// Cross-class pairs of near-identical images, most similar first.
    public var nearDuplicates: [DuplicatePair]
    /// Groups of byte-identical files under more than one class.
    public var identicalFiles: [[String]]
    public var seconds: Timings

    public struct Timings: Codable, Sendable, Equatable {
        public var features: Double
        public var crossValidation: Double
        public var total: Double
    }
}

/// An image whose label is likely wrong.
public struct LabelIssue: Codable, Sendable, Equatable {
    /// Relative to the dataset folder ("daisy/123.jpg").
    public var path: String
    public var givenLabel: String
    /// The class the out-of-fold head finds most likely, and its probability.
    public var suggestedLabel: String
    public var suggestedProbability: Double
    /// The out-of-fold probability of the given label (the ranking's key, cleanlab's self-confidence).
    public var givenLabelProbability: Double
}

/// Two images under different classes that look the same to the pretrained base.
public struct DuplicatePair: Codable, Sendable, Equatable {
    public var paths: [String]
    public var labels: [String]
    public var similarity: Double
}
