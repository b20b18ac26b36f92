import Foundation
import PetalCore
import PetalData
import PetalTraining

/// The files a training run leaves in its folder. The report reads them; any that is
/// missing makes its section say so rather than failing the whole page.
public enum RunFile {
    public static let history = "history.json"
    public static let config = "config.json"
    public static let dataset = "dataset.json"
    public static let timings = "timings.json"
    public static let predictions = "predictions.json"
    public static let metrics = "metrics.json"
    public static let report = "report.html"
}

/// Errors of the evaluation stage; each message names the file and the problem.
public enum EvaluationError: Error, CustomStringConvertible, Equatable {
    case unreadableFile(path: String, reason: String)
    case invalidJSON(path: String, reason: String)
    case inconsistentInput(String)
    case notARunFolder(path: String)
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadableFile(path, reason): return "\(path): cannot read: \(reason)"
        case let .invalidJSON(path, reason): return "\(path): not valid JSON for this file: \(reason)"
        case let .inconsistentInput(message): return message
        case let .notARunFolder(path): return "\(path): not a run folder (no such directory)"
        case let .writeFailed(path, reason): return "\(path): cannot write: \(reason)"
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
        public init(name: String, seconds: Double, imagesPerSecond: Double? = nil, epochs: Int? = nil) {
            self.name = name; self.seconds = seconds; self.imagesPerSecond = imagesPerSecond; self.epochs = epochs
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

// MARK: - Reading and writing run files

/// JSON files of a run folder: written to a temporary name and renamed, so a reader never
/// sees half a file.
public enum RunFileIO {
    public static func write<T: Encodable>(_ value: T, to url: URL) throws {
        let data: Data
        do { data = try json(value) } catch {
            throw EvaluationError.writeFailed(path: url.path, reason: "\(error)")
        }
        try writeAtomically(data, to: url)
    }

    /// Pretty-printed JSON with sorted keys, as the run files are written.
    public static func json<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Non-finite numbers (a diverged loss) become strings instead of failing the write.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return try encoder.encode(value)
    }

    public static func writeAtomically(_ data: Data, to url: URL) throws {
        do {
            try data.writeAtomically(to: url)
        } catch let error as AtomicWriteError {
            throw EvaluationError.writeFailed(path: url.path, reason: error.reason)
        }
    }

    /// Reads `url` as `T`; nil if the file does not exist, a clear error if it is broken.
    public static func readIfPresent<T: Decodable>(_ type: T.Type, from url: URL) throws -> T? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        return try read(type, from: url)
    }

    public static func read<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw EvaluationError.unreadableFile(path: url.path, reason: error.localizedDescription)
        }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        do { return try decoder.decode(type, from: data) } catch {
            throw EvaluationError.invalidJSON(path: url.path, reason: describe(error))
        }
    }

    /// A one-line account of a decoding error, naming the key path that failed.
    static func describe(_ error: Error) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return keys.isEmpty ? "top level" : keys.joined(separator: ".")
        }
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            return "missing key '\(key.stringValue)' at \(path(context))"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return "\(context.debugDescription) at \(path(context))"
        case DecodingError.dataCorrupted(let context):
            return "\(context.debugDescription) at \(path(context))"
        default:
            return "\(error)"
        }
    }
}

/// A run folder and typed access to its files.
public struct RunFolder: Sendable {
    public let url: URL
    public init(_ url: URL) { self.url = url }

    public var name: String { url.standardizedFileURL.lastPathComponent }
    public func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    public func history() throws -> TrainingHistory? {
        try RunFileIO.readIfPresent(TrainingHistory.self, from: file(RunFile.history))
    }
    public func dataset() throws -> DatasetSummary? {
        try RunFileIO.readIfPresent(DatasetSummary.self, from: file(RunFile.dataset))
    }
    public func timings() throws -> RunTimings? {
        try RunFileIO.readIfPresent(RunTimings.self, from: file(RunFile.timings))
    }
    public func predictions() throws -> PredictionSet? {
        try RunFileIO.readIfPresent(PredictionSet.self, from: file(RunFile.predictions))
    }
    public func metrics() throws -> EvaluationMetrics? {
        try RunFileIO.readIfPresent(EvaluationMetrics.self, from: file(RunFile.metrics))
    }
    /// The run's configuration as an arbitrary JSON object, if config.json exists.
    public func config() throws -> JSONValue? {
        try RunFileIO.readIfPresent(JSONValue.self, from: file(RunFile.config))
    }

    /// Resolves a path from predictions.json: absolute as is, relative against the run folder.
    public func resolve(_ path: String) -> URL {
        path.hasPrefix("/") ? URL(fileURLWithPath: path) : url.appendingPathComponent(path)
    }
}
