import Foundation
import PetalCore
import PetalData
import PetalTraining

/// The run folder's file names, as the report's notes name them (`RunFolder` owns them).
typealias RunFile = RunFolder.File

/// Errors of the evaluation stage; each message names the file and the problem.
public enum EvaluationError: Error, CustomStringConvertible, Equatable {
    case unreadableFile(path: String, reason: String)
    case inconsistentInput(String)

    public var description: String {
        switch self {
        case let .unreadableFile(path, reason): return "\(path): cannot read: \(reason)"
        case let .inconsistentInput(message): return message
        }
    }
}

extension EvaluationError: LocalizedError {
    public var errorDescription: String? { description }
}

/// What the data stage found: classes, images per class, split sizes and skipped files.
/// Saved as `dataset.json`.
public struct DatasetSummary: Codable, Sendable, Equatable {
    public struct SplitSizes: Codable, Sendable, Equatable {
        public var train: Int
        public var validation: Int
        public var test: Int
        public init(train: Int, validation: Int, test: Int) {
            self.train = train; self.validation = validation; self.test = test
        }
        public var total: Int { train + validation + test }
    }

    public struct SkippedFile: Codable, Sendable, Equatable {
        public var path: String
        public var reason: String
        public init(path: String, reason: String) { self.path = path; self.reason = reason }
    }

    /// The data folder the run read, for display.
    public var source: String?
    public var classNames: [String]
    /// Images per class, in the order of `classNames`.
    public var imagesPerClass: [Int]
    public var splits: SplitSizes
    /// Image files that could not be used (corrupt, truncated, unsupported), with why.
    public var skippedFiles: [SkippedFile]
    /// Files that were not images at all (README, .DS_Store, ...), only counted.
    public var ignoredNonImageCount: Int

    public init(source: String? = nil, classNames: [String], imagesPerClass: [Int], splits: SplitSizes,
                skippedFiles: [SkippedFile] = [], ignoredNonImageCount: Int = 0) {
        self.source = source; self.classNames = classNames; self.imagesPerClass = imagesPerClass
        self.splits = splits; self.skippedFiles = skippedFiles; self.ignoredNonImageCount = ignoredNonImageCount
    }
}

/// Wall-clock time per phase of a run. Saved as `timings.json`.
public struct RunTimings: Codable, Sendable, Equatable {
    public struct Phase: Codable, Sendable, Equatable {
        /// e.g. "feature-extraction", "fine-tuning", "evaluation".
        public var name: String
        public var seconds: Double
        public var imagesPerSecond: Double?
        public var epochs: Int?
        /// Peak resident memory in bytes: the phase's own when `peakMemoryPhaseOnly`, else the
        /// process's up to the phase's end.
        public var peakMemoryBytes: Int?
        public var peakMemoryPhaseOnly: Bool?
        public init(name: String, seconds: Double, imagesPerSecond: Double? = nil, epochs: Int? = nil,
                    peakMemoryBytes: Int? = nil, peakMemoryPhaseOnly: Bool? = nil) {
            self.name = name; self.seconds = seconds; self.imagesPerSecond = imagesPerSecond; self.epochs = epochs
            self.peakMemoryBytes = peakMemoryBytes; self.peakMemoryPhaseOnly = peakMemoryPhaseOnly
        }
    }
    public var phases: [Phase]
    public var totalSeconds: Double
    public init(phases: [Phase], totalSeconds: Double) { self.phases = phases; self.totalSeconds = totalSeconds }
}

/// One test image's prediction. Labels are indices into the class names of the
/// enclosing `PredictionSet`.
public struct PredictionRecord: Codable, Sendable, Equatable {
    /// The image file; absolute, or relative to the run folder.
    public var path: String
    public var trueLabel: Int
    public var predictedLabel: Int
    /// Softmax probabilities, one per class.
    public var probabilities: [Float]

    public init(path: String, trueLabel: Int, predictedLabel: Int, probabilities: [Float]) {
        self.path = path; self.trueLabel = trueLabel; self.predictedLabel = predictedLabel
        self.probabilities = probabilities
    }

    /// Makes a record whose predicted label is the arg-max of `probabilities`.
    public init(path: String, trueLabel: Int, probabilities: [Float]) {
        self.init(path: path, trueLabel: trueLabel, predictedLabel: argmax(probabilities), probabilities: probabilities)
    }

    /// The probability given to the predicted class.
    public var confidence: Float {
        probabilities.indices.contains(predictedLabel) ? probabilities[predictedLabel] : 0
    }
    public var isCorrect: Bool { trueLabel == predictedLabel }
}

/// The test predictions of a run with their class names. Saved as `predictions.json`.
public struct PredictionSet: Codable, Sendable, Equatable {
    public var classNames: [String]
    public var predictions: [PredictionRecord]
    public init(classNames: [String], predictions: [PredictionRecord]) {
        self.classNames = classNames; self.predictions = predictions
    }

    /// One record per file, with the model's probabilities for it (same order).
    public init(classNames: [String], files: [LabeledFile], probabilities: [[Float]]) {
        self.init(classNames: classNames, predictions: zip(files, probabilities).map {
            PredictionRecord(path: $0.0.url.path, trueLabel: $0.0.label, probabilities: $0.1)
        })
    }

    /// The metrics of these predictions; throws if labels or probability rows do not fit the classes.
    public func metrics(topK: Int = 2) throws -> EvaluationMetrics {
        try EvaluationMetrics(probabilities: predictions.map(\.probabilities),
                              labels: predictions.map(\.trueLabel), classNames: classNames, topK: topK)
    }
}

/// The first index of the largest value, like NumPy's `argmax`; 0 for an empty array.
func argmax(_ values: [Float]) -> Int {
    var best = 0
    for i in values.indices where values[i] > values[best] { best = i }
    return best
}

// MARK: - Reading run files

/// The files the report reads, typed; nil where a file is absent, a clear error where it is broken.
extension RunFolder {
    public func history() throws -> TrainingHistory? { try readIfPresent(TrainingHistory.self, from: .history) }
    public func dataset() throws -> DatasetSummary? { try readIfPresent(DatasetSummary.self, from: .dataset) }
    public func timings() throws -> RunTimings? { try readIfPresent(RunTimings.self, from: .timings) }
    public func predictions() throws -> PredictionSet? { try readIfPresent(PredictionSet.self, from: .predictions) }
    public func metrics() throws -> EvaluationMetrics? { try readIfPresent(EvaluationMetrics.self, from: .metrics) }
    /// The run's configuration as an arbitrary JSON object, if config.json exists.
    public func config() throws -> JSONValue? { try readIfPresent(JSONValue.self, from: .config) }
}
